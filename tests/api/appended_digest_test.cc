// Tests of appended-digest uploads ("X-Content-SHA256: appended"): store contract, raw requests
// and the RemoteStore client against a real TLS server.
#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <string>
#include <vector>

#include "api/retrying_object_client.h"
#include "tests/api/server_test_util.h"

namespace cardvault {
namespace {

constexpr uint64_t kInlineMax = 64 * 1024;  // FileBlobStore::Options::inline_max_bytes

// Content whose bytes vary, so a digest over a wrong range cannot match by accident.
std::string Pattern(size_t size, char seed = 'a') {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i) s[i] = static_cast<char>(seed + (i * 7 + i / 251) % 26);
  return s;
}

std::string RawDigest(std::string_view data) {
  Sha256Digest d = Sha256(AsBytes(data));
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

// An appended-digest PUT of `id` as raw HTTP; `body` is sent as is with `content_length`.
std::string RawPut(const std::string& token, const std::string& id, const std::string& body,
                   uint64_t content_length, const std::string& digest_header = "appended",
                   const std::string& extra_headers = "") {
  return "PUT /v1/objects/" + id + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
         "\r\nX-Content-SHA256: " + digest_header + "\r\n" + extra_headers +
         "Content-Length: " + std::to_string(content_length) + "\r\n\r\n" + body;
}

std::string GetAll(ObjectClient& client, std::string_view id) {
  std::string out;
  auto info = client.Get(id, {}, [&](ByteView b) {
    out.append(AsStringView(b));
    return Status::Ok();
  });
  EXPECT_TRUE(info.ok()) << info.status().ToString();
  return out;
}

PutOptions AppendedPut(std::string_view data, bool create_only = false) {
  return PutOptions{ObjectKind::kBlob, data.size(), "", create_only};
}

// ---- The store contract: a digest given at commit.

class AppendedStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cv-appended-store-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    FileBlobStore::Options options;
    options.max_object_bytes = 1 << 20;
    options.quota_bytes = 1 << 20;
    store_ = FileBlobStore::Open(Env::Default(), dir_, options).value();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string dir_;
  std::unique_ptr<FileBlobStore> store_;
};

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

// ---- The server, raw requests (the same routes as TLS connections).

TEST(AppendedDigestServerTest, RawRoundTripWithEverySplitOfTheDigest) {
  TestServer server;
  // httplib reads bodies in 4 KiB pieces from the start of the body: these sizes put the
  // end of the content and the 32 digest bytes on every side of a piece boundary.
  std::vector<size_t> sizes = {0, 1, 31, 32, 33, 4064, 4065, 4070, 4080, 4095, 4096, 4097};
  sizes.push_back(25 * 4096 - 10);  // file-backed, the digest split 10 + 22
  for (size_t size : sizes) {
    SCOPED_TRACE(size);
    const std::string data = Pattern(size, 'A');
    const std::string id = Sha("raw " + std::to_string(size));
    std::string answer = server.server().ProcessRawForTesting(
        RawPut(server.alice(), id, data + RawDigest(data), data.size() + 32));
    ASSERT_EQ(answer.rfind("HTTP/1.1 201", 0), 0u) << answer.substr(0, 300);
    EXPECT_NE(answer.find("\"sha256\":\"" + Sha(data) + "\""), std::string::npos);
    const size_t size_at = answer.find("\"size\":" + std::to_string(size));
    ASSERT_NE(size_at, std::string::npos) << answer;
    EXPECT_FALSE(std::isdigit(answer[size_at + 7 + std::to_string(size).size()])) << answer;
    auto info = server.store().Head("alice", id);
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    EXPECT_EQ(info->size, size);
    EXPECT_EQ(info->sha256, Sha(data));
    auto reader = server.store().Open("alice", id).value();
    std::string stored(size, '\0');
    size_t got =
        size == 0
            ? 0
            : reader->ReadAt(0, std::span(reinterpret_cast<uint8_t*>(stored.data()), stored.size()))
                  .value();
    EXPECT_EQ(got, size);
    EXPECT_EQ(stored, data);
  }
  EXPECT_EQ(CountFiles(server.data_dir() + "/blobs"), 1u);  // only the one above 64 KiB
}

TEST(AppendedDigestServerTest, RawHostileBodiesStoreNothing) {
  TestServer server;
  auto raw = [&](const std::string& bytes) { return server.server().ProcessRawForTesting(bytes); };
  const std::string id = Sha("hostile");
  for (size_t size : {size_t{100}, size_t{kInlineMax + 5000}}) {
    SCOPED_TRACE(size);
    const std::string data = Pattern(size);
    const std::string digest = RawDigest(data);
    const uint64_t length = size + 32;
    auto expect_error = [&](const std::string& request, const std::string& status,
                            const std::string& code) {
      std::string answer = raw(request);
      EXPECT_EQ(answer.rfind("HTTP/1.1 " + status, 0), 0u) << answer.substr(0, 300);
      EXPECT_NE(answer.find("\"code\":\"" + code + "\""), std::string::npos) << answer;
    };
    // A wrong digest: the content of another object, one flipped bit, all zeros.
    std::string flipped = digest;
    flipped[31] = static_cast<char>(flipped[31] ^ 1);
    for (const std::string& wrong : {RawDigest("other"), flipped, std::string(32, '\0')}) {
      expect_error(RawPut(server.alice(), id, data + wrong, length), "400", "sha256_mismatch");
    }
    // The content's last bytes changed, its digest kept.
    std::string changed = data;
    changed[size - 1] = static_cast<char>(changed[size - 1] ^ 0x20);
    expect_error(RawPut(server.alice(), id, changed + digest, length), "400", "sha256_mismatch");
    // A body cut short: the digest missing, cut in the middle, one byte short; the content
    // itself cut.
    for (size_t sent : {size_t{size}, size + 10, size + 31, size - 1}) {
      std::string body = (data + digest).substr(0, sent);
      expect_error(RawPut(server.alice(), id, body, length), "400", "incomplete_body");
    }
    // Without the digest, the content with a valid 32-byte tail of its own is not enough:
    // its last 32 bytes are taken as the digest of the rest.
    expect_error(RawPut(server.alice(), id, data, size), "400", "sha256_mismatch");
    // Wrong spellings of the mode.
    for (const char* header : {"APPENDED", "Appended", "appended;", "append", "", "appendedx"}) {
      SCOPED_TRACE(header);
      expect_error(RawPut(server.alice(), id, data + digest, length, header), "400", "bad_sha256");
    }
    EXPECT_EQ(server.store().Head("alice", id).status().code(), StatusCode::kNotFound);
  }
  // Shorter than a digest.
  for (uint64_t length : {0, 1, 31}) {
    std::string answer = raw(RawPut(server.alice(), id, std::string(length, 'z'), length));
    EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0u) << answer;
    EXPECT_NE(answer.find("bad_content_length"), std::string::npos) << answer;
  }
  // The store saw nothing: nothing listed, no bytes counted, no file left.
  EXPECT_TRUE(server.store().List("alice", {}).value().objects.empty());
  EXPECT_EQ(server.store().UsedBytes("alice").value(), 0u);
  EXPECT_EQ(CountFiles(server.data_dir() + "/tmp"), 0u);
  EXPECT_EQ(CountFiles(server.data_dir() + "/blobs"), 0u);
  // And the same request done right is stored.
  const std::string ok = Pattern(100);
  std::string answer = raw(RawPut(server.alice(), id, ok + RawDigest(ok), 132));
  EXPECT_EQ(answer.rfind("HTTP/1.1 201", 0), 0u) << answer;
}

TEST(AppendedDigestServerTest, LimitsAndQuotaCountTheObjectWithoutItsDigest) {
  ServerConfig config = TestServer::DefaultConfig();
  config.quota_bytes = 3000;
  config.max_object_bytes = 2000;
  TestServer server(config);
  // With 100-continue: a body of `length` (object and digest) for `id`, answered `status`.
  auto announce = [&](const std::string& id, uint64_t length, const std::string& status,
                      const std::string& code) {
    const std::string reply = server.server().ProcessRawForTesting(
        RawPut(server.alice(), id, "", length, "appended", "Expect: 100-continue\r\n"));
    EXPECT_EQ(reply.rfind("HTTP/1.1 " + status, 0), 0u) << reply;
    EXPECT_NE(reply.find(code), std::string::npos) << reply;
  };
  // An object of exactly max_object_bytes is accepted, one byte more is not.
  announce(Sha("a"), 2032, "100 Continue", "");
  announce(Sha("a"), 2033, "413", "object_too_large");

  auto alice = server.Client(server.alice());
  const std::string max_object = Pattern(2000);
  auto put = alice->Put(Sha("a"), AppendedPut(max_object), StringSource(max_object));
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(server.store().UsedBytes("alice").value(), 2000u);
  auto bigger = alice->Put(Sha("b"), AppendedPut(Pattern(2001)), StringSource(Pattern(2001)));
  EXPECT_EQ(bigger.status().reason(), "object_too_large");
  // 1000 bytes are left in the quota: exactly 1000 fit (the body is 1032 bytes).
  announce(Sha("c"), 1032, "100 Continue", "");
  announce(Sha("c"), 1033, "507", "quota_exceeded");
  auto too_much = alice->Put(Sha("c"), AppendedPut(Pattern(1001)), StringSource(Pattern(1001)));
  EXPECT_EQ(too_much.status().reason(), "quota_exceeded");
  const std::string rest = Pattern(1000, 'k');
  auto fits = alice->Put(Sha("c"), AppendedPut(rest), StringSource(rest));
  ASSERT_TRUE(fits.ok()) << fits.status().ToString();
  EXPECT_EQ(server.store().UsedBytes("alice").value(), 3000u);
  EXPECT_EQ(alice->Head(Sha("c")).value().size, 1000u);
}

// ---- The client: RemoteStore::Put with an empty sha256 over TLS.

TEST(AppendedDigestServerTest, RemoteStorePutWithoutDigest) {
  TestServer server;
  auto alice = server.Client(server.alice());
  // Empty, inline, file-backed, and larger than the client's 256 KiB pieces.
  for (size_t size : {size_t{0}, size_t{100}, size_t{kInlineMax + 1}, size_t{(600 << 10) + 7}}) {
    SCOPED_TRACE(size);
    const std::string data = Pattern(size, 'a' + static_cast<char>(size % 5));
    const std::string id = Sha("client " + std::to_string(size));
    auto put = alice->Put(id, AppendedPut(data), StringSource(data));
    ASSERT_TRUE(put.ok()) << put.status().ToString();
    EXPECT_EQ(put->sha256, Sha(data));
    EXPECT_EQ(put->size, size);
    EXPECT_EQ(put->id, id);
    EXPECT_EQ(alice->Head(id).value().sha256, Sha(data));
    EXPECT_EQ(GetAll(*alice, id), data);
  }
  EXPECT_EQ(alice->List({}).value().objects.size(), 4u);
  EXPECT_EQ(CountFiles(server.data_dir() + "/blobs"), 2u);
  EXPECT_EQ(server.store().UsedBytes("alice").value(), 100 + kInlineMax + 1 + (600 << 10) + 7);

  // A source shorter than declared: the client stops, the server stores nothing, and the
  // client's next request works.
  const std::string data = Pattern(300000);
  auto short_put =
      alice->Put(Sha("short"), AppendedPut(data), StringSource(data.substr(0, 200000)));
  EXPECT_EQ(short_put.status().reason(), "size_mismatch");
  EXPECT_EQ(alice->Head(Sha("short")).status().code(), StatusCode::kNotFound);
  // A replacement: same id, new content, digest appended again.
  const std::string id = Sha("client 100");
  const std::string replacement = Pattern(5000, 'z');
  auto replaced = alice->Put(id, AppendedPut(replacement), StringSource(replacement));
  ASSERT_TRUE(replaced.ok()) << replaced.status().ToString();
  EXPECT_EQ(replaced->sha256, Sha(replacement));
  EXPECT_EQ(GetAll(*alice, id), replacement);
  // Garbage digests are refused by the client before any request.
  PutOptions garbage = AppendedPut(replacement);
  garbage.sha256 = "appended";
  EXPECT_EQ(alice->Put(id, garbage, StringSource(replacement)).status().reason(), "bad_sha256");
}

// The retrying decorator re-opens the source for every attempt; a create-only retry whose
// first attempt landed compares the stored digest with the source's.
TEST(AppendedDigestServerTest, RetriesReopenTheSource) {
  TestServer server;
  auto alice = server.Client(server.alice());
  class LostReply final : public ObjectClientWrapper {
   public:
    explicit LostReply(ObjectClient* inner) : ObjectClientWrapper(inner) {}
    StatusOr<ObjectInfo> Put(std::string_view id, const PutOptions& o,
                             const SourceFactory& s) override {
      ++puts_;
      if (fail_before_ > 0) {
        --fail_before_;
        auto file = s();  // half-read source: the retry MUST start over
        std::vector<uint8_t> buf(10);
        if (file.ok()) (*file)->Read(buf).status().IgnoreError();
        return UnavailableError("connection reset", "network");
      }
      auto result = ObjectClientWrapper::Put(id, o, s);
      if (lose_after_ > 0 && result.ok()) {
        --lose_after_;
        return UnavailableError("reply lost", "network");
      }
      return result;
    }
    int puts_ = 0;
    int fail_before_ = 0;
    int lose_after_ = 0;
  };
  LostReply flaky(alice.get());
  RetryingObjectClient retrying(&flaky, {.sleep = [](std::chrono::milliseconds) {}});

  const std::string data = Pattern(kInlineMax * 2);
  flaky.fail_before_ = 2;
  auto put = retrying.Put(Sha("r1"), AppendedPut(data), StringSource(data));
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(flaky.puts_, 3);
  EXPECT_EQ(put->sha256, Sha(data));
  EXPECT_EQ(GetAll(*alice, Sha("r1")), data);

  // Create-only, first reply lost: the retry gets 412, hashes the source, and succeeds.
  flaky.puts_ = 0;
  flaky.lose_after_ = 1;
  auto created = retrying.Put(Sha("r2"), AppendedPut(data, true), StringSource(data));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(flaky.puts_, 2);
  EXPECT_EQ(created->sha256, Sha(data));
  // Different content of the same size under that id stays a conflict.
  flaky.puts_ = 0;
  flaky.fail_before_ = 1;
  const std::string other = Pattern(kInlineMax * 2, 'b');
  auto clash = retrying.Put(Sha("r2"), AppendedPut(other, true), StringSource(other));
  EXPECT_EQ(clash.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(GetAll(*alice, Sha("r2")), data);
}

}  // namespace
}  // namespace cardvault
