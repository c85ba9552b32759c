// PgTokenStore under the TokenStore conformance suite: a new database per test on the
// binary's throwaway cluster. Skipped, with what to install, when PostgreSQL is missing.
#include "storage/pg_token_store.h"

#include "tests/storage/pg_cluster.h"
#include "tests/storage/token_store_conformance.h"

namespace cardvault {
namespace {

StatusOr<std::unique_ptr<TokenStore>> Open(const std::string& dir, bool create) {
  CV_ASSIGN_OR_RETURN(std::string conninfo, SharedDatabaseFor(dir, create));
  CV_ASSIGN_OR_RETURN(auto store, PgTokenStore::Open(Env::Default(), conninfo, {.pool_size = 2}));
  return std::unique_ptr<TokenStore>(std::move(store));
}

StatusOr<std::unique_ptr<TokenStore>> Create(const std::string& dir) { return Open(dir, true); }
StatusOr<std::unique_ptr<TokenStore>> Reopen(const std::string& dir) { return Open(dir, false); }

INSTANTIATE_TEST_SUITE_P(Postgres, TokenStoreConformance,
                         ::testing::Values(TokenStoreSuite{
                             .name = "Postgres",
                             .unavailable = SharedPgClusterUnavailable,
                             .create = Create,
                             .reopen = Reopen}),
                         TokenStoreSuiteName);

}  // namespace
}  // namespace cardvault
