// OpenCardBackend on Linux: the PKCS#11 backend (core/pkcs11). The only file under agent/
// that names a backend; the build picks it (agent/CMakeLists.txt).
#include "agent/card/card_backends.h"

#include "agent/card/pinentry_pin_source.h"
#include "core/pkcs11/pkcs11_backend.h"
#include "core/pkcs11/pkcs11_module.h"

namespace cardvault {

StatusOr<std::unique_ptr<CardBackend>> OpenCardBackend(const CardBackendOptions& options) {
  return Pkcs11Backend::New(options.module);
}

std::string DefaultCardBackendHelp() {
  return "The default module is p11-kit's proxy (" + std::string(kDefaultPkcs11Module) +
         "), which reaches every registered card driver.";
}

std::shared_ptr<PinSource> InteractivePinSource() { return std::make_shared<PinentryPinSource>(); }

}  // namespace cardvault
