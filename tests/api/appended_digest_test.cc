// Tests of appended-digest uploads ("X-Content-SHA256: appended") specific to SHA-256: the store
// contract and the client's refusal of a garbage digest (the shared suite: appended_check_test.cc).
#include <gtest/gtest.h>

#include <string>

#include "tests/api/appended_test_util.h"
#include "tests/api/server_test_util.h"

namespace cardvault {
namespace {

// ---- The store contract: a digest given at commit.

class AppendedStoreTest : public AppendedStoreFixture {};

TEST_F(AppendedStoreTest, DigestGivenAtCommitInlineAndFile) {
  for (size_t size : {size_t{0}, size_t{100}, size_t{kInlineMax + 1000}}) {
    const std::string data = Pattern(size);
    const std::string id = Sha("id " + std::to_string(size));
    auto pending = store_->BeginPut("alice", id, AppendedPut(data));
    ASSERT_TRUE(pending.ok()) << pending.status().ToString();
    ASSERT_TRUE((*pending)->Append(AsBytes(data)).ok());
    ASSERT_TRUE((*pending)->SetExpectedSha256(Sha(data)).ok());
    auto info = (*pending)->Commit();
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    EXPECT_EQ(info->sha256, Sha(data));
    EXPECT_EQ(info->size, size);
    EXPECT_EQ(store_->Head("alice", id).value().sha256, Sha(data));
  }
  EXPECT_EQ(store_->UsedBytes("alice").value(), 100 + kInlineMax + 1000);
}

TEST_F(AppendedStoreTest, MissingWrongOrRepeatedDigestStoresNothing) {
  const std::string data = Pattern(kInlineMax + 10);  // file-backed
  const std::string id = Sha("x");
  auto begin = [&] {
    auto p = store_->BeginPut("alice", id, AppendedPut(data));
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    EXPECT_TRUE((*p)->Append(AsBytes(data)).ok());
    return std::move(*p);
  };
  {
    auto p = begin();
    auto committed = p->Commit();
    EXPECT_EQ(committed.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_EQ(committed.status().reason(), "sha256_missing");
  }
  {
    auto p = begin();
    ASSERT_TRUE(p->SetExpectedSha256(Sha("other")).ok());
    EXPECT_EQ(p->Commit().status().reason(), "sha256_mismatch");
  }
  {
    auto p = begin();
    Status bad = p->SetExpectedSha256(std::string(64, 'A'));
    EXPECT_EQ(bad.reason(), "bad_sha256");
    EXPECT_FALSE(p->Commit().ok());  // dead after a failed SetExpectedSha256
  }
  {
    auto p = begin();
    ASSERT_TRUE(p->SetExpectedSha256(Sha(data)).ok());
    EXPECT_EQ(p->SetExpectedSha256(Sha(data)).code(), StatusCode::kFailedPrecondition);
    EXPECT_FALSE(p->Commit().ok());
  }
  {
    // A digest given at BeginPut cannot be replaced at commit.
    auto p = store_->BeginPut("alice", id, PutFor(data));
    ASSERT_TRUE(p.ok());
    ASSERT_TRUE((*p)->Append(AsBytes(data)).ok());
    EXPECT_EQ((*p)->SetExpectedSha256(Sha(data)).code(), StatusCode::kFailedPrecondition);
    EXPECT_FALSE((*p)->Commit().ok());
  }
  EXPECT_EQ(store_->Head("alice", id).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->List("alice", {}).value().objects.empty());
  EXPECT_EQ(store_->UsedBytes("alice").value(), 0u);
  EXPECT_EQ(CountFiles(dir_ + "/tmp"), 0u);
  EXPECT_EQ(CountFiles(dir_ + "/blobs"), 0u);
  // Garbage at BeginPut is still refused.
  PutOptions garbage = AppendedPut(data);
  garbage.sha256 = "appended";
  EXPECT_EQ(store_->BeginPut("alice", id, garbage).status().reason(), "bad_sha256");
}

// ---- The client: RemoteStore::Put with an empty sha256 (the rest is in appended_check_test.cc).

TEST(AppendedDigestServerTest, RemoteStorePutRefusesAGarbageDigest) {
  TestServer server;
  auto alice = server.Client(server.alice());
  // Garbage digests are refused by the client before any request.
  const std::string id = Sha("client 100");
  const std::string replacement = Pattern(5000, 'z');
  PutOptions garbage = AppendedPut(replacement);
  garbage.sha256 = "appended";
  EXPECT_EQ(alice->Put(id, garbage, StringSource(replacement)).status().reason(), "bad_sha256");
  EXPECT_EQ(alice->Head(id).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(server.store().UsedBytes("alice").value(), 0u);
}

}  // namespace
}  // namespace cardvault
