// S3ByteStore against a real single-node Ceph radosgw (RgwCluster, started once for the
// binary): the ByteStore conformance suite (a prefix per test in one bucket), then what is
// S3's own: multipart uploads and their abort, streamed PUTs, range reads, credentials, a
// missing bucket, radosgw stopped and started again, retries on 503 (a local fault server:
// radosgw cannot be made to answer 503 on demand).
#include "storage/s3_byte_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "core/crypto.h"
#include "storage/indexed_blob_store.h"
#include "storage/s3_client.h"
#include "storage/s3_xml.h"
#include "storage/sqlite_object_index.h"
#include "tests/storage/byte_store_conformance.h"
#include "tests/storage/rgw_cluster.h"

namespace cardvault {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;

std::string RgwUnavailable() {
  std::string why_not;
  SharedRgwCluster(&why_not);
  return why_not;
}

// Options for the shared radosgw's bucket under `prefix`.
S3ByteStoreOptions OptionsFor(const std::string& prefix) {
  std::string why_not;
  RgwCluster* rgw = SharedRgwCluster(&why_not);
  S3ByteStoreOptions o;
  if (rgw == nullptr) return o;
  o.endpoint = rgw->endpoint();
  o.bucket = rgw->bucket();
  o.prefix = prefix;
  o.access_key_id = rgw->access_key();
  o.secret_access_key = SecretData::CopyFrom(rgw->secret_key());
  o.retry_base_delay_ms = 20;
  o.retry_max_delay_ms = 200;
  return o;
}

// A prefix per conformance test directory, so every test starts with an empty store.
std::string PrefixFor(const std::string& dir) {
  return "conformance/" + std::filesystem::path(dir).filename().string() + "/";
}

StatusOr<std::unique_ptr<ByteStore>> OpenForDir(const std::string& dir) {
  return NewS3ByteStore(OptionsFor(PrefixFor(dir)));
}

INSTANTIATE_TEST_SUITE_P(
    S3, ByteStoreConformance,
    ::testing::Values(ByteStoreSuite{
        .name = "S3", .unavailable = RgwUnavailable, .create = OpenForDir, .reopen = OpenForDir}),
    ByteStoreSuiteName);

Bytes Pattern(size_t size, uint8_t seed) {
  Bytes b(size);
  for (size_t i = 0; i < size; ++i) b[i] = static_cast<uint8_t>(seed + i * 13 + i / 509);
  return b;
}

StatusOr<std::string> Write(ByteStore& store, const Bytes& data, size_t chunk = kMiB) {
  CV_ASSIGN_OR_RETURN(auto writer, store.NewWriter(data.size()));
  for (size_t at = 0; at < data.size(); at += chunk) {
    CV_RETURN_IF_ERROR(
        writer->Append(ByteView(data).subspan(at, std::min(chunk, data.size() - at))));
  }
  return writer->Commit();
}

StatusOr<Bytes> ReadAll(ByteStore& store, const std::string& key, size_t piece = 65536) {
  CV_ASSIGN_OR_RETURN(auto reader, store.Open(key));
  Bytes out(static_cast<size_t>(reader->size()));
  for (size_t done = 0; done < out.size();) {
    const size_t want = std::min(piece, out.size() - done);
    CV_ASSIGN_OR_RETURN(size_t n, reader->ReadAt(done, std::span(out).subspan(done, want)));
    if (n == 0) return CorruptError("stored bytes ended early");
    done += n;
  }
  return out;
}

std::vector<std::string> Keys(ByteStore& store) {
  std::vector<std::string> keys;
  EXPECT_TRUE(store
                  .ForEach([&](const StoredKey& k) {
                    keys.push_back(k.key);
                    return Status::Ok();
                  })
                  .ok());
  return keys;
}

class S3ByteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rgw_ = SharedRgwCluster(&why_not_);
    if (rgw_ == nullptr) GTEST_SKIP() << why_not_;
    static std::atomic<int> tests{0};
    prefix_ = "s3test/" + std::to_string(++tests) + "/";
  }

  // A store under this test's prefix; small parts so that multipart is cheap to reach.
  std::unique_ptr<ByteStore> Store(uint64_t threshold = 8 * kMiB, uint64_t part = 5 * kMiB) {
    S3ByteStoreOptions o = OptionsFor(prefix_);
    o.multipart_threshold_bytes = threshold;
    o.part_bytes = part;
    auto store = NewS3ByteStore(std::move(o));
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(*store) : nullptr;
  }

  // A raw client on the bucket, to look at what the store left there.
  std::unique_ptr<S3Client> Raw() { return std::make_unique<S3Client>(OptionsFor(prefix_)); }

  // Multipart uploads in progress under this test's prefix.
  size_t UploadsInProgress() {
    S3Request list{.method = "GET", .query = {{"uploads", ""}, {"prefix", prefix_}}};
    list.what = "ListMultipartUploads";
    auto response = Raw()->Send(list);
    EXPECT_TRUE(response.ok() && response->http_status == 200)
        << response.status().ToString() << (response.ok() ? response->body : "");
    return response.ok() ? XmlElements(response->body, "Upload").size() : 0;
  }

  std::string Etag(const std::string& key) {
    S3Request head{.method = "HEAD", .object = prefix_ + "blobs/" + key};
    auto response = Raw()->Send(head);
    return response.ok() ? response->etag : "";
  }

  RgwCluster* rgw_ = nullptr;
  std::string why_not_, prefix_;
};

// A 40 MiB object goes up in parts (its ETag says how many), reads back whole, and leaves
// no upload in progress.
TEST_F(S3ByteStoreTest, LargeObjectIsAMultipartUpload) {
  auto store = Store();
  const Bytes data = Pattern(40 * kMiB + 12345, 1);
  auto key = Write(*store, data, 3 * kMiB + 1);
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_TRUE(Etag(*key).ends_with("-9\"")) << Etag(*key);  // 8 parts of 5 MiB and the rest
  auto back = ReadAll(*store, *key, 1 * kMiB);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(*back == data);
  EXPECT_EQ(UploadsInProgress(), 0u);
}

// A writer destroyed after some parts went up aborts its multipart upload: nothing stored,
// nothing left in progress.
TEST_F(S3ByteStoreTest, AbandonedMultipartUploadIsAborted) {
  auto store = Store();
  {
    auto writer = store->NewWriter(40 * kMiB);
    ASSERT_TRUE(writer.ok());
    const Bytes part = Pattern(kMiB, 2);
    for (int i = 0; i < 12; ++i) ASSERT_TRUE((*writer)->Append(part).ok());
    EXPECT_EQ(UploadsInProgress(), 1u) << "two parts are up";
  }
  EXPECT_EQ(UploadsInProgress(), 0u);
  EXPECT_TRUE(Keys(*store).empty());
}

// Between the part size and the multipart threshold, one PUT streams the body; abandoned
// before Commit, it stores nothing (its last byte was held back).
TEST_F(S3ByteStoreTest, MidSizeObjectIsOneStreamedPut) {
  auto store = Store(/*threshold=*/64 * kMiB);
  const Bytes data = Pattern(7 * kMiB + 3, 3);
  auto key = Write(*store, data, 100000);
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_EQ(Etag(*key).find('-'), std::string::npos) << "not multipart: " << Etag(*key);
  EXPECT_TRUE(ReadAll(*store, *key).value() == data);
  {
    auto writer = store->NewWriter(data.size());
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Append(data).ok());  // every byte given, but no Commit
    // Time for the PUT to end if it could: only the held-back last byte prevents it.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  EXPECT_EQ(Keys(*store), std::vector<std::string>{*key});
  auto writer = store->NewWriter(data.size());
  ASSERT_TRUE(writer.ok());
  EXPECT_EQ((*writer)->Append(Pattern(data.size() + 1, 4)).reason(), "size_mismatch");
}

// ForEach follows continuation tokens across pages.
TEST_F(S3ByteStoreTest, ForEachWalksEveryPage) {
  S3ByteStoreOptions o = OptionsFor(prefix_);
  o.list_page_keys = 7;
  auto store = NewS3ByteStore(std::move(o));
  ASSERT_TRUE(store.ok());
  std::set<std::string> written;
  for (int i = 0; i < 20; ++i) written.insert(Write(**store, Pattern(10, 1)).value());
  const std::vector<std::string> listed = Keys(**store);
  EXPECT_EQ(listed.size(), 20u);
  EXPECT_EQ(std::set<std::string>(listed.begin(), listed.end()), written);
}

// Range reads anywhere, sequential reads served by read-ahead, reads across its edge.
TEST_F(S3ByteStoreTest, RangeReads) {
  auto store = Store();
  const Bytes data = Pattern(3 * kMiB + 777, 5);
  auto key = Write(*store, data);
  ASSERT_TRUE(key.ok());
  auto reader = store->Open(*key);
  ASSERT_TRUE(reader.ok());
  ASSERT_EQ((*reader)->size(), data.size());
  Bytes buf(100000);
  for (uint64_t offset : std::vector<uint64_t>{5, 3 * kMiB, kMiB - 10, 0, 65536 * 3, 2 * kMiB + 1,
                                               data.size() - 50}) {
    SCOPED_TRACE(offset);
    auto n = (*reader)->ReadAt(offset, buf);
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    ASSERT_GT(*n, 0u);
    EXPECT_TRUE(std::equal(buf.begin(), buf.begin() + static_cast<ptrdiff_t>(*n),
                           data.begin() + static_cast<ptrdiff_t>(offset)));
  }
  EXPECT_EQ((*reader)->ReadAt(data.size(), buf).value(), 0u);
  EXPECT_TRUE(ReadAll(*store, *key, 65536).value() == data);
  EXPECT_TRUE(ReadAll(*store, *key, 3 * kMiB).value() == data);
}

// A wrong secret is kPermissionDenied "object_store_denied" with the HTTP status and S3 code,
// never the secret; a missing bucket is "no_such_bucket".
TEST_F(S3ByteStoreTest, WrongSecretAndMissingBucket) {
  S3ByteStoreOptions wrong = OptionsFor(prefix_);
  wrong.secret_access_key = SecretData::CopyFrom("not-the-secret-0123456789");
  auto denied = NewS3ByteStore(std::move(wrong));
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(denied.status().reason(), "object_store_denied");
  EXPECT_NE(denied.status().message().find("403"), std::string::npos) << denied.status().message();
  EXPECT_EQ(denied.status().message().find("not-the-secret"), std::string::npos);
  EXPECT_EQ(denied.status().message().find(rgw_->secret_key()), std::string::npos);

  S3ByteStoreOptions missing = OptionsFor(prefix_);
  missing.bucket = "no-such-bucket";
  auto none = NewS3ByteStore(std::move(missing));
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(none.status().reason(), "no_such_bucket");
  EXPECT_NE(none.status().message().find("no-such-bucket"), std::string::npos);
}

// radosgw stopped: every operation fails in bounded time with kUnavailable that says what
// was tried; started again, the same store works.
TEST_F(S3ByteStoreTest, GatewayStoppedThenStarted) {
  S3ByteStoreOptions o = OptionsFor(prefix_);
  o.max_attempts = 3;
  o.part_bytes = 5 * kMiB;  // 6 MiB: a streamed PUT
  auto opened = NewS3ByteStore(std::move(o));
  ASSERT_TRUE(opened.ok());
  ByteStore& store = **opened;
  auto before = Write(store, Pattern(100000, 6));
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(rgw_->StopGateway().ok());
  const auto start = std::chrono::steady_clock::now();
  auto put = Write(store, Pattern(100000, 7));
  EXPECT_EQ(put.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(put.status().reason(), "object_store_unavailable");
  EXPECT_NE(put.status().message().find("failed 3 times"), std::string::npos)
      << put.status().message();
  EXPECT_EQ(store.Open(*before).status().reason(), "object_store_unavailable");
  EXPECT_EQ(Write(store, Pattern(6 * kMiB, 8)).status().reason(), "object_store_unavailable")
      << "a streamed PUT";
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
  ASSERT_TRUE(rgw_->StartGateway().ok());
  auto after = Write(store, Pattern(100000, 9));
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_TRUE(ReadAll(store, *before).value() == Pattern(100000, 6));
}

// The credentials file: private to its owner, JSON with both strings.
TEST_F(S3ByteStoreTest, LoadCredentials) {
  S3ByteStoreOptions o;
  ASSERT_TRUE(LoadS3Credentials(*Env::Default(), rgw_->credentials_file(), o).ok());
  EXPECT_EQ(o.access_key_id, rgw_->access_key());
  EXPECT_EQ(o.secret_access_key.AsStringView(), rgw_->secret_key());
  const std::string path = rgw_->dir() + "/creds-" + std::to_string(::getpid()) + ".json";
  std::ofstream(path) << R"({"access_key_id": "a", "secret_access_key": "b"})";
  ::chmod(path.c_str(), 0640);
  EXPECT_EQ(LoadS3Credentials(*Env::Default(), path, o).reason(), "credentials_not_private");
  ::chmod(path.c_str(), 0600);
  ASSERT_TRUE(LoadS3Credentials(*Env::Default(), path, o).ok());
  EXPECT_EQ(o.access_key_id, "a");
  std::ofstream(path) << R"({"access_key_id": "a"})";
  EXPECT_EQ(LoadS3Credentials(*Env::Default(), path, o).reason(), "bad_credentials_file");
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace cardvault
