// PgTokenStore under the TokenStore conformance suite: a new database per test on the
// binary's throwaway cluster. Skipped, with what to install, when PostgreSQL is missing.
#include "storage/pg_token_store.h"

#include <map>
#include <mutex>

#include "tests/storage/pg_cluster.h"
#include "tests/storage/token_store_conformance.h"

namespace cardvault {
namespace {

std::mutex mu;
std::map<std::string, std::string> dbs;  // test directory -> its database

std::string Unavailable() {
  std::string why_not;
  SharedPgCluster(&why_not);
  return why_not;
}

StatusOr<std::unique_ptr<TokenStore>> Open(const std::string& db) {
  std::string why_not;
  PgCluster* cluster = SharedPgCluster(&why_not);
  CV_ASSIGN_OR_RETURN(auto store,
                      PgTokenStore::Open(Env::Default(), cluster->ConnInfo(db), {.pool_size = 2}));
  return std::unique_ptr<TokenStore>(std::move(store));
}

StatusOr<std::unique_ptr<TokenStore>> Create(const std::string& dir) {
  CV_ASSIGN_OR_RETURN(std::string db, NewSharedDatabase());
  {
    std::lock_guard lock(mu);
    dbs[dir] = db;
  }
  return Open(db);
}

StatusOr<std::unique_ptr<TokenStore>> Reopen(const std::string& dir) {
  std::string db;
  {
    std::lock_guard lock(mu);
    db = dbs.at(dir);
  }
  return Open(db);
}

INSTANTIATE_TEST_SUITE_P(
    Postgres, TokenStoreConformance,
    ::testing::Values(TokenStoreSuite{
        .name = "Postgres", .unavailable = Unavailable, .create = Create, .reopen = Reopen}),
    TokenStoreSuiteName);

}  // namespace
}  // namespace cardvault
