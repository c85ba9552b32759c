// The platform facts of test_platform.h: the one place the core tests tell Windows apart.
#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#define NOMINMAX
#include <windows.h>
#endif
// clang-format off: after windows.h
#include "tests/core/test_platform.h"
// clang-format on

#include <filesystem>
#include <random>
#include <stdexcept>

namespace cardvault {

std::string NewTempDir(const std::string& prefix) {
  std::random_device random;
  const std::filesystem::path base = std::filesystem::temp_directory_path();
  for (int attempt = 0; attempt < 100; ++attempt) {
    const std::filesystem::path dir = base / (prefix + "-" + std::to_string(random()));
    if (std::filesystem::create_directory(dir)) {
      const std::u8string utf8 = dir.generic_u8string();
      return std::string(utf8.begin(), utf8.end());
    }
  }
  throw std::runtime_error("cannot create a temporary directory under " + base.string());
}

#ifdef _WIN32
bool RunningUnderWine() {
  // Wine's ntdll exports wine_get_version; Windows' does not.
  const HMODULE ntdll = ::GetModuleHandleW(L"ntdll.dll");
  return ntdll != nullptr && ::GetProcAddress(ntdll, "wine_get_version") != nullptr;
}
bool KeepsPosixModes() { return false; }
int64_t FileTimeResolutionNs() { return 100; }
#else
bool RunningUnderWine() { return false; }
bool KeepsPosixModes() { return true; }
int64_t FileTimeResolutionNs() { return 1; }
#endif

}  // namespace cardvault
