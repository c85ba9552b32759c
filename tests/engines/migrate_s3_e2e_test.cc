// `cardvault-server migrate` into PostgreSQL + S3 (a new bucket on the shared radosgw): the
// end-to-end run of tests/integration/migrate_e2e.h (killed twice, resumed, every object
// served byte-identical), and then every version's stored bytes are in the bucket, read
// back and checked by SHA-256.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "tests/engines/pg_s3_stores.h"
#include "tests/integration/migrate_e2e.h"

namespace cardvault {
namespace migrate_e2e {
namespace {

// The SHA-256 of every object's bytes in `bytes`, with how many objects have it.
StatusOr<std::map<std::string, int>> ShaOfEveryObject(ByteStore& bytes) {
  std::map<std::string, int> out;
  CV_RETURN_IF_ERROR(bytes.ForEach([&](const StoredKey& stored) -> Status {
    CV_ASSIGN_OR_RETURN(auto reader, bytes.Open(stored.key));
    Bytes data(reader->size());
    for (size_t done = 0; done < data.size();) {
      CV_ASSIGN_OR_RETURN(size_t n, reader->ReadAt(done, std::span(data).subspan(done)));
      if (n == 0) return CorruptError(stored.key + " ended early");
      done += n;
    }
    ++out[HexEncode(Sha256(data))];
    return Status::Ok();
  }));
  return out;
}

class MigrateS3E2eTest : public MigrateE2eTest {
 protected:
  void SetUp() override {
    auto stores = PgS3Stores::New();
    if (!stores.ok() && stores.status().code() == StatusCode::kUnsupported) {
      GTEST_SKIP() << stores.status().message();
    }
    ASSERT_TRUE(stores.ok()) << stores.status().ToString();
    stores_ = std::make_unique<PgS3Stores>(std::move(*stores));
    MigrateE2eTest::SetUp();
  }
  nlohmann::json DestinationStores() override {
    nlohmann::json config = stores_->Config();
    config["index"] = conninfo_;
    return config;
  }

  std::unique_ptr<PgS3Stores> stores_;
};

TEST_F(MigrateS3E2eTest, KilledTwiceThenResumedEveryVersionsBytesInTheBucket) {
  SourceContents contents;
  KilledTwiceThenResumed(contents);
  if (HasFatalFailure()) return;
  std::map<std::string, int> expected;  // every stored (not inline) version
  for (const std::string& data : contents.versions) {
    if (data.size() > contents.inline_max_bytes) ++expected[Sha(data)];
  }
  ASSERT_EQ(expected.size(), 13u) << "6 stored objects per user and a replacement";
  auto bytes = stores_->OpenBytes();
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  auto in_bucket = ShaOfEveryObject(**bytes);
  ASSERT_TRUE(in_bucket.ok()) << in_bucket.status().ToString();
  EXPECT_EQ(*in_bucket, expected)
      << "each version's bytes once in the bucket, nothing else (no orphans of the killed runs)";
}

}  // namespace
}  // namespace migrate_e2e
}  // namespace cardvault
