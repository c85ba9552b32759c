// Pkcs11Session implementation: session lifetime, login and object access.
#include "core/pkcs11/pkcs11_session.h"

#include <string>
#include <type_traits>
#include <utility>

#include "core/pkcs11/pkcs11_status.h"

namespace cardvault {

Pkcs11Session::Pkcs11Session(std::shared_ptr<Pkcs11Module> module, CK_SLOT_ID slot,
                             CK_SESSION_HANDLE handle)
    : module_(std::move(module)), slot_(slot), handle_(handle) {}

Pkcs11Session::~Pkcs11Session() {
  if (logged_in_ && module_->RemoveLogin(slot_)) functions()->C_Logout(handle_);
  functions()->C_CloseSession(handle_);
}

StatusOr<std::unique_ptr<Pkcs11Session>> Pkcs11Session::Open(std::shared_ptr<Pkcs11Module> module,
                                                             CK_SLOT_ID slot, Mode mode) {
  if (module == nullptr) return InvalidArgumentError("no PKCS#11 module");
  CK_FLAGS flags = CKF_SERIAL_SESSION | (mode == Mode::kReadWrite ? CKF_RW_SESSION : 0);
  CK_SESSION_HANDLE handle = CK_INVALID_HANDLE;
  CK_RV rv = module->functions()->C_OpenSession(slot, flags, nullptr, nullptr, &handle);
  if (rv != CKR_OK) return CkrToStatus(rv, "C_OpenSession");
  return std::unique_ptr<Pkcs11Session>(new Pkcs11Session(std::move(module), slot, handle));
}

bool Pkcs11Session::UserLoggedIn() const {
  CK_SESSION_INFO info{};
  if (functions()->C_GetSessionInfo(handle_, &info) != CKR_OK) return false;
  return info.state == CKS_RO_USER_FUNCTIONS || info.state == CKS_RW_USER_FUNCTIONS;
}

Status Pkcs11Session::Login(const SecretData* pin) {
  if (logged_in_) return Status::Ok();
  CK_RV rv = CKR_USER_ALREADY_LOGGED_IN;
  if (!UserLoggedIn()) {
    rv = pin == nullptr ? functions()->C_Login(handle_, CKU_USER, nullptr, 0)
                        : functions()->C_Login(handle_, CKU_USER,
                                               const_cast<CK_UTF8CHAR*>(pin->data()), pin->size());
  }
  if (IsCardFailure(rv)) return LoginFailure(rv);
  if (rv != CKR_USER_ALREADY_LOGGED_IN) CV_RETURN_IF_ERROR(CkrToStatus(rv, "C_Login"));
  logged_in_ = true;
  module_->AddLogin(slot_);
  return Status::Ok();
}

Status Pkcs11Session::LoginFailure(CK_RV rv) const {
  const std::string what = "C_Login returned " + CkrName(rv);
  CK_TOKEN_INFO info{};
  const bool present = functions()->C_GetTokenInfo(slot_, &info) == CKR_OK;
  if (!present || rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_PRESENT) {
    return UnavailableError("the card was removed during the PIN check (" + what +
                                "); the PIN was not retried: insert the card and run again",
                            kReasonCardRemoved);
  }
  if (rv == CKR_DEVICE_ERROR) {
    return UnavailableError("the card failed during the PIN check (" + what +
                                ") and is still inserted; the PIN was not retried: remove and "
                                "reinsert the card and run again",
                            kReasonCardFailed);
  }
  // Some cards behind OpenSC answer a wrong PIN with CKR_GENERAL_ERROR; so does a card that
  // failed or was pulled and pushed back. Never retried either way.
  return PermissionDeniedError(
      "wrong PIN, or the card was removed or failed (" + what +
          "); the PIN was not retried: check the PIN and that the card is firmly inserted "
          "before trying again (cards lock after a few wrong PINs)",
      kReasonLoginFailed);
}

StatusOr<CK_TOKEN_INFO> Pkcs11Session::TokenInfo() const {
  CK_TOKEN_INFO info{};
  CK_RV rv = functions()->C_GetTokenInfo(slot_, &info);
  if (rv != CKR_OK) return CkrToStatus(rv, "C_GetTokenInfo");
  return info;
}

StatusOr<std::vector<CK_OBJECT_HANDLE>> Pkcs11Session::FindObjects(
    std::span<CK_ATTRIBUTE> attributes, size_t max_objects) {
  CK_RV rv = functions()->C_FindObjectsInit(handle_, attributes.data(), attributes.size());
  if (rv != CKR_OK) return CkrToStatus(rv, "C_FindObjectsInit");
  std::vector<CK_OBJECT_HANDLE> found;
  Status status;
  while (found.size() < max_objects) {
    CK_OBJECT_HANDLE batch[16];
    CK_ULONG n = 0;
    rv = functions()->C_FindObjects(handle_, batch, 16, &n);
    if (rv != CKR_OK) {
      status = CkrToStatus(rv, "C_FindObjects");
      break;
    }
    if (n == 0) break;
    found.insert(found.end(), batch, batch + n);
  }
  functions()->C_FindObjectsFinal(handle_);
  CV_RETURN_IF_ERROR(status);
  if (found.size() > max_objects) found.resize(max_objects);
  return found;
}

template <typename Buffer>
Status Pkcs11Session::ReadAttribute(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type, Buffer& out) {
  CK_ATTRIBUTE attr{type, nullptr, 0};
  CK_RV rv = functions()->C_GetAttributeValue(handle_, object, &attr, 1);
  if (rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID ||
      attr.ulValueLen == CK_UNAVAILABLE_INFORMATION) {
    return NotFoundError(
        "the card object has no readable attribute 0x" +
        HexEncode(Bytes{static_cast<uint8_t>(type >> 8), static_cast<uint8_t>(type)}));
  }
  if (rv != CKR_OK) return CkrToStatus(rv, "C_GetAttributeValue");
  out = Buffer(attr.ulValueLen);
  attr.pValue = out.data();
  rv = functions()->C_GetAttributeValue(handle_, object, &attr, 1);
  if (rv != CKR_OK) return CkrToStatus(rv, "C_GetAttributeValue");
  if (attr.ulValueLen > out.size()) return InternalError("the card changed an attribute's size");
  if constexpr (std::is_same_v<Buffer, SecretData>) {
    out.Truncate(attr.ulValueLen);
  } else {
    out.resize(attr.ulValueLen);
  }
  return Status::Ok();
}

StatusOr<Bytes> Pkcs11Session::GetAttribute(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type) {
  Bytes out;
  CV_RETURN_IF_ERROR(ReadAttribute(object, type, out));
  return out;
}

StatusOr<SecretData> Pkcs11Session::GetSecretAttribute(CK_OBJECT_HANDLE object,
                                                       CK_ATTRIBUTE_TYPE type) {
  SecretData out;
  CV_RETURN_IF_ERROR(ReadAttribute(object, type, out));
  return out;
}

StatusOr<CK_ULONG> Pkcs11Session::GetUlongAttribute(CK_OBJECT_HANDLE object,
                                                    CK_ATTRIBUTE_TYPE type) {
  CK_ULONG value = 0;
  CK_ATTRIBUTE attr{type, &value, sizeof(value)};
  CK_RV rv = functions()->C_GetAttributeValue(handle_, object, &attr, 1);
  if (rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID ||
      attr.ulValueLen != sizeof(value)) {
    return NotFoundError("the card object has no readable numeric attribute");
  }
  if (rv != CKR_OK) return CkrToStatus(rv, "C_GetAttributeValue");
  return value;
}

StatusOr<bool> Pkcs11Session::GetBoolAttribute(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type) {
  CK_BBOOL value = CK_FALSE;
  CK_ATTRIBUTE attr{type, &value, sizeof(value)};
  CK_RV rv = functions()->C_GetAttributeValue(handle_, object, &attr, 1);
  if (rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID ||
      attr.ulValueLen != sizeof(value)) {
    return NotFoundError("the card object has no readable boolean attribute");
  }
  if (rv != CKR_OK) return CkrToStatus(rv, "C_GetAttributeValue");
  return value == CK_TRUE;
}

Status Pkcs11Session::DestroyObject(CK_OBJECT_HANDLE object) {
  return CkrToStatus(functions()->C_DestroyObject(handle_, object), "C_DestroyObject");
}

}  // namespace cardvault
