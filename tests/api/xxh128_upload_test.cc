// Tests of appended-XXH3-128 uploads ("X-Content-XXH128: appended"): the hasher, the store's
// computed-digest commit, raw requests and the RemoteStore client against a real TLS server.
#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <string>
#include <vector>

#include "api/retrying_object_client.h"
#include "api/xxh128.h"
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

std::string RawXxh(std::string_view data) {
  Xxh128Digest d = Xxh128(AsBytes(data));
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

// An appended-XXH3-128 PUT of `id` as raw HTTP; `body` is sent as is with `content_length`.
// `checksum_headers` replaces the X-Content-XXH128 header line(s) when given.
std::string RawPut(const std::string& token, const std::string& id, const std::string& body,
                   uint64_t content_length,
                   const std::string& checksum_headers = "X-Content-XXH128: appended\r\n",
                   const std::string& extra_headers = "") {
  return "PUT /v1/objects/" + id + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
         "\r\n" + checksum_headers + extra_headers +
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

PutOptions XxhPut(std::string_view data, bool create_only = false) {
  PutOptions options{ObjectKind::kBlob, data.size(), "", create_only};
  options.transfer_check = TransferCheck::kXxh128;
  return options;
}

// ---- The hasher: canonical (big-endian) XXH3-128, seed 0, as `xxhsum -H2` prints it.

TEST(Xxh128Test, KnownAnswersAndStreaming) {
  EXPECT_EQ(HexEncode(Xxh128(AsBytes(""))), "99aa06d3014798d86001c324468d497f");
  EXPECT_EQ(HexEncode(Xxh128(AsBytes("xxh128 digest seed!!"))),
            "b614a723b54e9ad7c678ce02c0ec0fab");  // fuzz/server_seeds/put_xxh128.http
  const std::string data = Pattern(300000);
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

class ComputedDigestStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cv-xxh128-store-XXXXXX";
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

// ---- The server, raw requests (the same routes as TLS connections).

TEST(Xxh128ServerTest, RawRoundTripWithEverySplitOfTheDigest) {
  TestServer server;
  // httplib reads bodies in 4 KiB pieces from the start of the body: these sizes put the
  // end of the content and the 16 digest bytes on every side of a piece boundary.
  std::vector<size_t> sizes = {0, 1, 15, 16, 17, 4079, 4080, 4081, 4088, 4095, 4096, 4097};
  sizes.push_back(25 * 4096 - 10);  // file-backed, the digest split 10 + 6
  for (size_t size : sizes) {
    SCOPED_TRACE(size);
    const std::string data = Pattern(size, 'A');
    const std::string id = Sha("raw " + std::to_string(size));
    std::string answer = server.server().ProcessRawForTesting(
        RawPut(server.alice(), id, data + RawXxh(data), data.size() + 16));
    ASSERT_EQ(answer.rfind("HTTP/1.1 201", 0), 0u) << answer.substr(0, 300);
    EXPECT_NE(answer.find("\"sha256\":\"" + Sha(data) + "\""), std::string::npos) << answer;
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

TEST(Xxh128ServerTest, RawHostileBodiesStoreNothing) {
  TestServer server;
  auto raw = [&](const std::string& bytes) { return server.server().ProcessRawForTesting(bytes); };
  const std::string id = Sha("hostile");
  for (size_t size : {size_t{100}, size_t{kInlineMax + 5000}}) {
    SCOPED_TRACE(size);
    const std::string data = Pattern(size);
    const std::string digest = RawXxh(data);
    const uint64_t length = size + 16;
    auto expect_error = [&](const std::string& request, const std::string& status,
                            const std::string& code) {
      std::string answer = raw(request);
      EXPECT_EQ(answer.rfind("HTTP/1.1 " + status, 0), 0u) << answer.substr(0, 300);
      EXPECT_NE(answer.find("\"code\":\"" + code + "\""), std::string::npos) << answer;
    };
    // A wrong digest: another content's, one flipped bit, all zeros, the byte order swapped,
    // the first 16 bytes of the SHA-256.
    std::string flipped = digest;
    flipped[15] = static_cast<char>(flipped[15] ^ 1);
    const std::string swapped = digest.substr(8) + digest.substr(0, 8);
    const Sha256Digest sha = Sha256(AsBytes(data));
    const std::string sha_prefix(reinterpret_cast<const char*>(sha.data()), 16);
    for (const std::string& wrong :
         {RawXxh("other"), flipped, std::string(16, '\0'), swapped, sha_prefix}) {
      expect_error(RawPut(server.alice(), id, data + wrong, length), "400", "xxh128_mismatch");
    }
    // The content's last bytes changed, its digest kept.
    std::string changed = data;
    changed[size - 1] = static_cast<char>(changed[size - 1] ^ 0x20);
    expect_error(RawPut(server.alice(), id, changed + digest, length), "400", "xxh128_mismatch");
    // A body cut short: the digest missing, cut in the middle, one byte short; the content
    // itself cut.
    for (size_t sent : {size_t{size}, size + 5, size + 15, size - 1}) {
      std::string body = (data + digest).substr(0, sent);
      expect_error(RawPut(server.alice(), id, body, length), "400", "incomplete_body");
    }
    // Without the digest: the content's last 16 bytes are taken as the digest of the rest.
    expect_error(RawPut(server.alice(), id, data, size), "400", "xxh128_mismatch");
    // A SHA-256 appended in XXH128 mode, or an XXH3-128 appended in SHA-256 mode.
    expect_error(RawPut(server.alice(), id, data + std::string(sha.begin(), sha.end()), size + 32),
                 "400", "xxh128_mismatch");
    expect_error(
        RawPut(server.alice(), id, data + digest, length, "X-Content-SHA256: appended\r\n"), "400",
        "sha256_mismatch");
    // Wrong spellings of the mode.
    for (const char* header : {"APPENDED", "Appended", "appended;", "append", "appendedx", "1"}) {
      SCOPED_TRACE(header);
      expect_error(RawPut(server.alice(), id, data + digest, length,
                          std::string("X-Content-XXH128: ") + header + "\r\n"),
                   "400", "bad_xxh128");
    }
    // Both headers, whatever their values, or neither.
    for (const std::string& sha_value : {std::string("appended"), Sha(data)}) {
      expect_error(RawPut(server.alice(), id, data + digest, length,
                          "X-Content-SHA256: " + sha_value + "\r\nX-Content-XXH128: appended\r\n"),
                   "400", "conflicting_checksums");
    }
    expect_error(RawPut(server.alice(), id, data, size, ""), "400", "bad_sha256");
    EXPECT_EQ(server.store().Head("alice", id).status().code(), StatusCode::kNotFound);
  }
  // Shorter than a digest.
  for (uint64_t length : {0, 1, 15}) {
    std::string answer = raw(RawPut(server.alice(), id, std::string(length, 'z'), length));
    EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0u) << answer;
    EXPECT_NE(answer.find("bad_content_length"), std::string::npos) << answer;
  }
  // The store saw nothing: nothing listed, no bytes counted, no file left.
  EXPECT_TRUE(server.store().List("alice", {}).value().objects.empty());
  EXPECT_EQ(server.store().UsedBytes("alice").value(), 0u);
  EXPECT_EQ(CountFiles(server.data_dir() + "/tmp"), 0u);
  EXPECT_EQ(CountFiles(server.data_dir() + "/blobs"), 0u);
  // And the same request done right is stored; 16 bytes are the empty object's digest.
  const std::string ok = Pattern(100);
  std::string answer = raw(RawPut(server.alice(), id, ok + RawXxh(ok), 116));
  EXPECT_EQ(answer.rfind("HTTP/1.1 201", 0), 0u) << answer;
  answer = raw(RawPut(server.alice(), Sha("empty"), RawXxh(""), 16));
  EXPECT_EQ(answer.rfind("HTTP/1.1 201", 0), 0u) << answer;
  EXPECT_EQ(server.store().Head("alice", Sha("empty")).value().sha256, Sha(""));
}

TEST(Xxh128ServerTest, LimitsAndQuotaCountTheObjectWithoutItsDigest) {
  ServerConfig config = TestServer::DefaultConfig();
  config.quota_bytes = 3000;
  config.max_object_bytes = 2000;
  TestServer server(config);
  // With 100-continue: a body of `length` (object and digest) for `id`, answered `status`.
  auto announce = [&](const std::string& id, uint64_t length, const std::string& status,
                      const std::string& code) {
    const std::string reply = server.server().ProcessRawForTesting(
        RawPut(server.alice(), id, "", length, "X-Content-XXH128: appended\r\n",
               "Expect: 100-continue\r\n"));
    EXPECT_EQ(reply.rfind("HTTP/1.1 " + status, 0), 0u) << reply;
    EXPECT_NE(reply.find(code), std::string::npos) << reply;
  };
  // An object of exactly max_object_bytes is accepted, one byte more is not.
  announce(Sha("a"), 2016, "100 Continue", "");
  announce(Sha("a"), 2017, "413", "object_too_large");

  auto alice = server.Client(server.alice());
  const std::string max_object = Pattern(2000);
  auto put = alice->Put(Sha("a"), XxhPut(max_object), StringSource(max_object));
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(server.store().UsedBytes("alice").value(), 2000u);
  auto bigger = alice->Put(Sha("b"), XxhPut(Pattern(2001)), StringSource(Pattern(2001)));
  EXPECT_EQ(bigger.status().reason(), "object_too_large");
  // 1000 bytes are left in the quota: exactly 1000 fit (the body is 1016 bytes).
  announce(Sha("c"), 1016, "100 Continue", "");
  announce(Sha("c"), 1017, "507", "quota_exceeded");
  auto too_much = alice->Put(Sha("c"), XxhPut(Pattern(1001)), StringSource(Pattern(1001)));
  EXPECT_EQ(too_much.status().reason(), "quota_exceeded");
  const std::string rest = Pattern(1000, 'k');
  auto fits = alice->Put(Sha("c"), XxhPut(rest), StringSource(rest));
  ASSERT_TRUE(fits.ok()) << fits.status().ToString();
  EXPECT_EQ(server.store().UsedBytes("alice").value(), 3000u);
  EXPECT_EQ(alice->Head(Sha("c")).value().size, 1000u);
}

// ---- The client: RemoteStore::Put with TransferCheck::kXxh128 over TLS.

TEST(Xxh128ServerTest, RemoteStorePutWithAppendedXxh128) {
  TestServer server;
  auto alice = server.Client(server.alice());
  // Empty, inline, file-backed, and larger than the client's 256 KiB pieces.
  for (size_t size : {size_t{0}, size_t{100}, size_t{kInlineMax + 1}, size_t{(600 << 10) + 7}}) {
    SCOPED_TRACE(size);
    const std::string data = Pattern(size, 'a' + static_cast<char>(size % 5));
    const std::string id = Sha("client " + std::to_string(size));
    auto put = alice->Put(id, XxhPut(data), StringSource(data));
    ASSERT_TRUE(put.ok()) << put.status().ToString();
    EXPECT_EQ(put->sha256, Sha(data));  // the server's own SHA-256
    EXPECT_EQ(put->size, size);
    EXPECT_EQ(put->id, id);
    EXPECT_EQ(alice->Head(id).value().sha256, Sha(data));
    EXPECT_EQ(GetAll(*alice, id), data);  // checked against that SHA-256 by Get
  }
  EXPECT_EQ(alice->List({}).value().objects.size(), 4u);
  EXPECT_EQ(CountFiles(server.data_dir() + "/blobs"), 2u);
  EXPECT_EQ(server.store().UsedBytes("alice").value(), 100 + kInlineMax + 1 + (600 << 10) + 7);

  // A source shorter than declared: the client stops, the server stores nothing, and the
  // client's next request works.
  const std::string data = Pattern(300000);
  auto short_put = alice->Put(Sha("short"), XxhPut(data), StringSource(data.substr(0, 200000)));
  EXPECT_EQ(short_put.status().reason(), "size_mismatch");
  EXPECT_EQ(alice->Head(Sha("short")).status().code(), StatusCode::kNotFound);
  // A replacement: same id, new content, create-only refused while it exists.
  const std::string id = Sha("client 100");
  const std::string replacement = Pattern(5000, 'z');
  auto replaced = alice->Put(id, XxhPut(replacement), StringSource(replacement));
  ASSERT_TRUE(replaced.ok()) << replaced.status().ToString();
  EXPECT_EQ(replaced->sha256, Sha(replacement));
  EXPECT_EQ(GetAll(*alice, id), replacement);
  EXPECT_EQ(alice->Put(id, XxhPut(data, true), StringSource(data)).status().code(),
            StatusCode::kAlreadyExists);
  // With a known SHA-256, transfer_check is ignored: the header digest is checked.
  PutOptions known = XxhPut(data);
  known.sha256 = Sha(data);
  auto put = alice->Put(Sha("known"), known, StringSource(data));
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  known.sha256 = Sha("something else");
  EXPECT_EQ(alice->Put(Sha("known2"), known, StringSource(data)).status().reason(),
            "sha256_mismatch");
  EXPECT_EQ(alice->Head(Sha("known2")).status().code(), StatusCode::kNotFound);
}

// The retrying decorator re-opens the source for every attempt; a create-only retry whose
// first attempt landed hashes the source with SHA-256 to compare with the stored object.
TEST(Xxh128ServerTest, RetriesReopenTheSource) {
  TestServer server;
  auto alice = server.Client(server.alice());
  class LostReply final : public ObjectClientWrapper {
   public:
    explicit LostReply(ObjectClient* inner) : ObjectClientWrapper(inner) {}
    StatusOr<ObjectInfo> Put(std::string_view id, const PutOptions& o,
                             const SourceFactory& s) override {
      ++puts_;
      EXPECT_EQ(o.transfer_check, TransferCheck::kXxh128);
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
  auto put = retrying.Put(Sha("r1"), XxhPut(data), StringSource(data));
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(flaky.puts_, 3);
  EXPECT_EQ(put->sha256, Sha(data));
  EXPECT_EQ(GetAll(*alice, Sha("r1")), data);

  // Create-only, first reply lost: the retry gets 412, hashes the source, and succeeds.
  flaky.puts_ = 0;
  flaky.lose_after_ = 1;
  auto created = retrying.Put(Sha("r2"), XxhPut(data, true), StringSource(data));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(flaky.puts_, 2);
  EXPECT_EQ(created->sha256, Sha(data));
  // Different content of the same size under that id stays a conflict.
  flaky.puts_ = 0;
  flaky.fail_before_ = 1;
  const std::string other = Pattern(kInlineMax * 2, 'b');
  auto clash = retrying.Put(Sha("r2"), XxhPut(other, true), StringSource(other));
  EXPECT_EQ(clash.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(GetAll(*alice, Sha("r2")), data);
}

}  // namespace
}  // namespace cardvault
