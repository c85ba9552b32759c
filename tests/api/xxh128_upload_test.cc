// Tests of appended-XXH3-128 uploads ("X-Content-XXH128: appended") specific to XXH3-128: the
// hasher, the store's computed-digest commit, cross-mode and conflicting requests, and the client
// with a known SHA-256 (the shared suite of both modes: appended_check_test.cc).
#include <gtest/gtest.h>

#include <string>

#include "api/xxh128.h"
#include "tests/api/appended_test_util.h"
#include "tests/api/server_test_util.h"

namespace cardvault {
namespace {

// ---- The hasher: canonical (big-endian) XXH3-128, seed 0, as `xxhsum -H2` prints it.

TEST(Xxh128Test, KnownAnswersAndStreaming) {
  EXPECT_EQ(HexEncode(Xxh128(AsBytes(""))), "99aa06d3014798d86001c324468d497f");
  EXPECT_EQ(HexEncode(Xxh128(AsBytes("xxh128 digest seed!!"))),
            "b614a723b54e9ad7c678ce02c0ec0fab");  // fuzz/server_seeds/put_xxh128.http
  const std::string data = Pattern(300000);
  // Long enough for the vector unit (libxxhash's dispatch on x86): as xxh128sum prints it.
  EXPECT_EQ(HexEncode(Xxh128(AsBytes(data))), "45c5821265fc540842817847ff434b36");
  for (size_t piece : {size_t{1}, size_t{7}, size_t{4096}, size_t{100000}}) {
    Xxh128Hasher hasher;
    for (size_t at = 0; at < data.size(); at += piece) {
      hasher.Update(AsBytes(std::string_view(data).substr(at, piece)));
    }
    EXPECT_EQ(hasher.Finish(), Xxh128(AsBytes(data))) << piece;
  }
  EXPECT_NE(Xxh128(AsBytes(data)), Xxh128(AsBytes(data.substr(1))));
}

// ---- The store contract: AcceptComputedSha256 publishes under the computed digest.

class ComputedDigestStoreTest : public AppendedStoreFixture {};

TEST_F(ComputedDigestStoreTest, PublishesUnderTheComputedSha256OnlyOnce) {
  for (size_t size : {size_t{0}, size_t{100}, size_t{kInlineMax + 1000}}) {
    const std::string data = Pattern(size);
    const std::string id = Sha("id " + std::to_string(size));
    auto pending = store_->BeginPut("alice", id, XxhPut(data));
    ASSERT_TRUE(pending.ok()) << pending.status().ToString();
    ASSERT_TRUE((*pending)->Append(AsBytes(data)).ok());
    ASSERT_TRUE((*pending)->AcceptComputedSha256().ok());
    auto info = (*pending)->Commit();
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    EXPECT_EQ(info->sha256, Sha(data));
    EXPECT_EQ(store_->Head("alice", id).value().sha256, Sha(data));
  }
  const std::string data = Pattern(kInlineMax + 10);
  const std::string id = Sha("x");
  auto begin = [&](const PutOptions& options) {
    auto p = store_->BeginPut("alice", id, options);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    EXPECT_TRUE((*p)->Append(AsBytes(data)).ok());
    return std::move(*p);
  };
  {
    auto p = begin(XxhPut(data));
    ASSERT_TRUE(p->AcceptComputedSha256().ok());
    EXPECT_EQ(p->AcceptComputedSha256().code(), StatusCode::kFailedPrecondition);
    EXPECT_FALSE(p->Commit().ok());
  }
  {
    auto p = begin(XxhPut(data));
    ASSERT_TRUE(p->AcceptComputedSha256().ok());
    EXPECT_EQ(p->SetExpectedSha256(Sha(data)).code(), StatusCode::kFailedPrecondition);
    EXPECT_FALSE(p->Commit().ok());
  }
  {
    auto p = begin(XxhPut(data));
    ASSERT_TRUE(p->SetExpectedSha256(Sha(data)).ok());
    EXPECT_EQ(p->AcceptComputedSha256().code(), StatusCode::kFailedPrecondition);
    EXPECT_FALSE(p->Commit().ok());
  }
  {
    // A digest given at BeginPut stays the one checked.
    auto p = begin(PutFor(data));
    EXPECT_EQ(p->AcceptComputedSha256().code(), StatusCode::kFailedPrecondition);
    EXPECT_FALSE(p->Commit().ok());
  }
  EXPECT_EQ(store_->Head("alice", id).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(CountFiles(dir_ + "/tmp"), 0u);
}

// ---- The server, raw requests specific to XXH3-128 (the rest is in appended_check_test.cc).

TEST(Xxh128ServerTest, RawOtherDigestsAndConflictingHeadersStoreNothing) {
  TestServer server;
  auto raw = [&](const std::string& bytes) { return server.server().ProcessRawForTesting(bytes); };
  const std::string id = Sha("hostile");
  const std::string xxh_header = kXxh128Check.HeaderLine();
  for (size_t size : {size_t{100}, size_t{kInlineMax + 5000}}) {
    SCOPED_TRACE(size);
    const std::string data = Pattern(size);
    const std::string digest = RawXxh128(data);
    const uint64_t length = size + 16;
    auto expect_error = [&](const std::string& request, const std::string& status,
                            const std::string& code) {
      std::string answer = raw(request);
      EXPECT_EQ(answer.rfind("HTTP/1.1 " + status, 0), 0u) << answer.substr(0, 300);
      EXPECT_NE(answer.find("\"code\":\"" + code + "\""), std::string::npos) << answer;
    };
    // A wrong digest: the first 16 bytes of the SHA-256.
    const std::string sha = RawSha256(data);
    expect_error(RawPut(server.alice(), id, data + sha.substr(0, 16), length, xxh_header), "400",
                 "xxh128_mismatch");
    // A SHA-256 appended in XXH128 mode, or an XXH3-128 appended in SHA-256 mode.
    expect_error(RawPut(server.alice(), id, data + sha, size + 32, xxh_header), "400",
                 "xxh128_mismatch");
    expect_error(RawPut(server.alice(), id, data + digest, length, kSha256Check.HeaderLine()),
                 "400", "sha256_mismatch");
    // Both headers, whatever their values, or neither.
    for (const std::string& sha_value : {std::string("appended"), Sha(data)}) {
      expect_error(RawPut(server.alice(), id, data + digest, length,
                          kSha256Check.HeaderLine(sha_value) + xxh_header),
                   "400", "conflicting_checksums");
    }
    expect_error(RawPut(server.alice(), id, data, size, ""), "400", "bad_sha256");
    EXPECT_EQ(server.store().Head("alice", id).status().code(), StatusCode::kNotFound);
  }
  // The store saw nothing: nothing listed, no bytes counted, no file left.
  EXPECT_TRUE(server.store().List("alice", {}).value().objects.empty());
  EXPECT_EQ(server.store().UsedBytes("alice").value(), 0u);
  EXPECT_EQ(CountFiles(server.data_dir() + "/tmp"), 0u);
  EXPECT_EQ(CountFiles(server.data_dir() + "/blobs"), 0u);
}

// ---- The client: RemoteStore::Put with TransferCheck::kXxh128 over TLS.

TEST(Xxh128ServerTest, RemoteStorePutWithAKnownSha256IgnoresTheTransferCheck) {
  TestServer server;
  auto alice = server.Client(server.alice());
  const std::string data = Pattern(300000);
  // With a known SHA-256, transfer_check is ignored: the header digest is checked.
  PutOptions known = XxhPut(data);
  known.sha256 = Sha(data);
  auto put = alice->Put(Sha("known"), known, StringSource(data));
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(put->sha256, Sha(data));
  known.sha256 = Sha("something else");
  EXPECT_EQ(alice->Put(Sha("known2"), known, StringSource(data)).status().reason(),
            "sha256_mismatch");
  EXPECT_EQ(alice->Head(Sha("known2")).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace cardvault
