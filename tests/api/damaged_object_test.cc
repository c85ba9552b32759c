// Objects damaged on the server's disk (cut short, extended, removed, a byte changed, an inline
// row altered): a real server on 127.0.0.1 answers 410 object_damaged for GET, Range GET and
// HEAD, the client gives up at once, and `cardvault-server check` finds and quarantines them.
#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/wait.h>

#include <atomic>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "api/retrying_object_client.h"
#include "storage/sqlite_db.h"
#include "tests/api/server_test_util.h"

namespace cardvault {
namespace {

namespace fs = std::filesystem;
const std::string kServer = std::string(CARDVAULT_BINARY_DIR) + "/api/cardvault-server";

struct CommandOutput {
  int exit_code = -1;
  std::string out;  // stdout only
};

CommandOutput RunShell(const std::string& command) {
  FILE* pipe = ::popen((command + " 2>/dev/null").c_str(), "r");
  CommandOutput result;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0) result.out.append(buf, n);
  int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// Data that differs from byte to byte, `size` bytes, seeded by `seed`.
std::string Pattern(size_t size, uint32_t seed) {
  std::string data(size, '\0');
  for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>(((i + seed) * 7919u) >> 5);
  return data;
}

// Counts the calls that reach the server (under a RetryingObjectClient).
class CountingClient final : public ObjectClientWrapper {
 public:
  using ObjectClientWrapper::ObjectClientWrapper;
  StatusOr<ObjectInfo> Get(std::string_view id, const GetOptions& options,
                           const ByteSink& sink) override {
    ++gets;
    return ObjectClientWrapper::Get(id, options, sink);
  }
  StatusOr<ObjectInfo> Head(std::string_view id) override {
    ++heads;
    return ObjectClientWrapper::Head(id);
  }
  std::atomic<int> gets{0};
  std::atomic<int> heads{0};
};

RetryPolicy NoSleep() {
  RetryPolicy policy;
  policy.max_attempts = 5;
  policy.sleep = [](std::chrono::milliseconds) {};
  return policy;
}

void ExpectDamaged(const Status& status, const std::string& what) {
  EXPECT_EQ(status.code(), StatusCode::kCorrupt) << what << ": " << status.ToString();
  EXPECT_EQ(status.reason(), "object_damaged") << what << ": " << status.ToString();
  EXPECT_EQ(status.message().rfind("damaged on the server: ", 0), 0u) << status.message();
  EXPECT_FALSE(IsRetryable(status)) << what;
}

class DamagedObjectTest : public ::testing::Test {
 protected:
  void SetUp() override { client_ = server_.Client(server_.alice()); }

  // Uploads `data` for alice; returns its id.
  std::string Upload(const std::string& data) {
    const std::string id = Sha(data);
    auto info = client_->Put(id, PutFor(data), StringSource(data));
    EXPECT_TRUE(info.ok()) << info.status().ToString();
    return id;
  }

  // The path of a file object's bytes, from the index.
  std::string BlobFile(const std::string& id) {
    auto db = SqliteDb::Open(server_.data_dir() + "/index.db").value();
    Statement stmt =
        db->Prepare("SELECT file FROM objects WHERE id = ?1 AND deleted IS NULL").value();
    EXPECT_TRUE(stmt.BindText(1, id).ok());
    EXPECT_TRUE(stmt.Step().value()) << id;
    const std::string file = stmt.ColumnText(0);
    EXPECT_FALSE(file.empty()) << id << " is inline";
    return server_.data_dir() + "/blobs/" + file.substr(0, 2) + "/" + file;
  }

  // Replaces the bytes of an inline object in the index.
  void SetInlineData(const std::string& id, const std::string& data) {
    auto db = SqliteDb::Open(server_.data_dir() + "/index.db").value();
    Statement stmt = db->Prepare("UPDATE objects SET data = ?2 WHERE id = ?1").value();
    ASSERT_TRUE(stmt.BindText(1, id).ok());
    ASSERT_TRUE(stmt.BindBlob(2, AsBytes(data)).ok());
    ASSERT_TRUE(stmt.Run().ok());
    ASSERT_EQ(db->Changes(), 1);
  }

  // GET, a Range GET and HEAD all answer object_damaged, each with one request only.
  void ExpectServedAsDamaged(const std::string& id, const std::string& what) {
    CountingClient counting(client_.get());
    RetryingObjectClient retrying(&counting, NoSleep());
    uint64_t received = 0;
    auto sink = [&](ByteView b) {
      received += b.size();
      return Status::Ok();
    };
    ExpectDamaged(retrying.Get(id, {}, sink).status(), what + " GET");
    GetOptions range;
    range.offset = 1000;
    ExpectDamaged(retrying.Get(id, range, sink).status(), what + " Range GET");
    ExpectDamaged(retrying.Head(id).status(), what + " HEAD");
    EXPECT_EQ(received, 0u) << what;
    EXPECT_EQ(counting.gets.load(), 2) << what << ": object_damaged MUST NOT be retried";
    EXPECT_EQ(counting.heads.load(), 1) << what;
  }

  // `curl` with alice's token; returns "<http code> <body>" (HEAD: -I, no body).
  std::string Curl(const std::string& args) {
    return RunShell(server_.CurlBase(server_.alice()) + "--max-time 20 " + args +
                    " -w ' %{http_code}'")
        .out;
  }

  CommandOutput Check(const std::string& flags) {
    return RunShell(kServer + " --data " + server_.data_dir() + " check " + flags);
  }

  TestServer server_;
  std::unique_ptr<RemoteStore> client_;
};

TEST_F(DamagedObjectTest, ShortLongAndMissingFilesAnswerObjectDamagedWithoutRetries) {
  const std::string shorter = Upload(Pattern(200000, 1));
  const std::string longer = Upload(Pattern(200000, 2));
  const std::string missing = Upload(Pattern(200000, 3));
  const std::string healthy = Upload(Pattern(200000, 4));
  fs::resize_file(BlobFile(shorter), 200000 - 100);
  std::ofstream(BlobFile(longer), std::ios::binary | std::ios::app) << "extra bytes";
  fs::remove(BlobFile(missing));

  ExpectServedAsDamaged(shorter, "truncated by 100 bytes");
  ExpectServedAsDamaged(longer, "extended");
  ExpectServedAsDamaged(missing, "removed");

  std::string got;
  auto info = client_->Get(healthy, {}, [&](ByteView b) {
    got.append(reinterpret_cast<const char*>(b.data()), b.size());
    return Status::Ok();
  });
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(got, Pattern(200000, 4));
  // The listing still has every row.
  EXPECT_EQ(client_->List({}).value().objects.size(), 4u);
}

TEST_F(DamagedObjectTest, CurlSees410WithTheJsonErrorForGetRangeAndHead) {
  const std::string id = Upload(Pattern(100000, 5));
  fs::resize_file(BlobFile(id), 100000 - 100);
  const std::string url = server_.Url("/v1/objects/" + id);
  ::testing::internal::CaptureStderr();
  const std::string get = Curl(url);
  const std::string log = ::testing::internal::GetCapturedStderr();
  // Logged with the id, the user and both sizes; never a path or the token.
  EXPECT_NE(log.find("object_damaged: user=alice object " + id +
                     " is damaged: 99900 bytes stored, 100000 indexed"),
            std::string::npos)
      << log;
  for (const std::string& secret : {server_.dir(), server_.alice()}) {
    EXPECT_EQ(log.find(secret), std::string::npos) << log;
    EXPECT_EQ(get.find(secret), std::string::npos) << get;
  }
  EXPECT_NE(get.find("\"code\":\"object_damaged\""), std::string::npos) << get;
  EXPECT_NE(get.find(id), std::string::npos) << get;
  EXPECT_NE(get.find("99900 bytes stored, 100000 indexed"), std::string::npos) << get;
  EXPECT_EQ(get.substr(get.size() - 4), " 410") << get;
  // A range to the end, or past what is stored, is the damage too.
  for (const std::string r : {"bytes=10-", "bytes=99890-99950", "bytes=-48"}) {
    const std::string range = Curl("-H 'Range: " + r + "' " + url);
    EXPECT_NE(range.find("\"code\":\"object_damaged\""), std::string::npos) << r << range;
    EXPECT_EQ(range.substr(range.size() - 4), " 410") << r << range;
  }
  // A bounded range of bytes still stored (e.g. the header) is served, marked, so that a
  // client can name the damaged object; never the whole object.
  const std::string prefix = Curl("-i -H 'Range: bytes=10-20' " + url);
  EXPECT_EQ(prefix.substr(prefix.size() - 4), " 206") << prefix;
  EXPECT_NE(prefix.find("X-Object-Damaged: true"), std::string::npos) << prefix;
  EXPECT_NE(prefix.find("bytes 10-20/100000"), std::string::npos) << prefix;
  EXPECT_NE(prefix.find(Pattern(100000, 5).substr(10, 11)), std::string::npos) << prefix;
  const std::string head = Curl("-I " + url);
  EXPECT_NE(head.find(" 410"), std::string::npos) << head;
  EXPECT_EQ(head.find(" 200"), std::string::npos) << head;
}

TEST_F(DamagedObjectTest, InlineObjectWithOtherLengthAnswersObjectDamaged) {
  const std::string data = Pattern(3000, 6);  // below inline_max_bytes: kept in the index
  const std::string id = Upload(data);
  SetInlineData(id, data.substr(0, 2900));
  ExpectServedAsDamaged(id, "inline, 100 bytes short");
}

TEST_F(DamagedObjectTest, FileCutWhileSentCutsTheConnectionAndTheRetryGetsObjectDamaged) {
  const std::string data = Pattern(32 << 20, 7);
  const std::string id = Upload(data);
  const std::string path = BlobFile(id);
  // The first attempt: the file shrinks once the first bytes arrived. The server has sent
  // its status line and MUST cut the connection, never pad: a retryable network error.
  std::string got;
  auto first = client_->Get(id, {}, [&](ByteView b) {
    if (got.empty()) fs::resize_file(path, 1 << 20);
    got.append(reinterpret_cast<const char*>(b.data()), b.size());
    return Status::Ok();
  });
  EXPECT_EQ(first.status().code(), StatusCode::kUnavailable) << first.status().ToString();
  EXPECT_TRUE(IsRetryable(first.status())) << first.status().ToString();
  ASSERT_LT(got.size(), data.size());
  EXPECT_EQ(got, data.substr(0, got.size())) << "never padded";

  // Through the retrying client: one cut attempt, then object_damaged, no more attempts.
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
  CountingClient counting(client_.get());
  RetryingObjectClient retrying(&counting, NoSleep());
  got.clear();
  auto second = retrying.Get(id, {}, [&](ByteView b) {
    if (got.empty()) fs::resize_file(path, 1 << 20);
    got.append(reinterpret_cast<const char*>(b.data()), b.size());
    return Status::Ok();
  });
  ExpectDamaged(second.status(), "cut, then resumed");
  EXPECT_EQ(counting.gets.load(), 2);
  EXPECT_EQ(got, data.substr(0, got.size()));
}

TEST_F(DamagedObjectTest, HealthyDataDirectoryChecksClean) {
  for (uint32_t i = 0; i < 3; ++i) Upload(Pattern(200000, 10 + i));
  for (uint32_t i = 0; i < 3; ++i) Upload(Pattern(100 + i, 20 + i));  // inline
  Upload("");
  CommandOutput text = Check("");
  EXPECT_EQ(text.exit_code, 0) << text.out;
  EXPECT_NE(text.out.find("checked 7 objects (600303 bytes hashed): 0 damaged"), std::string::npos)
      << text.out;
  CommandOutput json = Check("--json");
  EXPECT_EQ(json.exit_code, 0) << json.out;
  nlohmann::json j = nlohmann::json::parse(json.out);
  EXPECT_EQ(j["objects"], 7);
  EXPECT_EQ(j["damaged"].size(), 0u);
  // With no server on the directory too.
  server_.Shutdown();
  text = Check("");
  EXPECT_EQ(text.exit_code, 0) << text.out;
  EXPECT_NE(text.out.find("checked 7 objects"), std::string::npos) << text.out;
}

TEST_F(DamagedObjectTest, CheckReportsExactlyTheDamagedOnesAndQuarantinesThem) {
  const std::string shorter = Upload(Pattern(200000, 1));
  const std::string longer = Upload(Pattern(200000, 2));
  const std::string missing = Upload(Pattern(200000, 3));
  const std::string flipped = Upload(Pattern(200000, 4));
  const std::string inline_flipped = Upload(Pattern(500, 5));
  const std::string healthy = Upload(Pattern(200000, 6));
  const std::string healthy_inline = Upload(Pattern(700, 7));
  fs::resize_file(BlobFile(shorter), 200000 - 100);
  std::ofstream(BlobFile(longer), std::ios::binary | std::ios::app) << "extra bytes";
  fs::remove(BlobFile(missing));
  {
    std::fstream f(BlobFile(flipped), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100000);
    f.put(static_cast<char>(0x5a ^ Pattern(200000, 4)[100000]));
  }
  std::string changed = Pattern(500, 5);
  changed[250] = static_cast<char>(changed[250] ^ 1);
  SetInlineData(inline_flipped, changed);
  // Same size: the server cannot tell without hashing, and serves it (the client's SHA-256
  // check catches it).
  EXPECT_EQ(client_->Get(flipped, {}, [](ByteView) { return Status::Ok(); }).status().reason(),
            "sha256_mismatch");

  const std::map<std::string, std::string> expected = {{shorter, "size"},
                                                       {longer, "size"},
                                                       {missing, "missing"},
                                                       {flipped, "sha256"},
                                                       {inline_flipped, "sha256"}};
  CommandOutput json = Check("--json");  // while the server runs
  EXPECT_EQ(json.exit_code, 1) << json.out;
  nlohmann::json j = nlohmann::json::parse(json.out);
  EXPECT_EQ(j["objects"], 7);
  std::map<std::string, std::string> found;
  for (const auto& d : j["damaged"]) {
    found[d["id"]] = d["problem"];
    EXPECT_EQ(d["user"], "alice");
    EXPECT_FALSE(d["quarantined_now"].get<bool>());
  }
  EXPECT_EQ(found, expected) << json.out;

  CommandOutput text = Check("");
  EXPECT_EQ(text.exit_code, 1) << text.out;
  EXPECT_NE(text.out.find("DAMAGED " + shorter +
                          " user=alice size: 199900 bytes stored, "
                          "200000 indexed"),
            std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("DAMAGED " + missing + " user=alice missing"), std::string::npos);
  EXPECT_EQ(text.out.find(healthy), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("checked 7 objects"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find(": 5 damaged, 0 quarantined now"), std::string::npos) << text.out;

  CommandOutput quarantine = Check("--quarantine --json");
  EXPECT_EQ(quarantine.exit_code, 1) << quarantine.out;
  j = nlohmann::json::parse(quarantine.out);
  EXPECT_EQ(j["quarantined_now"], 5) << quarantine.out;
  // The bytes moved aside (the missing one had none), the rows stay and answer damaged.
  size_t moved = 0;
  for (const auto& e : fs::directory_iterator(server_.data_dir() + "/quarantine")) {
    moved += e.is_regular_file() ? 1 : 0;
  }
  EXPECT_EQ(moved, 4u);
  for (const auto& [id, problem] : expected) ExpectServedAsDamaged(id, "quarantined " + problem);
  EXPECT_EQ(client_->List({}).value().objects.size(), 7u);
  EXPECT_TRUE(client_->Get(healthy, {}, [](ByteView) { return Status::Ok(); }).ok());
  EXPECT_TRUE(client_->Get(healthy_inline, {}, [](ByteView) { return Status::Ok(); }).ok());

  // A later check still reports them (as quarantined) until they are replaced or deleted.
  json = Check("--json");
  EXPECT_EQ(json.exit_code, 1) << json.out;
  j = nlohmann::json::parse(json.out);
  ASSERT_EQ(j["damaged"].size(), 5u) << json.out;
  for (const auto& d : j["damaged"]) EXPECT_EQ(d["problem"], "quarantined") << json.out;
  ASSERT_TRUE(client_->Delete(flipped).ok());
  EXPECT_EQ(nlohmann::json::parse(Check("--json").out)["damaged"].size(), 4u);
}

}  // namespace
}  // namespace cardvault
