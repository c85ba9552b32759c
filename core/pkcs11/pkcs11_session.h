// Pkcs11Session: an open PKCS#11 session on one token, with its login state.
#ifndef CARDVAULT_CORE_PKCS11_PKCS11_SESSION_H_
#define CARDVAULT_CORE_PKCS11_PKCS11_SESSION_H_

#include <p11-kit/pkcs11.h>

#include <memory>
#include <span>
#include <vector>

#include "core/bytes.h"
#include "core/pkcs11/pkcs11_module.h"
#include "core/secret_data.h"
#include "core/status_or.h"

namespace cardvault {

// A session opened with C_OpenSession and closed with C_CloseSession when destroyed.
// Login is RAII too, with PKCS#11's twist that login state is shared by all sessions of
// the process on one token: a session logged in by Login() counts in its module, and the
// last such session to be destroyed calls C_Logout. Holds a reference to its module.
//
class Pkcs11Session {
 public:
  enum class Mode { kReadOnly, kReadWrite };

  // kUnavailable "card_absent" if the slot holds no token.
  static StatusOr<std::unique_ptr<Pkcs11Session>> Open(std::shared_ptr<Pkcs11Module> module,
                                                       CK_SLOT_ID slot,
                                                       Mode mode = Mode::kReadOnly);
  ~Pkcs11Session();
  Pkcs11Session(const Pkcs11Session&) = delete;
  Pkcs11Session& operator=(const Pkcs11Session&) = delete;

  // Logs the user in with `pin`, or through the reader's protected authentication path
  // (PIN pad, C_Login with a NULL PIN) if `pin` is null. Makes at most one C_Login call
  // and never retries; none if the token is already logged in (UserLoggedIn()). When C_Login
  // answers a card failure (IsCardFailure), the slot is re-checked: kUnavailable
  // "card_removed" if the token is gone, kUnavailable "card_failed" for CKR_DEVICE_ERROR,
  // else kPermissionDenied "login_failed" ("wrong PIN, or the card was removed or failed").
  Status Login(const SecretData* pin);
  bool logged_in() const { return logged_in_; }
  // Whether the token is logged in for this process already (C_GetSessionInfo state),
  // e.g. by another session: then Login needs no PIN.
  bool UserLoggedIn() const;

  StatusOr<CK_TOKEN_INFO> TokenInfo() const;

  // Object handles matching `attributes` (at most `max_objects`).
  StatusOr<std::vector<CK_OBJECT_HANDLE>> FindObjects(std::span<CK_ATTRIBUTE> attributes,
                                                      size_t max_objects = 256);
  // One attribute's value. kNotFound if the object lacks it or it is sensitive.
  StatusOr<Bytes> GetAttribute(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type);
  // As GetAttribute, into wiping memory, for key material.
  StatusOr<SecretData> GetSecretAttribute(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type);
  StatusOr<CK_ULONG> GetUlongAttribute(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type);
  StatusOr<bool> GetBoolAttribute(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type);
  Status DestroyObject(CK_OBJECT_HANDLE object);

  CK_FUNCTION_LIST* functions() const { return module_->functions(); }
  CK_SESSION_HANDLE handle() const { return handle_; }
  CK_SLOT_ID slot() const { return slot_; }
  const std::shared_ptr<Pkcs11Module>& module() const { return module_; }

 private:
  Pkcs11Session(std::shared_ptr<Pkcs11Module> module, CK_SLOT_ID slot, CK_SESSION_HANDLE handle);
  // The Status for a C_Login answer `rv` with IsCardFailure(rv) (see Login).
  Status LoginFailure(CK_RV rv) const;
  // Reads an attribute into `out` after sizing it; `out` is resized to the value's length.
  template <typename Buffer>
  Status ReadAttribute(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type, Buffer& out);

  std::shared_ptr<Pkcs11Module> module_;
  CK_SLOT_ID slot_;
  CK_SESSION_HANDLE handle_;
  bool logged_in_ = false;  // counted in module_'s logins
};

}  // namespace cardvault

#endif  // CARDVAULT_CORE_PKCS11_PKCS11_SESSION_H_
