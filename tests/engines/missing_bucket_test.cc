// A real cardvault-server on PostgreSQL + radosgw whose bucket is deleted while it serves
// (or misnamed): every request that needs the bucket answers 503 storage_misconfigured with
// Retry-After, never a 500 (GET /v1/ready too); the server logs it once with what to check, and
// `cardvault-server check` names the bucket.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "tests/api/raw_tls.h"
#include "tests/api/server_test_util.h"
#include "tests/engines/pg_s3_stores.h"
#include "tests/integration/local_server.h"

namespace cardvault {
namespace {

namespace fs = std::filesystem;

const std::string kServer = std::string(CARDVAULT_BINARY_DIR) + "/api/cardvault-server";

// One request on its own connection; the whole answer (headers and body).
std::string Raw(const LocalServer& server, const std::string& request, const std::string& body) {
  RawTls tls(server.port());
  if (!tls.ok()) return "<no connection>";
  tls.Send(request + "Connection: close\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n\r\n" + body);
  return tls.ReadToClose();
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// The byte store itself: once its bucket is gone, reading, deleting and listing fail with
// kFailedPrecondition "no_such_bucket", never as if the object were missing (kNotFound,
// which the server reports as object_damaged) or deleted.
TEST(MissingBucketTest, ByteStoreSaysNoSuchBucketNotNoSuchKey) {
  auto stores = PgS3Stores::New();
  if (!stores.ok() && stores.status().code() == StatusCode::kUnsupported) {
    GTEST_SKIP() << stores.status().message();
  }
  ASSERT_TRUE(stores.ok()) << stores.status().ToString();
  auto bytes = stores->OpenBytes();
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  auto writer = (*bytes)->NewWriter(3);
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Append(AsBytes("abc")).ok());
  auto key = (*writer)->Commit();
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  ASSERT_TRUE(stores->DeleteBucket().ok());
  EXPECT_EQ((*bytes)->Open(*key).status().reason(), "no_such_bucket");
  EXPECT_EQ((*bytes)->Delete(*key).reason(), "no_such_bucket");
  EXPECT_EQ((*bytes)->ForEach([](const StoredKey&) { return Status::Ok(); }).reason(),
            "no_such_bucket");
}

TEST(MissingBucketTest, ServerAnswers503StorageMisconfiguredAndCheckNamesTheBucket) {
  auto stores = PgS3Stores::New();
  if (!stores.ok() && stores.status().code() == StatusCode::kUnsupported) {
    GTEST_SKIP() << stores.status().message();
  }
  ASSERT_TRUE(stores.ok()) << stores.status().ToString();
  char tmpl[] = "/tmp/cv-missing-bucket-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  LocalServer server(dir);
  nlohmann::json config = stores->Config();
  config["inline_max_bytes"] = 1024;
  ASSERT_TRUE(server.Init(config.dump()).ok());
  auto token = server.AddUser("alice", dir + "/alice.token");
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  ASSERT_TRUE(server.Start().ok());
  const std::string data(5000, 'x');  // above inline_max_bytes: its bytes are in the bucket
  ASSERT_TRUE(server.Client(*token).value()->Put(Sha(data), PutFor(data), StringSource(data)).ok());

  ASSERT_TRUE(stores->DeleteBucket().ok());
  const std::string auth = " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + *token + "\r\n";
  const std::string other(6000, 'y');
  for (int attempt = 0; attempt < 3; ++attempt) {
    SCOPED_TRACE(attempt);
    const std::string get = Raw(server, "GET /v1/objects/" + Sha(data) + auth, "");
    EXPECT_EQ(get.rfind("HTTP/1.1 503", 0), 0u) << get;
    EXPECT_NE(get.find("Retry-After: 30"), std::string::npos) << get;
    EXPECT_NE(get.find("\"storage_misconfigured\""), std::string::npos) << get;
    EXPECT_EQ(get.find(stores->bucket()), std::string::npos) << "details stay in the log";
    const std::string put = Raw(
        server, "PUT /v1/objects/" + Sha(other) + auth + "X-Content-SHA256: " + Sha(other) + "\r\n",
        other);
    EXPECT_EQ(put.rfind("HTTP/1.1 503", 0), 0u) << put;
    EXPECT_NE(put.find("\"storage_misconfigured\""), std::string::npos) << put;
  }
  // Readiness says the same: an orchestrator sees a misconfiguration, not a store that is down.
  const std::string ready = Raw(server, "GET /v1/ready HTTP/1.1\r\nHost: x\r\n", "");
  EXPECT_EQ(ready.rfind("HTTP/1.1 503", 0), 0u) << ready;
  EXPECT_NE(ready.find("\"storage_misconfigured\""), std::string::npos) << ready;
  const std::string log = ReadText(server.log_file());
  EXPECT_EQ(Count(log, "storage_misconfigured:"), 1u) << "logged once, not per request:\n" << log;
  EXPECT_NE(log.find("bucket " + stores->bucket() + " does not exist"), std::string::npos) << log;
  EXPECT_NE(log.find("s3.bucket"), std::string::npos) << "says what to check:\n" << log;

  // The operator's check names the missing bucket and what to do.
  CommandResult check = RunCommand({kServer, "--data", server.data_dir(), "check"});
  EXPECT_EQ(check.exit_code, 2) << check.output;
  EXPECT_NE(check.output.find("no_such_bucket"), std::string::npos) << check.output;
  EXPECT_NE(check.output.find("bucket " + stores->bucket() + " does not exist"), std::string::npos)
      << check.output;
  server.Stop();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace cardvault
