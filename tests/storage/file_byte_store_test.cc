// FileByteStore under the ByteStore conformance suite (tmp/ and blobs/ in a directory).
#include "storage/file_byte_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

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

// The probe sees the store's directories go, and come back.
TEST(FileByteStoreTest, ProbeFailsWithoutItsDirectories) {
  char tmpl[] = "/tmp/cv-file-probe-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  auto store = FileByteStore::Open(Env::Default(), dir).value();
  EXPECT_TRUE(store->Probe().ok());
  std::filesystem::rename(dir + "/blobs", dir + "/blobs.away");
  const Status gone = store->Probe();
  EXPECT_EQ(gone.code(), StatusCode::kUnavailable);
  EXPECT_EQ(gone.reason(), "object_store_unavailable");
  std::filesystem::rename(dir + "/blobs.away", dir + "/blobs");
  EXPECT_TRUE(store->Probe().ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cardvault
