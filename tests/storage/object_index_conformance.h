// The conformance suite every ObjectIndex backend runs (restic-style: a backend's test file
// only builds an ObjectIndexSuite and instantiates the suite with it).
#ifndef CARDVAULT_TESTS_STORAGE_OBJECT_INDEX_CONFORMANCE_H_
#define CARDVAULT_TESTS_STORAGE_OBJECT_INDEX_CONFORMANCE_H_

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "storage/object_index.h"

namespace cardvault {

// How the suite gets indexes of one backend.
struct ObjectIndexSuite {
  std::string name;  // the test name suffix
  // Why the backend cannot run here (and what to install), or "" when it can: every test
  // then skips with that message.
  std::function<std::string()> unavailable = [] { return std::string(); };
  // A new, empty index whose state lives under the (empty) directory `dir`, or in a place
  // the suite removes when it ends.
  std::function<StatusOr<std::unique_ptr<ObjectIndex>>(const std::string& dir)> create;
  // The index `create` made for `dir`, opened again after the previous one was destroyed.
  std::function<StatusOr<std::unique_ptr<ObjectIndex>>(const std::string& dir)> reopen;
};

// Instantiate with INSTANTIATE_TEST_SUITE_P(Name, ObjectIndexConformance,
// ::testing::Values(suite), ObjectIndexSuiteName).
class ObjectIndexConformance : public ::testing::TestWithParam<ObjectIndexSuite> {
 protected:
  void SetUp() override;
  void TearDown() override;
  // Destroys the index and opens it again through the suite's `reopen`.
  void Reopen();

  std::string dir_;
  std::unique_ptr<ObjectIndex> index_;
};

// Prints the suite by its name (gtest would print its bytes).
inline void PrintTo(const ObjectIndexSuite& suite, std::ostream* os) { *os << suite.name; }

std::string ObjectIndexSuiteName(const ::testing::TestParamInfo<ObjectIndexSuite>& info);

}  // namespace cardvault

#endif  // CARDVAULT_TESTS_STORAGE_OBJECT_INDEX_CONFORMANCE_H_
