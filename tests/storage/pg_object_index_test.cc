// PgObjectIndex under the ObjectIndex conformance suite: one throwaway cluster for the
// binary (SharedPgCluster), a new database per test. Skipped, with what to install, when
// PostgreSQL is not installed.
#include "storage/pg_object_index.h"

#include "tests/storage/object_index_conformance.h"
#include "tests/storage/pg_cluster.h"

namespace cardvault {
namespace {

StatusOr<std::unique_ptr<ObjectIndex>> Open(const std::string& dir, bool create) {
  CV_ASSIGN_OR_RETURN(std::string conninfo, SharedDatabaseFor(dir, create));
  CV_ASSIGN_OR_RETURN(auto store, PgObjectIndex::Open(conninfo, {.pool_size = 4}));
  return std::unique_ptr<ObjectIndex>(std::move(store));
}

StatusOr<std::unique_ptr<ObjectIndex>> Create(const std::string& dir) { return Open(dir, true); }
StatusOr<std::unique_ptr<ObjectIndex>> Reopen(const std::string& dir) { return Open(dir, false); }

INSTANTIATE_TEST_SUITE_P(Postgres, ObjectIndexConformance,
                         ::testing::Values(ObjectIndexSuite{
                             .name = "Postgres",
                             .unavailable = SharedPgClusterUnavailable,
                             .create = Create,
                             .reopen = Reopen}),
                         ObjectIndexSuiteName);

}  // namespace
}  // namespace cardvault
