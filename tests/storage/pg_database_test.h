// PgDatabaseTest: a test fixture with a new database of its own on the binary's shared
// PostgreSQL cluster (SharedPgCluster); the test skips, saying what to install, when the
// cluster cannot start.
#ifndef CARDVAULT_TESTS_STORAGE_PG_DATABASE_TEST_H_
#define CARDVAULT_TESTS_STORAGE_PG_DATABASE_TEST_H_

#include <gtest/gtest.h>

#include <string>

#include "tests/storage/pg_cluster.h"

namespace cardvault {

class PgDatabaseTest : public ::testing::Test {
 protected:
  // A subclass's SetUp calls this first and returns when IsSkipped() || HasFatalFailure().
  void SetUp() override {
    auto conninfo = NewSharedDatabaseConnInfo();
    if (conninfo.status().code() == StatusCode::kUnsupported) {
      GTEST_SKIP() << conninfo.status().message();
    }
    ASSERT_TRUE(conninfo.ok()) << conninfo.status().ToString();
    conninfo_ = *conninfo;
  }

  std::string conninfo_;  // the libpq connection string of the test's database
};

}  // namespace cardvault

#endif  // CARDVAULT_TESTS_STORAGE_PG_DATABASE_TEST_H_
