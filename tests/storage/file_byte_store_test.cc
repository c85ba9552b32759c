// FileByteStore under the ByteStore conformance suite (tmp/ and blobs/ in a directory).
#include "storage/file_byte_store.h"

#include "tests/storage/byte_store_conformance.h"

namespace cardvault {
namespace {

StatusOr<std::unique_ptr<ByteStore>> OpenStore(const std::string& dir) {
  CV_ASSIGN_OR_RETURN(auto store, FileByteStore::Open(Env::Default(), dir));
  return std::unique_ptr<ByteStore>(std::move(store));
}

INSTANTIATE_TEST_SUITE_P(Files, ByteStoreConformance,
                         ::testing::Values(ByteStoreSuite{
                             .name = "Files", .create = OpenStore, .reopen = OpenStore}),
                         ByteStoreSuiteName);

}  // namespace
}  // namespace cardvault
