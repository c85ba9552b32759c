// A PKCS#11 test module in front of SoftHSM2 that makes a token report what SoftHSM2 never
// does: a locked PIN, a last try, a PIN-pad reader. Controlled by environment variables:
//   CV_SHIM_TARGET     the real module (default: SoftHSM2)
//   CV_SHIM_FLAGS      token flags OR-ed into C_GetTokenInfo (decimal CKF_* bits)
//   CV_SHIM_PAD_PIN    with CKF_PROTECTED_AUTHENTICATION_PATH: the PIN the "pad" enters
//   CV_SHIM_LOG        file receiving one line per C_Login ("C_Login null" / "C_Login pin")
#include <dlfcn.h>
#include <p11-kit/pkcs11.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

CK_FUNCTION_LIST g_shim;
CK_FUNCTION_LIST_PTR g_real = nullptr;

const char* Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : nullptr;
}

CK_FLAGS ExtraFlags() {
  const char* f = Env("CV_SHIM_FLAGS");
  return f != nullptr ? std::strtoul(f, nullptr, 10) : 0;
}

CK_RV ShimGetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info) {
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
    g_shim.C_GetTokenInfo = ShimGetTokenInfo;
    g_shim.C_Login = ShimLogin;
  }
  *list = &g_shim;
  return CKR_OK;
}
