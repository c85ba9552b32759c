// The platform facts of test_platform.h: the one place the core tests tell Windows apart.
#include "tests/core/test_platform.h"

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
bool KeepsPosixModes() { return false; }
int64_t FileTimeResolutionNs() { return 100; }
#else
bool KeepsPosixModes() { return true; }
int64_t FileTimeResolutionNs() { return 1; }
#endif

}  // namespace cardvault
