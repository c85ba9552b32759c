// CapiContext: CryptAcquireContext and the few Crypt* calls on an RSA key exchange key.
#define WIN32_LEAN_AND_MEAN
#define NOMINMAX
#include <windows.h>
// clang-format off: wincrypt.h needs windows.h first.
#include <wincrypt.h>
// clang-format on

#include <algorithm>
#include <cstring>

#include "core/capi/capi_context.h"
#include "core/capi/capi_status.h"
#include "core/card/card_reasons.h"

namespace cardvault {
namespace {

constexpr size_t kMaxContainers = 4096;
constexpr DWORD kRsa1Magic = 0x31415352;  // "RSA1": an RSA public key blob

std::wstring Wide(const std::string& utf8) {
  if (utf8.empty()) return std::wstring();
  const int n =
      ::MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), nullptr, 0);
  std::wstring out(static_cast<size_t>(std::max(n, 0)), L'\0');
  if (n > 0) {
    ::MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), out.data(), n);
  }
  return out;
}

std::string Utf8(const std::wstring& wide) {
  if (wide.empty()) return std::string();
  const int n = ::WideCharToMultiByte(CP_UTF8, 0, wide.data(), static_cast<int>(wide.size()),
                                      nullptr, 0, nullptr, nullptr);
  std::string out(static_cast<size_t>(std::max(n, 0)), '\0');
  if (n > 0) {
    ::WideCharToMultiByte(CP_UTF8, 0, wide.data(), static_cast<int>(wide.size()), out.data(), n,
                          nullptr, nullptr);
  }
  return out;
}

// PP_ENUMCONTAINERS names are in the ANSI code page.
std::string AnsiToUtf8(const char* ansi) {
  const int n = ::MultiByteToWideChar(CP_ACP, 0, ansi, -1, nullptr, 0);
  if (n <= 1) return std::string();
  std::wstring wide(static_cast<size_t>(n), L'\0');
  ::MultiByteToWideChar(CP_ACP, 0, ansi, -1, wide.data(), n);
  wide.resize(static_cast<size_t>(n - 1));
  return Utf8(wide);
}

DWORD FlagsOf(CapiOpenMode mode) {
  switch (mode) {
    case CapiOpenMode::kSilent:
      return CRYPT_SILENT;
    case CapiOpenMode::kInteractive:
      return 0;
    case CapiOpenMode::kEnumerate:
      return CRYPT_VERIFYCONTEXT | CRYPT_SILENT;
    case CapiOpenMode::kCreateSilent:
      return CRYPT_NEWKEYSET | CRYPT_SILENT;
    case CapiOpenMode::kCreateInteractive:
      return CRYPT_NEWKEYSET;
  }
  return CRYPT_SILENT;
}

}  // namespace

StatusOr<std::unique_ptr<CapiContext>> CapiContext::Open(const CapiProvider& provider,
                                                         const std::string& container,
                                                         CapiOpenMode mode, uint32_t* error) {
  if ((mode == CapiOpenMode::kEnumerate) != container.empty()) {
    return InvalidArgumentError("a CryptoAPI key container name is needed, except for listing");
  }
  const std::wstring wide_container = Wide(container);
  const std::wstring wide_provider = Wide(provider.name);
  HCRYPTPROV handle = 0;
  if (!::CryptAcquireContextW(&handle, container.empty() ? nullptr : wide_container.c_str(),
                              wide_provider.c_str(), provider.type, FlagsOf(mode))) {
    const uint32_t code = static_cast<uint32_t>(::GetLastError());
    if (error != nullptr) *error = code;
    return CapiErrorToStatus(code, {"CryptAcquireContext", provider.name, container});
  }
  if (error != nullptr) *error = 0;
  return std::unique_ptr<CapiContext>(new CapiContext(provider, container, handle));
}

Status CapiContext::Delete(const CapiProvider& provider, const std::string& container) {
  const std::wstring wide_container = Wide(container);
  const std::wstring wide_provider = Wide(provider.name);
  HCRYPTPROV unused = 0;
  if (!::CryptAcquireContextW(&unused, wide_container.c_str(), wide_provider.c_str(), provider.type,
                              CRYPT_DELETEKEYSET | CRYPT_SILENT)) {
    return CapiErrorToStatus(static_cast<uint32_t>(::GetLastError()),
                             {"CryptAcquireContext(CRYPT_DELETEKEYSET)", provider.name, container});
  }
  return Status::Ok();
}

bool CapiContext::IsInstalled(const CapiProvider& provider) {
  const std::wstring wanted = Wide(provider.name);
  for (DWORD index = 0; index < 1024; ++index) {
    DWORD type = 0, size = 0;
    if (!::CryptEnumProvidersW(index, nullptr, 0, &type, nullptr, &size)) break;
    std::wstring name(size / sizeof(wchar_t) + 1, L'\0');
    if (!::CryptEnumProvidersW(index, nullptr, 0, &type, name.data(), &size)) break;
    name.resize(std::wcslen(name.c_str()));
    if (type == provider.type && _wcsicmp(name.c_str(), wanted.c_str()) == 0) return true;
  }
  return false;
}

CapiContext::~CapiContext() {
  if (user_key_ != 0) ::CryptDestroyKey(static_cast<HCRYPTKEY>(user_key_));
  ::CryptReleaseContext(static_cast<HCRYPTPROV>(handle_), 0);
}

Status CapiContext::Failure(const char* operation) {
  last_error_ = static_cast<uint32_t>(::GetLastError());
  return CapiErrorToStatus(last_error_, {operation, provider_.name, container_});
}

StatusOr<std::vector<std::string>> CapiContext::ListContainers() {
  const HCRYPTPROV prov = static_cast<HCRYPTPROV>(handle_);
  // The longest name first (PP_ENUMCONTAINERS with a null buffer), then each name.
  DWORD max_size = 0;
  if (!::CryptGetProvParam(prov, PP_ENUMCONTAINERS, nullptr, &max_size, CRYPT_FIRST)) {
    if (::GetLastError() == ERROR_NO_MORE_ITEMS) return std::vector<std::string>{};
    return Failure("CryptGetProvParam(PP_ENUMCONTAINERS)");
  }
  std::vector<char> buf(std::max<DWORD>(max_size, MAX_PATH) + 1, '\0');
  std::vector<std::string> names;
  DWORD flags = CRYPT_FIRST;
  while (names.size() < kMaxContainers) {
    DWORD size = static_cast<DWORD>(buf.size() - 1);
    if (!::CryptGetProvParam(prov, PP_ENUMCONTAINERS, reinterpret_cast<BYTE*>(buf.data()), &size,
                             flags)) {
      if (::GetLastError() == ERROR_NO_MORE_ITEMS) break;
      return Failure("CryptGetProvParam(PP_ENUMCONTAINERS)");
    }
    buf[std::min<size_t>(size, buf.size() - 1)] = '\0';
    names.push_back(AnsiToUtf8(buf.data()));
    flags = CRYPT_NEXT;
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

StatusOr<uintptr_t> CapiContext::UserKey() {
  if (user_key_ != 0) return user_key_;
  HCRYPTKEY key = 0;
  if (!::CryptGetUserKey(static_cast<HCRYPTPROV>(handle_), AT_KEYEXCHANGE, &key)) {
    return Failure("CryptGetUserKey(AT_KEYEXCHANGE)");
  }
  user_key_ = key;
  return user_key_;
}

StatusOr<CardPublicKey> CapiContext::ExchangePublicKey() {
  CV_ASSIGN_OR_RETURN(uintptr_t key, UserKey());
  DWORD size = 0;
  if (!::CryptExportKey(static_cast<HCRYPTKEY>(key), 0, PUBLICKEYBLOB, 0, nullptr, &size)) {
    return Failure("CryptExportKey(PUBLICKEYBLOB)");
  }
  Bytes blob(size);
  if (!::CryptExportKey(static_cast<HCRYPTKEY>(key), 0, PUBLICKEYBLOB, 0, blob.data(), &size)) {
    return Failure("CryptExportKey(PUBLICKEYBLOB)");
  }
  blob.resize(size);
  StatusOr<CardPublicKey> public_key = PublicKeyFromBlob(blob);
  if (!public_key.ok()) {
    return UnsupportedError("the key of container \"" + container_ +
                                "\" is not usable: " + public_key.status().message(),
                            kReasonMechanismUnsupported);
  }
  return public_key;
}

Status CapiContext::GenerateExchangeKey(int bits) {
  HCRYPTKEY key = 0;
  // The key size in the high word; no CRYPT_EXPORTABLE: the private key stays where it is made.
  if (!::CryptGenKey(static_cast<HCRYPTPROV>(handle_), AT_KEYEXCHANGE,
                     static_cast<DWORD>(bits) << 16, &key)) {
    return Failure("CryptGenKey(AT_KEYEXCHANGE)");
  }
  if (user_key_ != 0) ::CryptDestroyKey(static_cast<HCRYPTKEY>(user_key_));
  user_key_ = key;
  return Status::Ok();
}

StatusOr<bool> CapiContext::SetKeyExchangePin(const SecretData& pin) {
  // A NUL-terminated string, in wiping memory.
  SecretData text(pin.size() + 1);
  std::memcpy(text.data(), pin.data(), pin.size());
  if (::CryptSetProvParam(static_cast<HCRYPTPROV>(handle_), PP_KEYEXCHANGE_PIN, text.data(), 0)) {
    return true;
  }
  const DWORD error = ::GetLastError();
  if (error == 0 || error == static_cast<DWORD>(NTE_BAD_TYPE) ||
      error == static_cast<DWORD>(NTE_NOT_SUPPORTED)) {
    return false;
  }
  return Failure("CryptSetProvParam(PP_KEYEXCHANGE_PIN)");
}

StatusOr<SecretData> CapiContext::DecryptOaep(ByteView big_endian_ciphertext) {
  CV_ASSIGN_OR_RETURN(uintptr_t key, UserKey());
  SecretData buf = SecretData::CopyFrom(big_endian_ciphertext);
  std::reverse(buf.data(), buf.data() + buf.size());  // CryptoAPI is little-endian
  DWORD size = static_cast<DWORD>(buf.size());
  if (!::CryptDecrypt(static_cast<HCRYPTKEY>(key), 0, TRUE, CRYPT_OAEP, buf.data(), &size)) {
    return Failure("CryptDecrypt(CRYPT_OAEP)");
  }
  buf.Truncate(std::min<size_t>(size, buf.size()));
  return buf;
}

StatusOr<CardPublicKey> PublicKeyFromBlob(ByteView blob) {
  if (blob.size() < sizeof(BLOBHEADER) + sizeof(RSAPUBKEY)) {
    return InvalidArgumentError("the PUBLICKEYBLOB is too short");
  }
  BLOBHEADER header;
  RSAPUBKEY rsa;
  std::memcpy(&header, blob.data(), sizeof(header));
  std::memcpy(&rsa, blob.data() + sizeof(header), sizeof(rsa));
  if (header.bType != PUBLICKEYBLOB || rsa.magic != kRsa1Magic || rsa.bitlen % 8 != 0 ||
      blob.size() < sizeof(header) + sizeof(rsa) + rsa.bitlen / 8) {
    return InvalidArgumentError("not an RSA PUBLICKEYBLOB (only RSA key exchange keys are used)");
  }
  const uint8_t* little = blob.data() + sizeof(header) + sizeof(rsa);
  Bytes modulus(little, little + rsa.bitlen / 8);
  std::reverse(modulus.begin(), modulus.end());  // to big-endian
  Bytes exponent;
  for (int shift = 24; shift >= 0; shift -= 8) {
    const uint8_t byte = static_cast<uint8_t>(rsa.pubexp >> shift);
    if (!exponent.empty() || byte != 0) exponent.push_back(byte);
  }
  return CardPublicKey::FromRsa(modulus, exponent);
}

}  // namespace cardvault
