// IndexedBlobStore over SqliteObjectIndex + S3ByteStore (the shared radosgw): objects above
// inline_max_bytes live in the bucket; a put is published only after the bucket confirmed
// it; a digest mismatch stores nothing; purge and the orphan sweep remove bucket objects.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>

#include "core/crypto.h"
#include "storage/indexed_blob_store.h"
#include "storage/s3_byte_store.h"
#include "storage/sqlite_object_index.h"
#include "tests/storage/rgw_cluster.h"

namespace cardvault {
namespace {

std::string Id(int n) {
  std::string id(64, '0');
  id[63] = static_cast<char>('0' + n);
  return id;
}

std::string Sha(const Bytes& data) { return HexEncode(Sha256(data)); }

class S3IndexedBlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why_not;
    RgwCluster* rgw = SharedRgwCluster(&why_not);
    if (rgw == nullptr) GTEST_SKIP() << why_not;
    char tmpl[] = "/tmp/cv-s3-indexed-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    static std::atomic<int> tests{0};
    S3ByteStoreOptions o;
    o.endpoint = rgw->endpoint();
    o.bucket = rgw->bucket();
    o.prefix = "indexed/" + std::to_string(++tests) + "/";
    o.access_key_id = rgw->access_key();
    o.secret_access_key = SecretData::CopyFrom(rgw->secret_key());
    auto bytes = NewS3ByteStore(std::move(o));
    ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
    bytes_ = bytes->get();
    auto index = SqliteObjectIndex::Open(dir_ + "/index.db");
    ASSERT_TRUE(index.ok()) << index.status().ToString();
    IndexedBlobStore::Options options;
    options.inline_max_bytes = 1024;
    options.retention_seconds = 10;
    store_ = std::make_unique<IndexedBlobStore>(Env::Default(), std::move(*index),
                                                std::move(*bytes), options);
  }
  void TearDown() override {
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  Status Put(const std::string& id, const Bytes& data, std::string sha = "") {
    if (sha.empty()) sha = Sha(data);
    CV_ASSIGN_OR_RETURN(auto put,
                        store_->BeginPut("alice", id, {ObjectKind::kBlob, data.size(), sha}));
    CV_RETURN_IF_ERROR(put->Append(data));
    return put->Commit().status();
  }

  StatusOr<Bytes> Read(const std::string& id) {
    CV_ASSIGN_OR_RETURN(auto reader, store_->Open("alice", id));
    Bytes out(reader->info().size);
    for (size_t done = 0; done < out.size();) {
      CV_ASSIGN_OR_RETURN(size_t n, reader->ReadAt(done, std::span(out).subspan(done)));
      if (n == 0) return CorruptError("ended early");
      done += n;
    }
    return out;
  }

  size_t BucketKeys() {
    size_t n = 0;
    EXPECT_TRUE(bytes_
                    ->ForEach([&](const StoredKey&) {
                      ++n;
                      return Status::Ok();
                    })
                    .ok());
    return n;
  }

  std::string dir_;
  ByteStore* bytes_ = nullptr;  // owned by store_
  std::unique_ptr<IndexedBlobStore> store_;
};

TEST_F(S3IndexedBlobStoreTest, PutReadReplaceDeletePurge) {
  const Bytes a(300000, 1), b(7 << 20, 2), small(100, 3);
  ASSERT_TRUE(Put(Id(1), a).ok());
  EXPECT_TRUE(Read(Id(1)).value() == a);
  ASSERT_TRUE(Put(Id(1), b).ok());  // replaced: the old version stays for the retention
  EXPECT_TRUE(Read(Id(1)).value() == b);
  ASSERT_TRUE(Put(Id(2), small).ok());  // inline: not in the bucket
  EXPECT_EQ(BucketKeys(), 2u);
  EXPECT_EQ(Put(Id(3), a, Sha(b)).reason(), "sha256_mismatch");
  EXPECT_EQ(BucketKeys(), 2u) << "a rejected put leaves nothing in the bucket";
  ASSERT_TRUE(store_->Delete("alice", Id(1)).ok());
  const int64_t later = Env::Default()->NowUnixNanos() / 1000000000 + 3600;
  EXPECT_EQ(store_->PurgeExpired(later).value(), 2u);
  EXPECT_EQ(BucketKeys(), 0u);
}

TEST_F(S3IndexedBlobStoreTest, SweepRemovesOnlyOrphans) {
  const Bytes a(5000, 4);
  ASSERT_TRUE(Put(Id(1), a).ok());
  auto writer = bytes_->NewWriter(a.size());  // bytes no index row names: an orphan
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Append(a).ok());
  ASSERT_TRUE((*writer)->Commit().ok());
  EXPECT_EQ(BucketKeys(), 2u);
  const int64_t now = Env::Default()->NowUnixNanos() / 1000000000;
  EXPECT_EQ(store_->SweepOrphans(now, 3600).value(), 0u) << "too young";
  EXPECT_EQ(store_->SweepOrphans(now + 7200, 3600).value(), 1u);
  EXPECT_EQ(BucketKeys(), 1u);
  EXPECT_TRUE(Read(Id(1)).value() == a);
}

}  // namespace
}  // namespace cardvault
