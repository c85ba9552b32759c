// A PKCS#11 test module in front of SoftHSM2 that makes a token do what SoftHSM2 never
// does: a locked PIN, a last try, a PIN-pad reader, a card pulled or failing mid-operation,
// a card its driver has only partly read, a card that cannot generate keys. Controlled by
// environment variables (read at each call; call counts restart at C_Initialize):
//   CV_SHIM_TARGET     the real module (default: SoftHSM2)
//   CV_SHIM_FLAGS      token flags OR-ed into C_GetTokenInfo (decimal CKF_* bits)
//   CV_SHIM_PAD_PIN    with CKF_PROTECTED_AUTHENTICATION_PATH: the PIN the "pad" enters
//   CV_SHIM_LOG        file receiving one line per C_Login ("C_Login null" / "C_Login pin")
//   CV_SHIM_CALLS      file receiving one line per call of C_GetSlotList (filling a list),
//                      C_GetTokenInfo, C_FindObjectsInit, C_Login, C_Decrypt, C_DeriveKey,
//                      C_GetMechanismList and C_GenerateKeyPair (its name)
//   CV_SHIM_FAIL       "FUNC:FROM[-TO]:RV[:removed]", comma-separated: calls FROM..TO
//                      (1-based; no TO: every later call) of FUNC (C_Decrypt, C_DecryptInit,
//                      C_Login, C_DeriveKey) return RV (hex or decimal) without reaching
//                      SoftHSM2. With ":removed", the token is gone from then on
//                      (C_GetTokenInfo: CKR_TOKEN_NOT_PRESENT; C_GetSlotInfo: no token).
//   CV_SHIM_HIDE_ID    comma-separated CKA_IDs (hex), or "*": C_FindObjects leaves out the
//                      objects with those ids (a card its driver is still reading)
//   CV_SHIM_NO_KEYGEN  if set: C_GetMechanismList leaves out CKM_RSA_PKCS_KEY_PAIR_GEN and
//                      CKM_EC_KEY_PAIR_GEN, and C_GenerateKeyPair answers CKR_MECHANISM_INVALID
#include <dlfcn.h>
#include <p11-kit/pkcs11.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace {

CK_FUNCTION_LIST g_shim;
CK_FUNCTION_LIST_PTR g_real = nullptr;
std::mutex g_mu;
std::map<std::string, unsigned long> g_calls;  // guarded by g_mu
bool g_removed = false;                        // guarded by g_mu

const char* Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : nullptr;
}

CK_FLAGS ExtraFlags() {
  const char* f = Env("CV_SHIM_FLAGS");
  return f != nullptr ? std::strtoul(f, nullptr, 10) : 0;
}

std::vector<std::string> Split(const std::string& text, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == sep) {
      out.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

// Logs the call to CV_SHIM_CALLS, counts it and returns the injected failure, or CKR_OK.
CK_RV Enter(const char* function) {
  if (const char* log = Env("CV_SHIM_CALLS")) {
    if (FILE* f = std::fopen(log, "a")) {
      std::fprintf(f, "%s\n", function);
      std::fclose(f);
    }
  }
  std::lock_guard<std::mutex> lock(g_mu);
  const unsigned long n = ++g_calls[function];
  const char* spec = Env("CV_SHIM_FAIL");
  if (spec == nullptr) return CKR_OK;
  for (const std::string& rule : Split(spec, ',')) {
    std::vector<std::string> parts = Split(rule, ':');
    if (parts.size() < 3 || parts[0] != function) continue;
    std::vector<std::string> range = Split(parts[1], '-');
    const unsigned long from = std::strtoul(range[0].c_str(), nullptr, 10);
    const unsigned long to = range.size() > 1 ? std::strtoul(range[1].c_str(), nullptr, 10) : ~0UL;
    if (n < from || n > to) continue;
    if (parts.size() > 3 && parts[3] == "removed") g_removed = true;
    return std::strtoul(parts[2].c_str(), nullptr, 0);
  }
  return CKR_OK;
}

bool Removed() {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_removed;
}

CK_RV ShimInitialize(CK_VOID_PTR args) {
  {
    std::lock_guard<std::mutex> lock(g_mu);
    g_calls.clear();
    g_removed = false;
  }
  return g_real->C_Initialize(args);
}

CK_RV ShimGetSlotList(CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count) {
  if (list != nullptr) Enter("C_GetSlotList");
  return g_real->C_GetSlotList(present, list, count);
}

CK_RV ShimGetSlotInfo(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info) {
  CK_RV rv = g_real->C_GetSlotInfo(slot, info);
  if (rv == CKR_OK && Removed()) info->flags &= ~CKF_TOKEN_PRESENT;
  return rv;
}

CK_RV ShimGetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info) {
  Enter("C_GetTokenInfo");
  if (Removed()) return CKR_TOKEN_NOT_PRESENT;
  CK_RV rv = g_real->C_GetTokenInfo(slot, info);
  if (rv == CKR_OK) info->flags |= ExtraFlags();
  return rv;
}

CK_RV ShimLogin(CK_SESSION_HANDLE session, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin,
                CK_ULONG pin_len) {
  if (const char* log = Env("CV_SHIM_LOG")) {
    if (FILE* f = std::fopen(log, "a")) {
      std::fprintf(f, "C_Login %s\n", pin == nullptr ? "null" : "pin");
      std::fclose(f);
    }
  }
  if (CK_RV injected = Enter("C_Login"); injected != CKR_OK) return injected;
  const CK_FLAGS flags = ExtraFlags();
  if (flags & CKF_USER_PIN_LOCKED) return CKR_PIN_LOCKED;
  if (pin == nullptr && (flags & CKF_PROTECTED_AUTHENTICATION_PATH)) {
    const char* pad = Env("CV_SHIM_PAD_PIN");
    if (pad == nullptr) return CKR_FUNCTION_CANCELED;  // nobody typed on the pad
    return g_real->C_Login(session, user, reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(pad)),
                           std::strlen(pad));
  }
  return g_real->C_Login(session, user, pin, pin_len);
}

CK_RV ShimDecryptInit(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism, CK_OBJECT_HANDLE key) {
  if (CK_RV injected = Enter("C_DecryptInit"); injected != CKR_OK) return injected;
  return g_real->C_DecryptInit(session, mechanism, key);
}

CK_RV ShimDecrypt(CK_SESSION_HANDLE session, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                  CK_ULONG_PTR out_len) {
  if (CK_RV injected = Enter("C_Decrypt"); injected != CKR_OK) {
    // End the operation in SoftHSM2 as a failed C_Decrypt would.
    CK_BYTE scratch[1024];
    CK_ULONG scratch_len = sizeof(scratch);
    g_real->C_Decrypt(session, in, in_len, scratch, &scratch_len);
    return injected;
  }
  return g_real->C_Decrypt(session, in, in_len, out, out_len);
}

CK_RV ShimDeriveKey(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism, CK_OBJECT_HANDLE base,
                    CK_ATTRIBUTE_PTR tmpl, CK_ULONG count, CK_OBJECT_HANDLE_PTR key) {
  if (CK_RV injected = Enter("C_DeriveKey"); injected != CKR_OK) return injected;
  return g_real->C_DeriveKey(session, mechanism, base, tmpl, count, key);
}

CK_RV ShimFindObjectsInit(CK_SESSION_HANDLE session, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count) {
  Enter("C_FindObjectsInit");
  return g_real->C_FindObjectsInit(session, tmpl, count);
}

bool Hidden(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object) {
  const char* hide = Env("CV_SHIM_HIDE_ID");
  if (hide == nullptr) return false;
  if (std::strcmp(hide, "*") == 0) return true;
  unsigned char id[256];
  CK_ATTRIBUTE attr{CKA_ID, id, sizeof(id)};
  if (g_real->C_GetAttributeValue(session, object, &attr, 1) != CKR_OK) return false;
  std::string hex;
  for (CK_ULONG i = 0; i < attr.ulValueLen; ++i) {
    char byte[3];
    std::snprintf(byte, sizeof(byte), "%02x", id[i]);
    hex += byte;
  }
  for (const std::string& hidden : Split(hide, ',')) {
    if (hidden == hex) return true;
  }
  return false;
}

CK_RV ShimFindObjects(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE_PTR out, CK_ULONG max,
                      CK_ULONG_PTR count) {
  *count = 0;
  std::vector<CK_OBJECT_HANDLE> batch(max > 0 ? max : 1);
  for (int round = 0; round < 1000 && *count == 0; ++round) {
    CK_ULONG n = 0;
    CK_RV rv = g_real->C_FindObjects(session, batch.data(), max, &n);
    if (rv != CKR_OK || n == 0) return rv;
    for (CK_ULONG i = 0; i < n; ++i) {
      if (!Hidden(session, batch[i])) out[(*count)++] = batch[i];
    }
  }
  return CKR_OK;
}

CK_RV ShimGetMechanismList(CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count) {
  Enter("C_GetMechanismList");
  if (Env("CV_SHIM_NO_KEYGEN") == nullptr) return g_real->C_GetMechanismList(slot, list, count);
  CK_ULONG n = 0;
  CK_RV rv = g_real->C_GetMechanismList(slot, nullptr, &n);
  if (rv != CKR_OK) return rv;
  std::vector<CK_MECHANISM_TYPE> all(n);
  rv = g_real->C_GetMechanismList(slot, all.data(), &n);
  if (rv != CKR_OK) return rv;
  all.resize(n);
  std::vector<CK_MECHANISM_TYPE> kept;
  for (CK_MECHANISM_TYPE m : all) {
    if (m != CKM_RSA_PKCS_KEY_PAIR_GEN && m != CKM_EC_KEY_PAIR_GEN) kept.push_back(m);
  }
  if (list == nullptr) {
    *count = kept.size();
    return CKR_OK;
  }
  if (*count < kept.size()) {
    *count = kept.size();
    return CKR_BUFFER_TOO_SMALL;
  }
  std::memcpy(list, kept.data(), kept.size() * sizeof(CK_MECHANISM_TYPE));
  *count = kept.size();
  return CKR_OK;
}

CK_RV ShimGenerateKeyPair(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
                          CK_ATTRIBUTE_PTR pub, CK_ULONG pub_count, CK_ATTRIBUTE_PTR priv,
                          CK_ULONG priv_count, CK_OBJECT_HANDLE_PTR pub_key,
                          CK_OBJECT_HANDLE_PTR priv_key) {
  Enter("C_GenerateKeyPair");
  if (Env("CV_SHIM_NO_KEYGEN") != nullptr) return CKR_MECHANISM_INVALID;
  return g_real->C_GenerateKeyPair(session, mechanism, pub, pub_count, priv, priv_count, pub_key,
                                   priv_key);
}

}  // namespace

extern "C" CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list) {
  if (g_real == nullptr) {
    const char* target = Env("CV_SHIM_TARGET");
    void* h = dlopen(target != nullptr ? target : "/usr/lib/softhsm/libsofthsm2.so",
                     RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (h == nullptr) return CKR_GENERAL_ERROR;
    auto get = reinterpret_cast<CK_C_GetFunctionList>(dlsym(h, "C_GetFunctionList"));
    if (get == nullptr || get(&g_real) != CKR_OK) return CKR_GENERAL_ERROR;
    g_shim = *g_real;
    g_shim.C_Initialize = ShimInitialize;
    g_shim.C_GetSlotList = ShimGetSlotList;
    g_shim.C_GetSlotInfo = ShimGetSlotInfo;
    g_shim.C_GetTokenInfo = ShimGetTokenInfo;
    g_shim.C_Login = ShimLogin;
    g_shim.C_DecryptInit = ShimDecryptInit;
    g_shim.C_Decrypt = ShimDecrypt;
    g_shim.C_DeriveKey = ShimDeriveKey;
    g_shim.C_FindObjectsInit = ShimFindObjectsInit;
    g_shim.C_FindObjects = ShimFindObjects;
    g_shim.C_GetMechanismList = ShimGetMechanismList;
    g_shim.C_GenerateKeyPair = ShimGenerateKeyPair;
  }
  *list = &g_shim;
  return CKR_OK;
}
