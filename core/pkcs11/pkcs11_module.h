// Pkcs11Module: a PKCS#11 module (a card's driver library) loaded and initialized.
#ifndef CARDVAULT_CORE_PKCS11_PKCS11_MODULE_H_
#define CARDVAULT_CORE_PKCS11_PKCS11_MODULE_H_

#include <p11-kit/pkcs11.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/status_or.h"

namespace cardvault {

// p11-kit's proxy module: every module the system registered, used when none is given.
inline constexpr char kDefaultPkcs11Module[] = "/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so";

// A module loaded with dlopen, its function list, initialized with C_Initialize
// (CKF_OS_LOCKING_OK) and finalized with C_Finalize when the last reference goes away.
//
// Lifetime: Open() returns a shared handle. Within a process there is at most one live
// Pkcs11Module per path (PKCS#11 allows one C_Initialize per module and process): opening a
// path that is already open returns the same object. Sessions and identities keep a
// reference, so the module outlives them. If another component of the process had already
// initialized the module, it is used but not finalized.
//
// Thread safety: PKCS#11 calls may be made from several threads (the module was told to
// use OS locking); the login counts are guarded by a mutex.
class Pkcs11Module {
 public:
  // Loads the module at `path` (kDefaultPkcs11Module if empty). kNotFound with reason
  // "module_missing" if the file does not exist or is not a PKCS#11 module.
  static StatusOr<std::shared_ptr<Pkcs11Module>> Open(const std::string& path = {});

  ~Pkcs11Module();
  Pkcs11Module(const Pkcs11Module&) = delete;
  Pkcs11Module& operator=(const Pkcs11Module&) = delete;

  // The function list; valid as long as this object lives.
  CK_FUNCTION_LIST* functions() const { return functions_; }
  const std::string& path() const { return path_; }

  // Slots that currently hold a token.
  StatusOr<std::vector<CK_SLOT_ID>> SlotsWithToken() const;

  // PKCS#11 login state is shared by every session of the process on a token. Sessions
  // count their logins here so that only the last one to go logs the token out.
  void AddLogin(CK_SLOT_ID slot);
  // Returns true if that was the last login on `slot` (the caller then calls C_Logout).
  bool RemoveLogin(CK_SLOT_ID slot);

 private:
  Pkcs11Module(std::string path, void* handle, CK_FUNCTION_LIST* functions, bool finalize);

  std::string path_;
  void* handle_;
  CK_FUNCTION_LIST* functions_;
  bool finalize_;
  std::mutex mu_;
  std::map<CK_SLOT_ID, int> logins_;  // guarded by mu_
};

}  // namespace cardvault

#endif  // CARDVAULT_CORE_PKCS11_PKCS11_MODULE_H_
