// OpenCardBackend on Windows: the CryptoAPI backend (core/capi). The only file under agent/
// that names a backend there; the build picks it (agent/CMakeLists.txt).
#include <memory>

#include "agent/card/card_backends.h"
#include "core/capi/capi_backend.h"
#include "core/capi/capi_context.h"

namespace cardvault {

StatusOr<std::unique_ptr<CardBackend>> OpenCardBackend(const CardBackendOptions& options) {
  const std::string name =
      options.provider.empty() ? std::string(CapiBackend::kDefaultProvider) : options.provider;
  // A provider is registered with one type: the smart card CSP (and most card vendors')
  // with PROV_RSA_FULL, Microsoft's enhanced RSA and AES software CSP with PROV_RSA_AES.
  for (uint32_t type : {CapiBackend::kProvRsaFull, CapiBackend::kProvRsaAes}) {
    if (CapiContext::IsInstalled(CapiProvider{name, type})) {
      CV_ASSIGN_OR_RETURN(std::unique_ptr<CapiBackend> backend, CapiBackend::New(name, type));
      return std::unique_ptr<CardBackend>(std::move(backend));
    }
  }
  // Not installed: CapiBackend says so (module_missing) with the provider's name.
  CV_ASSIGN_OR_RETURN(std::unique_ptr<CapiBackend> backend, CapiBackend::New(name));
  return std::unique_ptr<CardBackend>(std::move(backend));
}

std::string DefaultCardBackendHelp() {
  return "The default provider is the \"" + std::string(CapiBackend::kDefaultProvider) +
         "\" (CryptoAPI); --provider names another.";
}

// The CryptoAPI provider shows its own PIN dialog when a private-key operation needs one.
std::shared_ptr<PinSource> InteractivePinSource() { return nullptr; }

}  // namespace cardvault
