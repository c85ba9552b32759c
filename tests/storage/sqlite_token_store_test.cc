// SqliteTokenStore under the TokenStore conformance suite (auth.db in a directory).
#include "storage/sqlite_token_store.h"

#include "tests/storage/token_store_conformance.h"

namespace cardvault {
namespace {

StatusOr<std::unique_ptr<TokenStore>> OpenStore(const std::string& dir) {
  CV_ASSIGN_OR_RETURN(auto store, SqliteTokenStore::Open(Env::Default(), dir + "/auth.db"));
  return std::unique_ptr<TokenStore>(std::move(store));
}

INSTANTIATE_TEST_SUITE_P(Sqlite, TokenStoreConformance,
                         ::testing::Values(TokenStoreSuite{
                             .name = "Sqlite", .create = OpenStore, .reopen = OpenStore}),
                         TokenStoreSuiteName);

}  // namespace
}  // namespace cardvault
