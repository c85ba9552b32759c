// End-to-end tests: a real TLS server on 127.0.0.1 with the real RemoteStore client.
#include <gtest/gtest.h>
#include <netinet/tcp.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "api/retrying_object_client.h"
#include "core/fault_injection_env.h"
#include "tests/api/raw_tls.h"
#include "tests/api/server_test_util.h"

namespace cardvault {
namespace {

std::string IdOf(std::string_view data) { return Sha(data); }

StatusOr<ObjectInfo> PutString(ObjectClient& client, std::string_view data,
                               bool create_only = false) {
  return client.Put(IdOf(data), PutFor(data, create_only), StringSource(std::string(data)));
}

StatusOr<std::string> GetString(ObjectClient& client, std::string_view id, uint64_t offset = 0) {
  std::string out;
  auto info = client.Get(id, {.offset = offset}, [&](ByteView b) {
    out.append(AsStringView(b));
    return Status::Ok();
  });
  if (!info.ok()) return info.status();
  return out;
}

TEST(ServerTest, RoundTripHeadRangeListDelete) {
  TestServer server;
  auto alice = server.Client(server.alice());
  ASSERT_TRUE(alice->Health().ok());
  EXPECT_EQ(*alice->WhoAmI(), "alice");

  const std::string data = "ciphertext bytes \x01\x02\x03";
  auto put = PutString(*alice, data);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(put->size, data.size());
  EXPECT_EQ(put->sha256, Sha(data));
  EXPECT_EQ(*GetString(*alice, IdOf(data)), data);
  EXPECT_EQ(*GetString(*alice, IdOf(data), 11), data.substr(11));

  auto head = alice->Head(IdOf(data));
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->size, data.size());
  EXPECT_EQ(head->kind, ObjectKind::kBlob);

  // A key object lists separately from blobs.
  const std::string key = "wrapped key";
  PutOptions key_options = PutFor(key);
  key_options.kind = ObjectKind::kKey;
  ASSERT_TRUE(alice->Put(IdOf(key), key_options, StringSource(key)).ok());
  auto keys = alice->List({.kind = ObjectKind::kKey});
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->objects.size(), 1u);
  EXPECT_EQ(keys->objects[0].id, IdOf(key));
  auto all = alice->List({});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->objects.size(), 2u);

  ASSERT_TRUE(alice->Delete(IdOf(data)).ok());
  EXPECT_EQ(alice->Head(IdOf(data)).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(GetString(*alice, IdOf(data)).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(alice->Delete(IdOf(data)).code(), StatusCode::kNotFound);
  EXPECT_EQ(alice->List({}).value().objects.size(), 1u);
}

TEST(ServerTest, ZeroByteObject) {
  TestServer server;
  auto alice = server.Client(server.alice());
  auto put = PutString(*alice, "");
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(put->size, 0u);
  auto got = GetString(*alice, IdOf(""));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, "");
  EXPECT_EQ(alice->Head(IdOf("")).value().size, 0u);
}

TEST(ServerTest, ShaMismatchStoresNothing) {
  TestServer server;
  auto alice = server.Client(server.alice());
  size_t before = CountFiles(server.data_dir() + "/blobs");
  const std::string data(100000, 'q');
  PutOptions options = PutFor(data);
  options.sha256 = Sha("something else");
  auto put = alice->Put(IdOf(data), options, StringSource(data));
  EXPECT_EQ(put.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(put.status().reason(), "sha256_mismatch");
  EXPECT_EQ(alice->Head(IdOf(data)).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(alice->List({}).value().objects.empty());
  EXPECT_EQ(CountFiles(server.data_dir() + "/blobs"), before);
  EXPECT_EQ(CountFiles(server.data_dir() + "/tmp"), 0u);
  // The connection is still usable afterwards.
  EXPECT_TRUE(PutString(*alice, data).ok());
}

// A whole download is checked against the object's SHA-256 unless the caller turns it off
// (content that authenticates itself, like a blob).
TEST(ServerTest, WholeDownloadsAreCheckedUnlessTheCallerSaysOtherwise) {
  TestServer server;
  auto alice = server.Client(server.alice());
  const std::string data(200000, 'c');  // above the inline limit: a file of its own
  ASSERT_TRUE(PutString(*alice, data).ok());
  // Damage the stored bytes behind the server's back.
  std::string stored;
  for (const auto& e :
       std::filesystem::recursive_directory_iterator(server.data_dir() + "/blobs")) {
    if (e.is_regular_file() && e.file_size() == data.size()) stored = e.path().string();
  }
  ASSERT_FALSE(stored.empty());
  {
    std::fstream f(stored, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1000);
    f.put('X');
  }
  auto checked = GetString(*alice, IdOf(data));
  EXPECT_EQ(checked.status().reason(), "sha256_mismatch");
  std::string out;
  GetOptions unchecked;
  unchecked.verify_sha256 = false;
  auto info = alice->Get(IdOf(data), unchecked, [&](ByteView b) {
    out.append(AsStringView(b));
    return Status::Ok();
  });
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(out.size(), data.size());
  EXPECT_EQ(out[1000], 'X');
}

TEST(ServerTest, CreateOnlyIsIdempotentUnderRetry) {
  TestServer server;
  auto alice = server.Client(server.alice());
  const std::string data = "first version";
  ASSERT_TRUE(PutString(*alice, data, /*create_only=*/true).ok());
  auto again = PutString(*alice, data, /*create_only=*/true);
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(again.status().reason(), "object_exists");

  // A reply lost after the server stored the object: the retry sees 412, checks the
  // stored SHA-256 and reports success.
  class LostReply final : public ObjectClientWrapper {
   public:
    explicit LostReply(ObjectClient* inner) : ObjectClientWrapper(inner) {}
    StatusOr<ObjectInfo> Put(std::string_view id, const PutOptions& o,
                             const SourceFactory& s) override {
      auto result = ObjectClientWrapper::Put(id, o, s);
      if (++puts_ == 1 && result.ok()) return UnavailableError("reply lost", "network");
      return result;
    }
    int puts_ = 0;
  };
  LostReply flaky(alice.get());
  int sleeps = 0;
  RetryingObjectClient retrying(&flaky, {.sleep = [&](std::chrono::milliseconds) { ++sleeps; }});
  const std::string other = "second object";
  auto put = PutString(retrying, other, /*create_only=*/true);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(flaky.puts_, 2);
  EXPECT_EQ(sleeps, 1);
  EXPECT_EQ(*GetString(*alice, IdOf(other)), other);
  // A different content under an existing id is still a conflict after a retry.
  flaky.puts_ = 0;
  PutOptions clash = PutFor("different");
  clash.create_only = true;
  auto conflict = retrying.Put(IdOf(other), clash, StringSource("different"));
  EXPECT_EQ(conflict.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(*GetString(*alice, IdOf(other)), other);
}

TEST(ServerTest, QuotaAndObjectSizeLimits) {
  ServerConfig config = TestServer::DefaultConfig();
  config.quota_bytes = 1 << 20;
  config.max_object_bytes = 768 << 10;
  TestServer server(config);
  auto alice = server.Client(server.alice());
  const std::string a(600 << 10, 'a');
  const std::string b(600 << 10, 'b');
  const std::string c(800 << 10, 'c');
  ASSERT_TRUE(PutString(*alice, a).ok());
  auto over = PutString(*alice, b);
  EXPECT_EQ(over.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(over.status().reason(), "quota_exceeded");
  auto big = PutString(*alice, c);
  EXPECT_EQ(big.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(big.status().reason(), "object_too_large");
  EXPECT_EQ(alice->Head(IdOf(b)).status().code(), StatusCode::kNotFound);
  // Large bodies over a limit are refused with the right error, not a broken connection.
  const std::string huge(20 << 20, 'h');
  auto huge_put = PutString(*alice, huge);
  EXPECT_EQ(huge_put.status().reason(), "object_too_large");
  // Bob's quota is his own.
  auto bob = server.Client(server.bob());
  EXPECT_TRUE(PutString(*bob, b).ok());
  // Deleting frees quota.
  ASSERT_TRUE(alice->Delete(IdOf(a)).ok());
  EXPECT_TRUE(PutString(*alice, b).ok());
}

TEST(ServerTest, LargeUploadOverQuotaIsRefusedUpFront) {
  ServerConfig config = TestServer::DefaultConfig();
  config.quota_bytes = 32 << 20;
  TestServer server(config);
  auto alice = server.Client(server.alice());
  const std::string big(20 << 20, 'b');
  ASSERT_TRUE(PutString(*alice, big).ok());
  const std::string more(20 << 20, 'm');
  auto over = PutString(*alice, more);
  EXPECT_EQ(over.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(over.status().reason(), "quota_exceeded");
  // Replacing the existing object with one of the same size fits.
  PutOptions replace = PutFor(more);
  auto replaced = alice->Put(IdOf(big), replace, StringSource(more));
  EXPECT_TRUE(replaced.ok()) << replaced.status().ToString();
}

TEST(ServerTest, DiskFullIs507AndStoresNothing) {
  FaultInjectionEnv env(Env::Default());
  TestServer server(TestServer::DefaultConfig(), &env);
  auto alice = server.Client(server.alice());
  const std::string data(200000, 'd');
  env.SetDiskFullAfter(1000);
  auto put = PutString(*alice, data);
  EXPECT_EQ(put.status().code(), StatusCode::kResourceExhausted) << put.status().ToString();
  EXPECT_EQ(put.status().reason(), "insufficient_storage");
  EXPECT_EQ(alice->Head(IdOf(data)).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(CountFiles(server.data_dir() + "/tmp"), 0u);
  env.ClearFaults();
  EXPECT_TRUE(PutString(*alice, data).ok());
}

TEST(ServerTest, UsersAreIsolated) {
  TestServer server;
  auto alice = server.Client(server.alice());
  auto bob = server.Client(server.bob());
  const std::string data = "alice's secret ciphertext";
  ASSERT_TRUE(PutString(*alice, data).ok());
  const std::string missing = IdOf("never stored");
  for (const std::string& id : {IdOf(data), missing}) {
    EXPECT_EQ(bob->Head(id).status().code(), StatusCode::kNotFound);
    EXPECT_EQ(bob->Delete(id).code(), StatusCode::kNotFound);
  }
  // Another user's object answers exactly like a missing one.
  Status theirs = GetString(*bob, IdOf(data)).status();
  Status nothing = GetString(*bob, missing).status();
  EXPECT_EQ(theirs, nothing);
  EXPECT_EQ(theirs.code(), StatusCode::kNotFound);
  EXPECT_TRUE(bob->List({}).value().objects.empty());
  EXPECT_EQ(*GetString(*alice, IdOf(data)), data);
}

TEST(ServerTest, RevokedTokenIsRefused) {
  TestServer server;
  auto issued = server.tokens().Issue("alice", "old laptop");
  ASSERT_TRUE(issued.ok());
  auto client = server.Client(std::string(issued->token.AsStringView()));
  EXPECT_EQ(*client->WhoAmI(), "alice");
  ASSERT_TRUE(server.tokens().Revoke(issued->id).ok());
  auto who = client->WhoAmI();
  EXPECT_EQ(who.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(who.status().reason(), "bad_token");
  EXPECT_EQ(PutString(*client, "x").status().code(), StatusCode::kPermissionDenied);
  // A token with a valid id but a wrong secret is refused the same way.
  std::string forged = server.alice();
  forged.back() = forged.back() == '0' ? '1' : '0';
  EXPECT_EQ(server.Client(forged)->WhoAmI().status().reason(), "bad_token");
}

TEST(ServerTest, RepeatedBadTokensGetBackoff) {
  ServerConfig config = TestServer::DefaultConfig();
  config.auth_failures_before_backoff = 3;
  config.auth_backoff_seconds = 60;
  TestServer server(config);
  auto bad = server.Client("cvt_1_" + std::string(64, '0'));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(bad->WhoAmI().status().reason(), "bad_token");
  }
  auto blocked = bad->WhoAmI();
  EXPECT_EQ(blocked.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(blocked.status().reason(), "too_many_auth_failures");
  EXPECT_TRUE(IsRetryable(blocked.status()));
  // The address is blocked, whatever token it presents next.
  EXPECT_EQ(server.Client(server.alice())->WhoAmI().status().reason(), "too_many_auth_failures");
}

TEST(ServerTest, CertificateVerification) {
  TestServer server;
  RemoteStoreOptions wrong;
  wrong.port = server.port();
  wrong.pinned_sha256 = std::string(64, 'a');
  wrong.token = SecretData::CopyFrom(server.alice());
  auto wrong_client = RemoteStore::New(std::move(wrong));
  ASSERT_TRUE(wrong_client.ok());
  Status refused = (*wrong_client)->Health();
  EXPECT_EQ(refused.code(), StatusCode::kPermissionDenied) << refused.ToString();
  EXPECT_EQ(refused.reason(), "tls_pin_mismatch");
  EXPECT_FALSE(IsRetryable(refused));

  // The same pin in upper case with colons is accepted.
  std::string pretty;
  for (size_t i = 0; i < server.fingerprint().size(); i += 2) {
    if (!pretty.empty()) pretty += ':';
    pretty += server.fingerprint().substr(i, 2);
  }
  for (char& ch : pretty) ch = static_cast<char>(std::toupper(ch));
  RemoteStoreOptions pinned;
  pinned.port = server.port();
  pinned.pinned_sha256 = pretty;
  EXPECT_TRUE(RemoteStore::New(std::move(pinned)).value()->Health().ok());

  // A CA file: the certificate verifies, with host-name checking.
  RemoteStoreOptions ca;
  ca.host = "localhost";
  ca.port = server.port();
  ca.ca_file = server.dir() + "/cert.pem";
  Status with_ca = RemoteStore::New(std::move(ca)).value()->Health();
  EXPECT_TRUE(with_ca.ok()) << with_ca.ToString();
  RemoteStoreOptions other_ca;
  other_ca.host = "localhost";
  other_ca.port = server.port();
  ASSERT_TRUE(GenerateSelfSignedCertificate(*Env::Default(), server.dir() + "/other.pem",
                                            server.dir() + "/other.key", {"localhost"}, {})
                  .ok());
  other_ca.ca_file = server.dir() + "/other.pem";
  Status untrusted = RemoteStore::New(std::move(other_ca)).value()->Health();
  EXPECT_EQ(untrusted.code(), StatusCode::kPermissionDenied) << untrusted.ToString();

  // Verification cannot be switched off.
  RemoteStoreOptions none;
  none.port = server.port();
  EXPECT_EQ(RemoteStore::New(std::move(none)).status().reason(), "no_verification");
}

TEST(ServerTest, ConnectionsBeyondTheCapGet503) {
  ServerConfig config = TestServer::DefaultConfig();
  config.max_connections = 1;
  TestServer server(config);
  // The only connection slot is held by this keep-alive connection.
  auto first = server.Client(server.alice());
  ASSERT_EQ(*first->WhoAmI(), "alice");
  auto second = server.Client(server.bob());
  auto refused = second->WhoAmI();
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(refused.status().reason(), "overloaded");
  EXPECT_TRUE(IsRetryable(refused.status()));
  // Once the first connection closes, its slot serves the next one.
  first.reset();
  auto third = server.Client(server.bob());
  StatusOr<std::string> who = UnavailableError("not tried");
  for (int i = 0; i < 100 && !who.ok(); ++i) {
    who = third->WhoAmI();
    if (!who.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(who.value(), "bob");
}

TEST(ServerTest, PaginationAcross2500Objects) {
  TestServer server;
  auto alice = server.Client(server.alice());
  // Four connections in parallel, like the agent's upload workers.
  constexpr int kObjects = 2500;
  constexpr int kWorkers = 4;
  std::vector<std::string> ids;
  for (int i = 0; i < kObjects; ++i) ids.push_back(IdOf("object " + std::to_string(i)));
  std::atomic<int> failures{0};
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&, w] {
      auto client = server.Client(server.alice());
      for (int i = w; i < kObjects; i += kWorkers) {
        if (!PutString(*client, "object " + std::to_string(i)).ok()) ++failures;
      }
    });
  }
  for (auto& t : workers) t.join();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(failures.load(), 0);
  std::printf("[ measure ] %d small PUTs over %d TLS connections: %.0f objects/s\n", kObjects,
              kWorkers, kObjects / seconds);
  std::sort(ids.begin(), ids.end());
  std::vector<std::string> seen;
  ListOptions options;
  options.limit = 1000;
  int pages = 0;
  while (true) {
    auto page = alice->List(options);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    ++pages;
    for (const auto& o : page->objects) seen.push_back(o.id);
    if (!page->truncated) break;
    options.after = page->objects.back().id;
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, ids);
  auto prefixed = alice->List({.prefix = ids[0].substr(0, 1)});
  ASSERT_TRUE(prefixed.ok());
  EXPECT_GT(prefixed->objects.size(), 50u);
  for (const auto& o : prefixed->objects) EXPECT_EQ(o.id[0], ids[0][0]);
}

}  // namespace
}  // namespace cardvault

namespace cardvault {
namespace {

// The socket-free entry point used by the request fuzzer reaches the same routes, checks
// and store as a TLS connection, pipelined requests included.
TEST(ServerTest, RawRequestsTakeTheSameRoutesAsConnections) {
  TestServer server;
  auto raw = [&](const std::string& bytes) { return server.server().ProcessRawForTesting(bytes); };
  EXPECT_EQ(raw("GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n").rfind("HTTP/1.1 200", 0), 0u);
  std::string id(64, 'a');
  std::string put = "PUT /v1/objects/" + id + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                    server.alice() + "\r\nX-Content-SHA256: " + Sha("hello") +
                    "\r\nContent-Length: 5\r\n\r\nhello";
  std::string get = "GET /v1/objects/" + id + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                    server.alice() + "\r\n\r\n";
  std::string both = raw(put + get);
  EXPECT_EQ(both.rfind("HTTP/1.1 201", 0), 0u) << both;
  EXPECT_NE(both.find("\r\n\r\nhello"), std::string::npos) << both;
  EXPECT_EQ(raw("GET /v1/objects/" + id + " HTTP/1.1\r\nHost: x\r\n\r\n").rfind("HTTP/1.1 401", 0),
            0u);
  std::string bad_sha = put;
  bad_sha.replace(bad_sha.size() - 5, 5, "hellx");
  std::string answer = raw(bad_sha);
  EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0u) << answer;
  EXPECT_NE(answer.find("sha256_mismatch"), std::string::npos);
  EXPECT_EQ(raw("\x01garbage\r\n\r\n").rfind("HTTP/1.1 400", 0), 0u);
}

// Two requests in two TLS records that reach the server in one TCP segment (corked): the
// server reads both records at once (TlsStream reads ahead), so the second request waits
// inside OpenSSL, not on the socket. It is answered at once, not after the keep-alive
// timeout (5 s) that a wait on the socket alone would take.
TEST(ServerTest, SecondRequestReadAheadIsAnsweredAtOnce) {
  TestServer server;
  RawTls tls(server.port());
  ASSERT_TRUE(tls.ok());
  const std::string health = "GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n";
  const auto start = std::chrono::steady_clock::now();
  int cork = 1;
  ASSERT_EQ(::setsockopt(tls.fd(), IPPROTO_TCP, TCP_CORK, &cork, sizeof(cork)), 0);
  ASSERT_TRUE(tls.Send(health));
  ASSERT_TRUE(tls.Send(health));  // a second record
  cork = 0;
  ASSERT_EQ(::setsockopt(tls.fd(), IPPROTO_TCP, TCP_CORK, &cork, sizeof(cork)), 0);
  EXPECT_EQ(tls.ReadResponse().rfind("HTTP/1.1 200", 0), 0u);
  EXPECT_EQ(tls.ReadResponse().rfind("HTTP/1.1 200", 0), 0u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

// A BlobStore whose byte store is misconfigured: injects `fault` into every call, such as
// "object_store_denied" (S3 refusing the server's credentials) or "no_such_bucket".
class MisconfiguredStore final : public BlobStore {
 public:
  explicit MisconfiguredStore(Status fault) : fault_(std::move(fault)) {}
  StatusOr<std::unique_ptr<PendingPut>> BeginPut(std::string_view, std::string_view,
                                                 const PutOptions&) override {
    return Denied();
  }
  StatusOr<std::unique_ptr<BlobReader>> Open(std::string_view, std::string_view) override {
    return Denied();
  }
  StatusOr<std::unique_ptr<BlobReader>> OpenPrefix(std::string_view, std::string_view,
                                                   uint64_t) override {
    return Denied();
  }
  StatusOr<ObjectInfo> Head(std::string_view, std::string_view) override { return Denied(); }
  Status Delete(std::string_view, std::string_view) override { return Denied(); }
  StatusOr<ListPage> List(std::string_view, const ListOptions&) override { return Denied(); }
  StatusOr<uint64_t> UsedBytes(std::string_view) override { return Denied(); }
  StatusOr<uint64_t> QuotaBytes(std::string_view) override { return Denied(); }
  Status Probe() override { return Denied(); }

 private:
  Status Denied() const { return fault_; }
  const Status fault_;
};

// The server's storage refusing the server's own credentials, or its bucket missing, is a
// 503 storage_misconfigured with Retry-After naming a server configuration problem, never a
// 401 that would tell the client its token is wrong nor a 500; a bad token is still a 401.
class MisconfiguredStorageTest : public ::testing::TestWithParam<Status> {};

INSTANTIATE_TEST_SUITE_P(
    Faults, MisconfiguredStorageTest,
    ::testing::Values(PermissionDeniedError("GET of blobs/abc: HTTP 403 AccessDenied; check "
                                            "access_key_id",
                                            "object_store_denied"),
                      FailedPreconditionError("GET of blobs/abc: HTTP 404 NoSuchBucket; bucket "
                                              "b does not exist",
                                              "no_such_bucket")),
    [](const ::testing::TestParamInfo<Status>& info) {
      return info.param.reason() == "no_such_bucket" ? "NoSuchBucket" : "ObjectStoreDenied";
    });

TEST_P(MisconfiguredStorageTest, AnswersStorageMisconfiguredNot401Nor500) {
  char tmpl[] = "/tmp/cv-server-denied-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  Env* env = Env::Default();
  ASSERT_TRUE(GenerateSelfSignedCertificate(*env, dir + "/cert.pem", dir + "/key.pem",
                                            {"localhost"}, {"127.0.0.1"})
                  .ok());
  auto tokens = SqliteTokenStore::Open(env, dir + "/auth.db").value();
  ASSERT_TRUE(tokens->AddUser("alice").ok());
  const std::string token(tokens->Issue("alice", "laptop").value().token.AsStringView());
  MisconfiguredStore store(GetParam());
  auto server = BlobServer::New(TestServer::DefaultConfig(), dir + "/cert.pem", dir + "/key.pem",
                                &store, tokens.get(), env)
                    .value();
  const std::string id(64, 'a');
  for (const std::string& request :
       std::vector<std::string>{"GET /v1/objects/" + id, "HEAD /v1/objects/" + id,
                                "GET /v1/objects", "GET /v1/whoami", "DELETE /v1/objects/" + id}) {
    SCOPED_TRACE(request);
    const std::string answer = server->ProcessRawForTesting(
        request + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token + "\r\n\r\n");
    EXPECT_EQ(answer.rfind("HTTP/1.1 503", 0), 0u) << answer;
    EXPECT_NE(answer.find("Retry-After: 30"), std::string::npos) << answer;
    if (request.starts_with("HEAD")) continue;  // no body
    EXPECT_NE(answer.find("\"storage_misconfigured\""), std::string::npos) << answer;
    EXPECT_NE(answer.find("server configuration problem"), std::string::npos) << answer;
    EXPECT_EQ(answer.find("AccessDenied"), std::string::npos) << "details stay in the log";
    EXPECT_EQ(answer.find("NoSuchBucket"), std::string::npos) << "details stay in the log";
  }
  const std::string put = server->ProcessRawForTesting(
      "PUT /v1/objects/" + id + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
      "\r\nX-Content-SHA256: " + Sha("hello") + "\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_EQ(put.rfind("HTTP/1.1 503", 0), 0u) << put;
  const std::string bad = server->ProcessRawForTesting(
      "GET /v1/objects/" + id + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nope\r\n\r\n");
  EXPECT_EQ(bad.rfind("HTTP/1.1 401", 0), 0u) << bad;
  const std::string ready =
      server->ProcessRawForTesting("GET /v1/ready HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(ready.rfind("HTTP/1.1 503", 0), 0u) << ready;
  EXPECT_NE(ready.find("\"storage_misconfigured\""), std::string::npos) << ready;
  server.reset();
  tokens.reset();
  std::filesystem::remove_all(dir);
}

std::string Ask(BlobServer& server, const std::string& path) {
  return server.ProcessRawForTesting("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n");
}

// /v1/ready is 200 while the stores answer and 503 with the request's reason and
// Retry-After while the byte store is gone; /v1/health stays 200 throughout. The stores are
// probed at most once a second whatever the number of callers.
TEST(ServerTest, ReadyFollowsTheStoresAndProbesAtMostOnceASecond) {
  TestServer server;
  std::string ready = Ask(server.server(), "/v1/ready");
  EXPECT_EQ(ready.rfind("HTTP/1.1 200", 0), 0u) << ready;
  EXPECT_NE(ready.find("\"ready\""), std::string::npos) << ready;
  const std::string blobs = server.data_dir() + "/blobs";
  std::filesystem::rename(blobs, blobs + ".away");
  ::testing::internal::CaptureStderr();
  const auto gone = std::chrono::steady_clock::now();
  for (int i = 0; i < 30 && ready.rfind("HTTP/1.1 503", 0) != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ready = Ask(server.server(), "/v1/ready");
  }
  const double waited =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - gone).count();
  // 200 callers in the next half second: at most one more probe (and one more log line).
  std::vector<std::thread> callers;
  std::atomic<int> unready{0};
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        unready += Ask(server.server(), "/v1/ready").rfind("HTTP/1.1 503", 0) == 0;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    });
  }
  for (auto& c : callers) c.join();
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(ready.rfind("HTTP/1.1 503", 0), 0u) << ready;
  EXPECT_NE(ready.find("\"object_store_unavailable\""), std::string::npos) << ready;
  EXPECT_NE(ready.find("Retry-After: 5"), std::string::npos) << ready;
  EXPECT_GT(waited, 0.0);
  EXPECT_LE(waited, 2.5);
  EXPECT_EQ(unready.load(), 200);
  size_t probes = 0;
  for (size_t at = log.find("not ready"); at != std::string::npos;
       at = log.find("not ready", at + 1)) {
    ++probes;
  }
  EXPECT_GE(probes, 1u);
  EXPECT_LE(probes, 3u) << log;
  EXPECT_EQ(Ask(server.server(), "/v1/health").rfind("HTTP/1.1 200", 0), 0u);
  std::filesystem::rename(blobs + ".away", blobs);
  for (int i = 0; i < 30 && ready.rfind("HTTP/1.1 200", 0) != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ready = Ask(server.server(), "/v1/ready");
  }
  EXPECT_EQ(ready.rfind("HTTP/1.1 200", 0), 0u) << ready;
}

}  // namespace
}  // namespace cardvault
