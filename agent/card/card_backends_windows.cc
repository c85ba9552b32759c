// OpenCardBackend on Windows: the CryptoAPI backend (core/capi). The only file under agent/
// that names a backend there; the build picks it (agent/CMakeLists.txt).
#include <memory>

#include "agent/card/card_backends.h"
#include "core/capi/capi_backend.h"

namespace cardvault {

StatusOr<std::unique_ptr<CardBackend>> OpenCardBackend(const CardBackendOptions& options) {
  // `module` is PKCS#11's (a config written on Linux may name one): not used here. The
  // container is chosen per operation, by the card selector's label. A named provider is
  // opened with the type it is registered with (the smart card CSP and most vendors' with
  // PROV_RSA_FULL, Microsoft's enhanced RSA and AES software CSP with PROV_RSA_AES).
  StatusOr<std::unique_ptr<CapiBackend>> backend =
      options.provider.empty()
          ? CapiBackend::New()
          : CapiBackend::New(options.provider, CapiBackend::kProvTypeRegistered);
  if (!backend.ok()) return std::move(backend).status();
  return std::unique_ptr<CardBackend>(std::move(backend).value());
}

std::string DefaultCardBackendHelp() {
  return std::string("The default provider is \"") + CapiBackend::kDefaultProvider +
         "\", which reaches every smart card with a Windows minidriver; --provider names "
         "another CryptoAPI provider (`certutil -csplist`).";
}

// The CryptoAPI provider shows its own PIN dialog when a private-key operation needs one.
std::shared_ptr<PinSource> InteractivePinSource() { return nullptr; }

}  // namespace cardvault
