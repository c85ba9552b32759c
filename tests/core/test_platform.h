// What the core tests need to know about the platform they run on (POSIX or Windows), so the
// test files themselves stay free of #ifdefs.
#ifndef CARDVAULT_TESTS_CORE_TEST_PLATFORM_H_
#define CARDVAULT_TESTS_CORE_TEST_PLATFORM_H_

#include <cstdint>
#include <string>

namespace cardvault {

// Creates a new empty directory under the system's temporary directory, named `prefix` and a
// random suffix, and returns its path with '/' separators. The caller removes it.
std::string NewTempDir(const std::string& prefix);

// Whether Env keeps POSIX permission bits (false on Windows: docs/windows.md).
bool KeepsPosixModes();

// Whether this Windows program runs under Wine (false on Linux and on real Windows), for
// the few Wine bugs a test must step around, saying so.
bool RunningUnderWine();

// The resolution of file times: 1 ns on Linux, 100 ns on Windows (FILETIME).
int64_t FileTimeResolutionNs();

// `mtime_ns` as the file system stores it (rounded down to FileTimeResolutionNs()).
inline int64_t StoredMtime(int64_t mtime_ns) {
  const int64_t r = FileTimeResolutionNs();
  return mtime_ns / r * r;
}

}  // namespace cardvault

#endif  // CARDVAULT_TESTS_CORE_TEST_PLATFORM_H_
