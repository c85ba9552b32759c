// Pkcs11Module implementation: dlopen, C_GetFunctionList, C_Initialize and C_Finalize.
#include "core/pkcs11/pkcs11_module.h"

#include <dlfcn.h>

#include <map>
#include <mutex>
#include <utility>

#include "core/pkcs11/pkcs11_status.h"

namespace cardvault {
namespace {

// Open modules by path, so that a module is initialized once per process.
std::mutex& RegistryMutex() {
  static std::mutex mu;
  return mu;
}
std::map<std::string, std::weak_ptr<Pkcs11Module>>& Registry() {
  static auto* registry = new std::map<std::string, std::weak_ptr<Pkcs11Module>>();
  return *registry;
}

}  // namespace

Pkcs11Module::Pkcs11Module(std::string path, void* handle, CK_FUNCTION_LIST* functions,
                           bool finalize)
    : path_(std::move(path)), handle_(handle), functions_(functions), finalize_(finalize) {}

Pkcs11Module::~Pkcs11Module() {
  // Under the registry lock, so that a concurrent Open() of the same path initializes the
  // module only after this C_Finalize.
  std::lock_guard<std::mutex> lock(RegistryMutex());
  if (finalize_) functions_->C_Finalize(nullptr);
  dlclose(handle_);
}

StatusOr<std::shared_ptr<Pkcs11Module>> Pkcs11Module::Open(const std::string& path_arg) {
  const std::string path = path_arg.empty() ? std::string(kDefaultPkcs11Module) : path_arg;
  std::lock_guard<std::mutex> lock(RegistryMutex());
  auto& registry = Registry();
  if (auto it = registry.find(path); it != registry.end()) {
    if (auto live = it->second.lock()) return live;
    registry.erase(it);
  }

  // RTLD_NODELETE: a module stays mapped after C_Finalize and dlclose. Modules may leave
  // threads or atexit handlers behind that crash once their code is unmapped, and leak
  // reports from a module's own allocations stay attributable to it.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (handle == nullptr) {
    const char* err = dlerror();
    return NotFoundError("cannot load the PKCS#11 module " + path + ": " +
                             (err != nullptr ? err : "unknown error") +
                             "; install the card's PKCS#11 driver or pass its path",
                         kReasonModuleMissing);
  }
  auto get_list = reinterpret_cast<CK_C_GetFunctionList>(dlsym(handle, "C_GetFunctionList"));
  CK_FUNCTION_LIST* functions = nullptr;
  if (get_list == nullptr || get_list(&functions) != CKR_OK || functions == nullptr) {
    dlclose(handle);
    return NotFoundError(path + " is not a PKCS#11 module (no usable C_GetFunctionList)",
                         kReasonModuleMissing);
  }
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  CK_RV rv = functions->C_Initialize(&args);
  if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
    dlclose(handle);
    return CkrToStatus(rv, "C_Initialize").WithContext("PKCS#11 module " + path);
  }
  std::shared_ptr<Pkcs11Module> module(
      new Pkcs11Module(path, handle, functions, /*finalize=*/rv == CKR_OK));
  registry[path] = module;
  return module;
}

void Pkcs11Module::AddLogin(CK_SLOT_ID slot) {
  std::lock_guard<std::mutex> lock(mu_);
  ++logins_[slot];
}

bool Pkcs11Module::RemoveLogin(CK_SLOT_ID slot) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = logins_.find(slot);
  if (it == logins_.end()) return false;
  if (--it->second > 0) return false;
  logins_.erase(it);
  return true;
}

StatusOr<std::vector<CK_SLOT_ID>> Pkcs11Module::SlotsWithToken() const {
  // The slot count may change between the two calls; retry while the buffer is too small.
  for (int attempt = 0; attempt < 4; ++attempt) {
    CK_ULONG count = 0;
    CK_RV rv = functions_->C_GetSlotList(CK_TRUE, nullptr, &count);
    if (rv != CKR_OK) return CkrToStatus(rv, "C_GetSlotList");
    std::vector<CK_SLOT_ID> slots(count);
    if (count == 0) return slots;
    rv = functions_->C_GetSlotList(CK_TRUE, slots.data(), &count);
    if (rv == CKR_BUFFER_TOO_SMALL) continue;
    if (rv != CKR_OK) return CkrToStatus(rv, "C_GetSlotList");
    slots.resize(count);
    return slots;
  }
  return UnavailableError("the list of card slots kept changing", kReasonCardAbsent);
}

}  // namespace cardvault
