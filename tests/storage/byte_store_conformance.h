// The conformance suite every ByteStore backend runs (restic-style: a backend's test file
// only builds a ByteStoreSuite and instantiates the suite with it).
#ifndef CARDVAULT_TESTS_STORAGE_BYTE_STORE_CONFORMANCE_H_
#define CARDVAULT_TESTS_STORAGE_BYTE_STORE_CONFORMANCE_H_

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "storage/byte_store.h"

namespace cardvault {

// How the suite gets byte stores of one backend.
struct ByteStoreSuite {
  std::string name;  // the test name suffix
  // Why the backend cannot run here (and what to install), or "": every test then skips.
  std::function<std::string()> unavailable = [] { return std::string(); };
  // A new, empty store under the (empty) directory `dir`, or in a place the suite removes.
  std::function<StatusOr<std::unique_ptr<ByteStore>>(const std::string& dir)> create;
  // The store `create` made for `dir`, opened again after the previous one was destroyed.
  std::function<StatusOr<std::unique_ptr<ByteStore>>(const std::string& dir)> reopen;
};

// Instantiate with INSTANTIATE_TEST_SUITE_P(Name, ByteStoreConformance,
// ::testing::Values(suite), ByteStoreSuiteName).
class ByteStoreConformance : public ::testing::TestWithParam<ByteStoreSuite> {
 protected:
  void SetUp() override;
  void TearDown() override;
  void Reopen();

  std::string dir_;
  std::unique_ptr<ByteStore> store_;
};

// Prints the suite by its name (gtest would print its bytes).
inline void PrintTo(const ByteStoreSuite& suite, std::ostream* os) { *os << suite.name; }

std::string ByteStoreSuiteName(const ::testing::TestParamInfo<ByteStoreSuite>& info);

}  // namespace cardvault

#endif  // CARDVAULT_TESTS_STORAGE_BYTE_STORE_CONFORMANCE_H_
