// EnvTestBase: a fresh temporary directory per test and the operating system's Env, for the
// Env tests shared by both systems (env_test.cc) and the POSIX-only ones (posix_env_test.cc).
#ifndef CARDVAULT_TESTS_CORE_ENV_TEST_FIXTURE_H_
#define CARDVAULT_TESTS_CORE_ENV_TEST_FIXTURE_H_

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "core/env.h"
#include "tests/core/test_platform.h"

namespace cardvault {

class EnvTestBase : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = NewTempDir("cv-env-test"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Path(const std::string& name) { return dir_ + "/" + name; }

  std::string dir_;
  Env* env_ = Env::Default();
};

}  // namespace cardvault

#endif  // CARDVAULT_TESTS_CORE_ENV_TEST_FIXTURE_H_
