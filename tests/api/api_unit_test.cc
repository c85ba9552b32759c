// Unit tests for the api pieces without a network: ids, tokens, config, limiter, retries.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <deque>
#include <filesystem>
#include <fstream>

#include "api/auth_limiter.h"
#include "api/retrying_object_client.h"
#include "api/server_config.h"
#include "api/tls_identity.h"
#include "storage/object_id.h"
#include "storage/sqlite_token_store.h"
#include "tests/storage/auth_backoff_conformance.h"

namespace cardvault {
namespace {

TEST(ObjectIdTest, AlphabetAndLength) {
  EXPECT_TRUE(IsValidObjectId(std::string(64, 'a')));
  EXPECT_TRUE(IsValidObjectId("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"));
  EXPECT_FALSE(IsValidObjectId(std::string(63, 'a')));
  EXPECT_FALSE(IsValidObjectId(std::string(65, 'a')));
  EXPECT_FALSE(IsValidObjectId(std::string(64, 'A')));
  EXPECT_FALSE(IsValidObjectId(std::string(62, 'a') + ".."));
  EXPECT_FALSE(IsValidObjectId(std::string(63, 'a') + std::string(1, '\0')));
  EXPECT_TRUE(IsValidObjectIdPrefix(""));
  EXPECT_FALSE(IsValidObjectIdPrefix("../"));
  EXPECT_EQ(ParseObjectKind("key"), ObjectKind::kKey);
  EXPECT_EQ(ParseObjectKind("Key"), std::nullopt);
  EXPECT_TRUE(IsValidUserName("alice-2"));
  EXPECT_FALSE(IsValidUserName("-alice"));
  EXPECT_FALSE(IsValidUserName("Alice"));
  EXPECT_FALSE(IsValidUserName("../root"));
  EXPECT_FALSE(IsValidUserName(std::string(33, 'a')));
}

class TokenStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cv-token-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    store_ = SqliteTokenStore::Open(Env::Default(), dir_ + "/auth.db").value();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::string dir_;
  std::unique_ptr<TokenStore> store_;
};

TEST_F(TokenStoreTest, OnlyDigestsAreStored) {
  ASSERT_TRUE(store_->AddUser("alice").ok());
  auto t = store_->Issue("alice", "laptop");
  ASSERT_TRUE(t.ok());
  std::string secret(t->token.AsStringView().substr(t->token.size() - 64));
  store_.reset();
  for (const auto& e : std::filesystem::directory_iterator(dir_)) {
    std::ifstream in(e.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    EXPECT_EQ(bytes.find(secret.substr(0, 32)), std::string::npos) << e.path();
  }
}

TEST(ServerConfigTest, RoundTripDefaultsAndRejections) {
  ServerConfig config;
  config.port = 9443;
  config.quota_bytes = 12345;
  config.access_log = false;
  auto parsed = ServerConfig::FromJson(config.ToJson());
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->port, 9443);
  EXPECT_EQ(parsed->quota_bytes, 12345u);
  EXPECT_FALSE(parsed->access_log);
  auto partial = ServerConfig::FromJson(R"({"max_connections": 2})");
  ASSERT_TRUE(partial.ok());
  EXPECT_EQ(partial->max_connections, 2);
  EXPECT_EQ(partial->port, ServerConfig().port);
  for (const char* bad : {R"({"thread": 2})", R"({"port": "x"})", R"({"port": 70000})", R"([1])",
                          "{", R"({"max_connections": 0})", R"({"max_header_bytes": 10})"}) {
    EXPECT_EQ(ServerConfig::FromJson(bad).status().reason(), "bad_config") << bad;
  }
}

// The stores: "index" (sqlite or PostgreSQL without a password), "bytes" and its "s3" object.
TEST(ServerConfigTest, StoresRoundTripAndRefusePasswords) {
  ServerConfig config;
  config.index = "postgresql://cv@db.example.org:5432/cardvault?sslmode=verify-full";
  config.index_pool_size = 16;
  config.bytes = "s3";
  config.s3.endpoint = "https://s3.example.org";
  config.s3.bucket = "vault";
  config.s3.credentials_file = "s3.json";
  config.s3.part_bytes = 8 << 20;
  config.s3.parts_in_flight = 3;
  auto parsed = ServerConfig::FromJson(config.ToJson());
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_TRUE(parsed->uses_postgresql());
  EXPECT_EQ(parsed->index_pool_size, 16);
  EXPECT_EQ(parsed->s3, config.s3);
  // The default writes no "s3" object, and reads back as SQLite and files.
  EXPECT_EQ(ServerConfig().ToJson().find("\"s3\""), std::string::npos);
  EXPECT_FALSE(ServerConfig::FromJson("{}")->uses_postgresql());
  for (const char* with_password :
       {R"({"index": "postgresql://cv:secret@db/cardvault"})",
        R"({"index": "postgres://cv:@db/cardvault"})",
        R"({"index": "postgresql://cv@db/cardvault?sslmode=require&password=secret"})",
        R"({"index": "host=db user=cv password=secret dbname=cardvault"})",
        R"({"index": "host=db password = 'secret'"})"}) {
    auto refused = ServerConfig::FromJson(with_password);
    EXPECT_EQ(refused.status().reason(), "password_in_config") << with_password;
    EXPECT_EQ(refused.status().message().find("secret"), std::string::npos);
  }
  EXPECT_TRUE(ServerConfig::FromJson(R"({"index": "host=/run/pg passfile=/etc/cv/pgpass"})").ok());
  for (const char* bad :
       {R"({"bytes": "tape"})", R"({"index": ""})", R"({"index_pool_size": 0})",
        R"({"bytes": "s3", "index": "host=db", "s3": {"bucket": "b"}})",
        R"({"bytes": "s3", "s3": {"endpoint": "e", "bucket": "b", "credentials_file": "c"}})",
        R"({"s3": {"endpont": "x"}})", R"({"s3": 5})"}) {
    EXPECT_EQ(ServerConfig::FromJson(bad).status().reason(), "bad_config") << bad;
  }
  EXPECT_NE(ServerConfig::FromJson(R"({"s3": {"endpont": "x"}})")
                .status()
                .message()
                .find("\"s3.endpont\""),
            std::string::npos);
}

// Config files written before issue 17 list the thread pool's keys: they still load.
TEST(ServerConfigTest, RetiredKeysAreAccepted) {
  auto old = ServerConfig::FromJson(R"({"threads": 8, "max_queued_connections": 64})");
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  EXPECT_EQ(old->max_connections, ServerConfig().max_connections);
}

TEST(ServerConfigTest, ErrorsNameTheUnknownKeys) {
  auto bad = ServerConfig::FromJson(R"({"port": 1, "max_conections": 5, "qouta_bytes": 1})");
  ASSERT_EQ(bad.status().reason(), "bad_config");
  EXPECT_NE(bad.status().message().find("\"max_conections\""), std::string::npos)
      << bad.status().message();
  EXPECT_NE(bad.status().message().find("\"qouta_bytes\""), std::string::npos);
  EXPECT_EQ(bad.status().message().find("\"port\""), std::string::npos);
  // A wrong type names its key too.
  auto typed = ServerConfig::FromJson(R"({"max_header_count": "many"})");
  EXPECT_NE(typed.status().message().find("max_header_count"), std::string::npos)
      << typed.status().message();
}

TEST(AuthLimiterTest, BlocksAfterFailuresWithinWindow) {
  const AuthBackoffPolicy p = ConformancePolicy();
  AuthLimiter limiter(p.max_failures, static_cast<int>(p.window_seconds),
                      static_cast<int>(p.backoff_seconds));
  ExpectBackoffContract(limiter);
}

TEST(TlsIdentityTest, FingerprintsNormalizeAndMatchTheCertificate) {
  EXPECT_EQ(*NormalizeFingerprint(std::string(32, 'A') + ":" + std::string(32, 'b')),
            std::string(32, 'a') + std::string(32, 'b'));
  EXPECT_EQ(NormalizeFingerprint("abc").status().reason(), "bad_fingerprint");
  char tmpl[] = "/tmp/cv-tls-test-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  auto fp = GenerateSelfSignedCertificate(*Env::Default(), dir + "/c.pem", dir + "/k.pem",
                                          {"localhost"}, {"127.0.0.1"});
  ASSERT_TRUE(fp.ok()) << fp.status().ToString();
  EXPECT_EQ(*CertificateFingerprintFromPemFile(dir + "/c.pem"), *fp);
  EXPECT_EQ(Env::Default()->Stat(dir + "/k.pem").value().mode & 0777, 0600u);
  std::filesystem::remove_all(dir);
}

// Replays scripted results and counts calls.
class ScriptedClient final : public ObjectClient {
 public:
  std::deque<Status> put_results;
  std::deque<Status> get_results;
  std::string object = "0123456789";
  int puts = 0, gets = 0, heads = 0, deletes = 0;
  std::vector<uint64_t> get_offsets;
  std::deque<Status> delete_results;

  StatusOr<ObjectInfo> Put(std::string_view id, const PutOptions& o,
                           const SourceFactory&) override {
    ++puts;
    Status s = Pop(put_results);
    if (!s.ok()) return s;
    return ObjectInfo{std::string(id), o.kind, o.size, o.sha256, 1};
  }
  // Each scripted failure delivers 3 more bytes first, like a dropped connection.
  StatusOr<ObjectInfo> Get(std::string_view id, const GetOptions& o,
                           const ByteSink& sink) override {
    ++gets;
    const uint64_t offset = o.offset;
    get_offsets.push_back(offset);
    Status s = Pop(get_results);
    size_t end = s.ok() ? object.size() : std::min<size_t>(offset + 3, object.size());
    CV_RETURN_IF_ERROR(sink(AsBytes(std::string_view(object).substr(offset, end - offset))));
    if (!s.ok()) return s;
    return ObjectInfo{std::string(id), ObjectKind::kBlob, object.size(), "", 1};
  }
  StatusOr<ObjectInfo> Head(std::string_view id) override {
    ++heads;
    return ObjectInfo{std::string(id), ObjectKind::kBlob, 5, std::string(64, 'a'), 1};
  }
  Status Delete(std::string_view) override {
    ++deletes;
    return Pop(delete_results);
  }
  StatusOr<ListPage> List(const ListOptions&) override { return ListPage{}; }
  StatusOr<std::string> WhoAmI() override { return std::string("alice"); }

 private:
  static Status Pop(std::deque<Status>& q) {
    if (q.empty()) return Status::Ok();
    Status s = q.front();
    q.pop_front();
    return s;
  }
};

TEST(RetryingObjectClientTest, RetriesOnlyTransientFailuresWithGrowingBackoff) {
  ScriptedClient inner;
  std::vector<int64_t> sleeps;
  RetryingObjectClient client(
      &inner, {.max_attempts = 4,
               .initial_backoff = std::chrono::milliseconds(100),
               .max_backoff = std::chrono::milliseconds(250),
               .sleep = [&](std::chrono::milliseconds d) { sleeps.push_back(d.count()); }});
  PutOptions options{ObjectKind::kBlob, 5, std::string(64, 'a'), false};
  inner.put_results = {UnavailableError("down"), UnavailableError("503")};
  EXPECT_TRUE(client.Put(std::string(64, 'b'), options, nullptr).ok());
  EXPECT_EQ(inner.puts, 3);
  ASSERT_EQ(sleeps.size(), 2u);
  EXPECT_GE(sleeps[0], 50);
  EXPECT_LE(sleeps[0], 100);
  EXPECT_GE(sleeps[1], 100);
  EXPECT_LE(sleeps[1], 200);

  inner.puts = 0;
  inner.put_results = {PermissionDeniedError("no", "bad_token")};
  EXPECT_EQ(client.Put(std::string(64, 'b'), options, nullptr).status().reason(), "bad_token");
  EXPECT_EQ(inner.puts, 1);

  inner.puts = 0;
  sleeps.clear();
  inner.put_results = {UnavailableError("1"), UnavailableError("2"), UnavailableError("3"),
                       UnavailableError("4"), UnavailableError("5")};
  EXPECT_EQ(client.Put(std::string(64, 'b'), options, nullptr).status().message(), "4");
  EXPECT_EQ(inner.puts, 4);
  for (int64_t s : sleeps) EXPECT_LE(s, 250);

  // A create-only put whose first reply was lost: 412 plus a matching HEAD is success.
  inner.puts = 0;
  options.create_only = true;
  inner.put_results = {UnavailableError("lost"), AlreadyExistsError("exists", "object_exists")};
  EXPECT_TRUE(client.Put(std::string(64, 'b'), options, nullptr).ok());
  EXPECT_EQ(inner.heads, 1);
  // Without an earlier failed attempt, 412 stays a conflict.
  inner.put_results = {AlreadyExistsError("exists", "object_exists")};
  EXPECT_EQ(client.Put(std::string(64, 'b'), options, nullptr).status().code(),
            StatusCode::kAlreadyExists);
}

TEST(RetryingObjectClientTest, GetResumesWhereTheSinkStopped) {
  ScriptedClient inner;
  RetryingObjectClient client(&inner, {.sleep = [](std::chrono::milliseconds) {}});
  inner.get_results = {UnavailableError("drop"), UnavailableError("drop")};
  std::string got;
  auto info = client.Get(std::string(64, 'c'), {}, [&](ByteView b) {
    got.append(AsStringView(b));
    return Status::Ok();
  });
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(got, inner.object);  // every byte exactly once
  EXPECT_EQ(inner.get_offsets, (std::vector<uint64_t>{0, 3, 6}));

  // A failing sink is permanent: no retry.
  inner.gets = 0;
  inner.get_results = {};
  auto failed = client.Get(std::string(64, 'c'), {}, [](ByteView) { return IoError("disk"); });
  EXPECT_EQ(failed.status().code(), StatusCode::kIoError);
  EXPECT_EQ(inner.gets, 1);
}

TEST(RetryingObjectClientTest, DeleteAfterLostReplyIsDone) {
  ScriptedClient inner;
  RetryingObjectClient client(&inner, {.sleep = [](std::chrono::milliseconds) {}});
  inner.delete_results = {UnavailableError("lost"), NotFoundError("gone")};
  EXPECT_TRUE(client.Delete(std::string(64, 'd')).ok());
  EXPECT_EQ(inner.deletes, 2);
  inner.delete_results = {NotFoundError("never there")};
  EXPECT_EQ(client.Delete(std::string(64, 'd')).code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace cardvault
