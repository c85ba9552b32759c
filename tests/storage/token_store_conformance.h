// The conformance suite every TokenStore backend runs (restic-style: a backend's test file
// only builds a TokenStoreSuite and instantiates the suite with it).
#ifndef CARDVAULT_TESTS_STORAGE_TOKEN_STORE_CONFORMANCE_H_
#define CARDVAULT_TESTS_STORAGE_TOKEN_STORE_CONFORMANCE_H_

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "storage/token_store.h"

namespace cardvault {

struct TokenStoreSuite {
  std::string name;  // the test name suffix
  // Why the backend cannot run here (and what to install), or "": every test then skips.
  std::function<std::string()> unavailable = [] { return std::string(); };
  // A new, empty store under the (empty) directory `dir`, or in a place the suite removes.
  std::function<StatusOr<std::unique_ptr<TokenStore>>(const std::string& dir)> create;
  // The store `create` made for `dir`, opened again after the previous one was destroyed.
  std::function<StatusOr<std::unique_ptr<TokenStore>>(const std::string& dir)> reopen;
};

inline void PrintTo(const TokenStoreSuite& suite, std::ostream* os) { *os << suite.name; }

class TokenStoreConformance : public ::testing::TestWithParam<TokenStoreSuite> {
 protected:
  void SetUp() override;
  void TearDown() override;
  void Reopen();

  std::string dir_;
  std::unique_ptr<TokenStore> store_;
};

std::string TokenStoreSuiteName(const ::testing::TestParamInfo<TokenStoreSuite>& info);

}  // namespace cardvault

#endif  // CARDVAULT_TESTS_STORAGE_TOKEN_STORE_CONFORMANCE_H_
