// One conformance suite of appended-digest uploads, run against every appended check mode
// ("X-Content-SHA256: appended", "X-Content-XXH128: appended"): raw requests and the
// RemoteStore client against a real TLS server.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <string>
#include <vector>

#include "api/retrying_object_client.h"
#include "tests/api/appended_test_util.h"
#include "tests/api/server_test_util.h"

namespace cardvault {
namespace {

class AppendedCheckTest : public ::testing::TestWithParam<AppendedCheck> {
 protected:
  const AppendedCheck& check() const { return GetParam(); }
  std::string Digest(std::string_view data) const { return check().raw_digest(data); }
  // An upload of `data` in this mode, as a raw request.
  std::string Put(const std::string& token, const std::string& id, const std::string& body,
                  uint64_t content_length, const std::string& extra_headers = "") const {
    return RawPut(token, id, body, content_length, check().HeaderLine(), extra_headers);
  }
  PutOptions Options(std::string_view data, bool create_only = false) const {
    return AppendedPut(data, check().transfer_check, create_only);
  }
};

// ---- The server, raw requests (the same routes as TLS connections).

TEST_P(AppendedCheckTest, RawRoundTripWithEverySplitOfTheDigest) {
  TestServer server;
  // httplib reads bodies in 4 KiB pieces from the start of the body: these sizes put the
  // end of the content and the digest bytes on every side of a piece boundary.
  const size_t d = check().digest_bytes;
  std::vector<size_t> sizes = {
      0,         1,        d - 1, d,    d + 1, 4096 - d - 1,  4096 - d, 4096 - d + 1, 4096 - d + 6,
      4096 - 16, 4096 - 8, 4095,  4096, 4097,  25 * 4096 - 10};  // file-backed, the digest split 10
                                                                 // + (d - 10)
  std::sort(sizes.begin(), sizes.end());
  sizes.erase(std::unique(sizes.begin(), sizes.end()), sizes.end());
  for (size_t size : sizes) {
    SCOPED_TRACE(size);
    const std::string data = Pattern(size, 'A');
    const std::string id = Sha("raw " + std::to_string(size));
    std::string answer = server.server().ProcessRawForTesting(
        Put(server.alice(), id, data + Digest(data), size + d));
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

TEST_P(AppendedCheckTest, RawHostileBodiesStoreNothing) {
  TestServer server;
  auto raw = [&](const std::string& bytes) { return server.server().ProcessRawForTesting(bytes); };
  const size_t d = check().digest_bytes;
  const std::string id = Sha("hostile");
  for (size_t size : {size_t{100}, size_t{kInlineMax + 5000}}) {
    SCOPED_TRACE(size);
    const std::string data = Pattern(size);
    const std::string digest = Digest(data);
    ASSERT_EQ(digest.size(), d);
    const uint64_t length = size + d;
    auto expect_error = [&](const std::string& request, const std::string& status,
                            const std::string& code) {
      std::string answer = raw(request);
      EXPECT_EQ(answer.rfind("HTTP/1.1 " + status, 0), 0u) << answer.substr(0, 300);
      EXPECT_NE(answer.find("\"code\":\"" + code + "\""), std::string::npos) << answer;
    };
    // A wrong digest: another content's, one flipped bit, all zeros, its halves swapped.
    std::string flipped = digest;
    flipped[d - 1] = static_cast<char>(flipped[d - 1] ^ 1);
    const std::string swapped = digest.substr(d / 2) + digest.substr(0, d / 2);
    for (const std::string& wrong : {Digest("other"), flipped, std::string(d, '\0'), swapped}) {
      expect_error(Put(server.alice(), id, data + wrong, length), "400", check().mismatch_code);
    }
    // The content's last bytes changed, its digest kept.
    std::string changed = data;
    changed[size - 1] = static_cast<char>(changed[size - 1] ^ 0x20);
    expect_error(Put(server.alice(), id, changed + digest, length), "400", check().mismatch_code);
    // A body cut short: the digest missing, cut in the middle, one byte short; the content
    // itself cut.
    for (size_t sent : {size_t{size}, size + 5, size + 10, size + d - 1, size - 1}) {
      std::string body = (data + digest).substr(0, sent);
      expect_error(Put(server.alice(), id, body, length), "400", "incomplete_body");
    }
    // Without the digest: the content's last `d` bytes are taken as the digest of the rest.
    expect_error(Put(server.alice(), id, data, size), "400", check().mismatch_code);
    // Wrong spellings of the mode.
    for (const char* value : {"APPENDED", "Appended", "appended;", "append", "appendedx", "1"}) {
      SCOPED_TRACE(value);
      expect_error(RawPut(server.alice(), id, data + digest, length, check().HeaderLine(value)),
                   "400", check().bad_header_code);
    }
    // An empty value: a bad SHA-256, or no XXH128 header at all; both are answered bad_sha256.
    expect_error(RawPut(server.alice(), id, data + digest, length, check().HeaderLine("")), "400",
                 "bad_sha256");
    EXPECT_EQ(server.store().Head("alice", id).status().code(), StatusCode::kNotFound);
  }
  // Shorter than a digest.
  for (uint64_t length : {uint64_t{0}, uint64_t{1}, uint64_t{d - 1}}) {
    std::string answer = raw(Put(server.alice(), id, std::string(length, 'z'), length));
    EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0u) << answer;
    EXPECT_NE(answer.find("bad_content_length"), std::string::npos) << answer;
  }
  // The store saw nothing: nothing listed, no bytes counted, no file left.
  EXPECT_TRUE(server.store().List("alice", {}).value().objects.empty());
  EXPECT_EQ(server.store().UsedBytes("alice").value(), 0u);
  EXPECT_EQ(CountFiles(server.data_dir() + "/tmp"), 0u);
  EXPECT_EQ(CountFiles(server.data_dir() + "/blobs"), 0u);
  // And the same request done right is stored; `d` bytes alone are the empty object's digest.
  const std::string ok = Pattern(100);
  std::string answer = raw(Put(server.alice(), id, ok + Digest(ok), 100 + d));
  EXPECT_EQ(answer.rfind("HTTP/1.1 201", 0), 0u) << answer;
  answer = raw(Put(server.alice(), Sha("empty"), Digest(""), d));
  EXPECT_EQ(answer.rfind("HTTP/1.1 201", 0), 0u) << answer;
  EXPECT_EQ(server.store().Head("alice", Sha("empty")).value().sha256, Sha(""));
}

TEST_P(AppendedCheckTest, LimitsAndQuotaCountTheObjectWithoutItsDigest) {
  ServerConfig config = TestServer::DefaultConfig();
  config.quota_bytes = 3000;
  config.max_object_bytes = 2000;
  TestServer server(config);
  const size_t d = check().digest_bytes;
  // With 100-continue: a body of `length` (object and digest) for `id`, answered `status`.
  auto announce = [&](const std::string& id, uint64_t length, const std::string& status,
                      const std::string& code) {
    const std::string reply = server.server().ProcessRawForTesting(
        Put(server.alice(), id, "", length, "Expect: 100-continue\r\n"));
    EXPECT_EQ(reply.rfind("HTTP/1.1 " + status, 0), 0u) << reply;
    EXPECT_NE(reply.find(code), std::string::npos) << reply;
  };
  // An object of exactly max_object_bytes is accepted, one byte more is not.
  announce(Sha("a"), 2000 + d, "100 Continue", "");
  announce(Sha("a"), 2001 + d, "413", "object_too_large");

  auto alice = server.Client(server.alice());
  const std::string max_object = Pattern(2000);
  auto put = alice->Put(Sha("a"), Options(max_object), StringSource(max_object));
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(server.store().UsedBytes("alice").value(), 2000u);
  auto bigger = alice->Put(Sha("b"), Options(Pattern(2001)), StringSource(Pattern(2001)));
  EXPECT_EQ(bigger.status().reason(), "object_too_large");
  // 1000 bytes are left in the quota: exactly 1000 fit (the body is 1000 + d bytes).
  announce(Sha("c"), 1000 + d, "100 Continue", "");
  announce(Sha("c"), 1001 + d, "507", "quota_exceeded");
  auto too_much = alice->Put(Sha("c"), Options(Pattern(1001)), StringSource(Pattern(1001)));
  EXPECT_EQ(too_much.status().reason(), "quota_exceeded");
  const std::string rest = Pattern(1000, 'k');
  auto fits = alice->Put(Sha("c"), Options(rest), StringSource(rest));
  ASSERT_TRUE(fits.ok()) << fits.status().ToString();
  EXPECT_EQ(server.store().UsedBytes("alice").value(), 3000u);
  EXPECT_EQ(alice->Head(Sha("c")).value().size, 1000u);
}

// ---- The client: RemoteStore::Put with an empty sha256 and this transfer check over TLS.

TEST_P(AppendedCheckTest, RemoteStorePutWithoutDigest) {
  TestServer server;
  auto alice = server.Client(server.alice());
  // Empty, inline, file-backed, and larger than the client's 256 KiB pieces.
  for (size_t size : {size_t{0}, size_t{100}, size_t{kInlineMax + 1}, size_t{(600 << 10) + 7}}) {
    SCOPED_TRACE(size);
    const std::string data = Pattern(size, 'a' + static_cast<char>(size % 5));
    const std::string id = Sha("client " + std::to_string(size));
    auto put = alice->Put(id, Options(data), StringSource(data));
    ASSERT_TRUE(put.ok()) << put.status().ToString();
    EXPECT_EQ(put->sha256, Sha(data));  // the server's SHA-256
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
  auto short_put = alice->Put(Sha("short"), Options(data), StringSource(data.substr(0, 200000)));
  EXPECT_EQ(short_put.status().reason(), "size_mismatch");
  EXPECT_EQ(alice->Head(Sha("short")).status().code(), StatusCode::kNotFound);
  // A replacement: same id, new content, digest appended again; create-only refused while it
  // exists.
  const std::string id = Sha("client 100");
  const std::string replacement = Pattern(5000, 'z');
  auto replaced = alice->Put(id, Options(replacement), StringSource(replacement));
  ASSERT_TRUE(replaced.ok()) << replaced.status().ToString();
  EXPECT_EQ(replaced->sha256, Sha(replacement));
  EXPECT_EQ(GetAll(*alice, id), replacement);
  EXPECT_EQ(alice->Put(id, Options(data, true), StringSource(data)).status().code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(GetAll(*alice, id), replacement);
}

// The retrying decorator re-opens the source for every attempt; a create-only retry whose
// first attempt landed hashes the source with SHA-256 to compare with the stored object.
TEST_P(AppendedCheckTest, RetriesReopenTheSource) {
  TestServer server;
  auto alice = server.Client(server.alice());
  class LostReply final : public ObjectClientWrapper {
   public:
    LostReply(ObjectClient* inner, TransferCheck check)
        : ObjectClientWrapper(inner), check_(check) {}
    StatusOr<ObjectInfo> Put(std::string_view id, const PutOptions& o,
                             const SourceFactory& s) override {
      ++puts_;
      EXPECT_EQ(o.transfer_check, check_);
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
    const TransferCheck check_;
    int puts_ = 0;
    int fail_before_ = 0;
    int lose_after_ = 0;
  };
  LostReply flaky(alice.get(), check().transfer_check);
  RetryingObjectClient retrying(&flaky, {.sleep = [](std::chrono::milliseconds) {}});

  const std::string data = Pattern(kInlineMax * 2);
  flaky.fail_before_ = 2;
  auto put = retrying.Put(Sha("r1"), Options(data), StringSource(data));
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(flaky.puts_, 3);
  EXPECT_EQ(put->sha256, Sha(data));
  EXPECT_EQ(GetAll(*alice, Sha("r1")), data);

  // Create-only, first reply lost: the retry gets 412, hashes the source, and succeeds.
  flaky.puts_ = 0;
  flaky.lose_after_ = 1;
  auto created = retrying.Put(Sha("r2"), Options(data, true), StringSource(data));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(flaky.puts_, 2);
  EXPECT_EQ(created->sha256, Sha(data));
  // Different content of the same size under that id stays a conflict.
  flaky.puts_ = 0;
  flaky.fail_before_ = 1;
  const std::string other = Pattern(kInlineMax * 2, 'b');
  auto clash = retrying.Put(Sha("r2"), Options(other, true), StringSource(other));
  EXPECT_EQ(clash.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(GetAll(*alice, Sha("r2")), data);
}

INSTANTIATE_TEST_SUITE_P(Modes, AppendedCheckTest, ::testing::Values(kSha256Check, kXxh128Check),
                         [](const ::testing::TestParamInfo<AppendedCheck>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace cardvault
