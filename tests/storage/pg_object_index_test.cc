// PgObjectIndex under the ObjectIndex conformance suite: one throwaway cluster for the
// binary (SharedPgCluster), a new database per test. Skipped, with what to install, when
// PostgreSQL is not installed.
#include "storage/pg_object_index.h"

#include <map>
#include <mutex>

#include "tests/storage/object_index_conformance.h"
#include "tests/storage/pg_cluster.h"

namespace cardvault {
namespace {

std::mutex mu;
std::map<std::string, std::string> dbs;  // test directory -> its database

std::string Unavailable() {
  std::string why_not;
  SharedPgCluster(&why_not);
  return why_not;
}

StatusOr<std::unique_ptr<ObjectIndex>> Open(const std::string& db) {
  std::string why_not;
  PgCluster* cluster = SharedPgCluster(&why_not);
  CV_ASSIGN_OR_RETURN(auto index, PgObjectIndex::Open(cluster->ConnInfo(db), {.pool_size = 4}));
  return std::unique_ptr<ObjectIndex>(std::move(index));
}

StatusOr<std::unique_ptr<ObjectIndex>> Create(const std::string& dir) {
  CV_ASSIGN_OR_RETURN(std::string db, NewSharedDatabase());
  {
    std::lock_guard lock(mu);
    dbs[dir] = db;
  }
  return Open(db);
}

StatusOr<std::unique_ptr<ObjectIndex>> Reopen(const std::string& dir) {
  std::string db;
  {
    std::lock_guard lock(mu);
    db = dbs.at(dir);
  }
  return Open(db);
}

INSTANTIATE_TEST_SUITE_P(
    Postgres, ObjectIndexConformance,
    ::testing::Values(ObjectIndexSuite{
        .name = "Postgres", .unavailable = Unavailable, .create = Create, .reopen = Reopen}),
    ObjectIndexSuiteName);

}  // namespace
}  // namespace cardvault
