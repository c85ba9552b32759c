// SqliteObjectIndex under the ObjectIndex conformance suite (index.db in a directory).
#include "storage/sqlite_object_index.h"

#include "tests/storage/object_index_conformance.h"

namespace cardvault {
namespace {

StatusOr<std::unique_ptr<ObjectIndex>> OpenIndex(const std::string& dir) {
  CV_ASSIGN_OR_RETURN(auto index, SqliteObjectIndex::Open(dir + "/index.db"));
  return std::unique_ptr<ObjectIndex>(std::move(index));
}

INSTANTIATE_TEST_SUITE_P(Sqlite, ObjectIndexConformance,
                         ::testing::Values(ObjectIndexSuite{
                             .name = "Sqlite", .create = OpenIndex, .reopen = OpenIndex}),
                         ObjectIndexSuiteName);

}  // namespace
}  // namespace cardvault
