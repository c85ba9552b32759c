// Stateless instances: two real cardvault-server processes on different ports over one
// throwaway PostgreSQL cluster (tests/storage/pg_cluster) and one shared data directory for
// the bytes (FileByteStore), as behind a load balancer. Any instance answers any request;
// create-only, quotas, auth back-off, retention purge and orphan sweep hold across them; an
// upload cut by the loss of one instance is retried on the other and stored once.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <utime.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "api/remote_store.h"
#include "core/crypto.h"
#include "core/memory_file.h"
#include "storage/pg_pool.h"
#include "tests/integration/process_util.h"
#include "tests/storage/pg_database_test.h"

namespace cardvault {
namespace {

namespace fs = std::filesystem;
const std::string kServer = std::string(CARDVAULT_BINARY_DIR) + "/api/cardvault-server";

std::string IdOf(const std::string& text) { return HexEncode(Sha256(AsBytes(text))); }

Bytes Pattern(size_t size, uint8_t seed) {
  Bytes b(size);
  for (size_t i = 0; i < size; ++i) b[i] = static_cast<uint8_t>(i * 31 + seed);
  return b;
}

StatusOr<ObjectInfo> Put(ObjectClient& client, const std::string& id, const Bytes& data,
                         bool create_only = false) {
  PutOptions options;
  options.size = data.size();
  options.create_only = create_only;
  return client.Put(id, options, [&]() -> StatusOr<std::unique_ptr<SequentialFile>> {
    return std::unique_ptr<SequentialFile>(new MemorySequentialFile(data));
  });
}

// Regular files under `dir` (recursively); 0 if it does not exist.
size_t FilesUnder(const std::string& dir) {
  size_t n = 0;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(dir, ec)) n += e.is_regular_file() ? 1 : 0;
  return n;
}

// How many times `pattern` occurs in `text`, and the sum of the numbers that follow it.
std::pair<int, int> CountAndSum(const std::string& text, const std::string& pattern) {
  int count = 0, sum = 0;
  for (size_t at = text.find(pattern); at != std::string::npos; at = text.find(pattern, at + 1)) {
    ++count;
    sum += std::atoi(text.c_str() + at + pattern.size());
  }
  return {count, sum};
}

class MultiInstanceTest : public PgDatabaseTest {
 protected:
  static constexpr int kInstances = 2;

  void SetUp() override {
    PgDatabaseTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    char tmpl[] = "/tmp/cv-multi-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    data_ = dir_ + "/data";
  }
  void TearDown() override {
    for (auto& p : servers_) p.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  CommandResult Server(std::vector<std::string> args) {
    args.insert(args.begin(), {kServer, "--data", data_});
    return RunCommand(args);
  }
  std::string ConfigPath(int i) const {
    return i == 0 ? data_ + "/config.json" : data_ + "/instance" + std::to_string(i) + ".json";
  }
  std::string Log(int i) const { return ReadText(dir_ + "/server" + std::to_string(i) + ".log"); }

  // `init --index` on the test's database, then one config per instance (its own port, the
  // keys of `extra` over the written config).
  void Init(const nlohmann::json& extra = nlohmann::json::object()) {
    CommandResult init = Server({"init", "--index", conninfo_, "--index-pool-size", "4"});
    ASSERT_EQ(init.exit_code, 0) << init.output;
    const size_t at = init.output.find("fingerprint: ");
    ASSERT_NE(at, std::string::npos);
    fingerprint_ = init.output.substr(at + 13, 64);
    nlohmann::json config = nlohmann::json::parse(ReadText(ConfigPath(0)));
    ASSERT_EQ(config["index"], conninfo_);
    config["access_log"] = false;
    config.update(extra);
    for (int i = 0; i < kInstances; ++i) {
      ports_[i] = FreePort();
      config["port"] = ports_[i];
      std::ofstream(ConfigPath(i)) << config.dump(2);
    }
  }
  void Start(int i) {
    servers_[i] = std::make_unique<ChildProcess>(
        std::vector<std::string>{kServer, "--data", data_, "--config", ConfigPath(i), "serve"},
        EnvVars{}, dir_ + "/server" + std::to_string(i) + ".log");
    ASSERT_TRUE(WaitFor(
        [&] {
          auto c = Client(i, "");
          return c != nullptr && c->Health().ok();
        },
        10000))
        << Log(i);
  }
  void StartAll() {
    for (int i = 0; i < kInstances; ++i) Start(i);
  }
  void Stop(int i) {
    servers_[i]->Signal(SIGTERM);
    EXPECT_EQ(servers_[i]->Wait(15000), 0) << Log(i);
  }
  // Adds `user` (through the configured stores: PostgreSQL) and returns a token.
  std::string AddUser(const std::string& user) {
    CommandResult add = Server({"user", "add", user});
    EXPECT_EQ(add.exit_code, 0) << add.output;
    CommandResult issue = Server({"token", "issue", user});
    const size_t at = issue.output.find("cvt_");
    EXPECT_NE(at, std::string::npos) << issue.output;
    return at == std::string::npos ? "" : issue.output.substr(at, issue.output.find('\n', at) - at);
  }
  std::unique_ptr<RemoteStore> Client(int i, const std::string& token) {
    RemoteStoreOptions o;
    o.port = ports_[i];
    o.pinned_sha256 = fingerprint_;
    o.token = SecretData::CopyFrom(token);
    auto c = RemoteStore::New(std::move(o));
    return c.ok() ? std::move(*c) : nullptr;
  }

  std::string dir_, data_, fingerprint_;
  int ports_[kInstances] = {};
  std::unique_ptr<ChildProcess> servers_[kInstances];
};

// init checks the stores before it writes anything: a password in the connection string and
// a database that cannot be reached are refused with what to do, and leave no config.
TEST_F(MultiInstanceTest, InitChecksThePostgresIndexBeforeWritingTheConfig) {
  CommandResult with_password =
      Server({"init", "--index", "postgresql://cv:hunter2@127.0.0.1/cardvault"});
  EXPECT_NE(with_password.exit_code, 0);
  EXPECT_NE(with_password.output.find("password_in_config"), std::string::npos)
      << with_password.output;
  EXPECT_NE(with_password.output.find("passfile"), std::string::npos);
  EXPECT_EQ(with_password.output.find("hunter2"), std::string::npos) << "never echoed";
  CommandResult unreachable = Server({"init", "--index", conninfo_ + "_missing"});
  EXPECT_NE(unreachable.exit_code, 0);
  EXPECT_NE(unreachable.output.find("cannot connect to PostgreSQL"), std::string::npos)
      << unreachable.output;
  EXPECT_NE(unreachable.output.find("run init again"), std::string::npos);
  // An object store that cannot be used (here: credentials that are not private; a build
  // without the S3 store says so) is refused the same way.
  fs::create_directories(data_);
  std::ofstream(dir_ + "/s3.json") << R"({"access_key_id": "a", "secret_access_key": "b"})";
  ::chmod((dir_ + "/s3.json").c_str(), 0644);
  CommandResult s3 =
      Server({"init", "--index", conninfo_, "--bytes", "s3", "--s3-endpoint", "http://127.0.0.1:9",
              "--s3-bucket", "b", "--s3-credentials", dir_ + "/s3.json"});
  EXPECT_NE(s3.exit_code, 0);
  EXPECT_NE(s3.output.find("run init again"), std::string::npos) << s3.output;
  EXPECT_FALSE(fs::exists(ConfigPath(0)));

  CommandResult init = Server({"init", "--index", conninfo_});
  ASSERT_EQ(init.exit_code, 0) << init.output;
  EXPECT_NE(init.output.find("index: postgresql"), std::string::npos) << init.output;
  EXPECT_FALSE(fs::exists(data_ + "/index.db")) << "the index is in PostgreSQL";
  EXPECT_FALSE(fs::exists(data_ + "/auth.db"));
  EXPECT_EQ(Server({"user", "add", "alice"}).exit_code, 0);
  CommandResult users = Server({"user", "list"});
  EXPECT_EQ(users.output, "alice\n");
  EXPECT_EQ(Server({"user", "quota", "alice", "5000"}).exit_code, 0);
}

// Any instance answers any request: what one stored, the other lists, serves and deletes; a
// token revoked through the CLI is refused by both; `check` verifies the shared stores.
TEST_F(MultiInstanceTest, AnyInstanceAnswersAnyRequest) {
  Init();
  const std::string token = AddUser("alice");
  StartAll();
  auto a = Client(0, token), b = Client(1, token);
  const Bytes big = Pattern(300000, 1), small = Pattern(1000, 2);
  ASSERT_TRUE(Put(*a, IdOf("big"), big).ok());
  ASSERT_TRUE(Put(*b, IdOf("small"), small).ok());
  for (auto* c : {a.get(), b.get()}) {
    auto page = c->List({});
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    EXPECT_EQ(page->objects.size(), 2u);
    Bytes got;
    ASSERT_TRUE(c->Get(IdOf("big"), {}, [&](ByteView v) {
                   got.insert(got.end(), v.begin(), v.end());
                   return Status::Ok();
                 }).ok());
    EXPECT_EQ(got, big);
  }
  CommandResult check = Server({"check"});
  EXPECT_EQ(check.exit_code, 0) << check.output;
  EXPECT_NE(check.output.find("checked 2 objects"), std::string::npos) << check.output;
  ASSERT_TRUE(b->Delete(IdOf("small")).ok());
  EXPECT_EQ(a->Head(IdOf("small")).status().code(), StatusCode::kNotFound);
  // The token's id is its first number: revoked once, refused everywhere.
  const std::string id = token.substr(4, token.find('_', 4) - 4);
  ASSERT_EQ(Server({"token", "revoke", id}).exit_code, 0);
  EXPECT_EQ(Client(0, token)->WhoAmI().status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(Client(1, token)->WhoAmI().status().code(), StatusCode::kPermissionDenied);
}

// Two uploads of one id with If-None-Match: * to the two instances at once: exactly one is
// stored, the other gets the create-only answer.
TEST_F(MultiInstanceTest, CreateOnlyHoldsAcrossInstances) {
  Init();
  const std::string token = AddUser("alice");
  StartAll();
  constexpr int kRounds = 20;
  std::unique_ptr<RemoteStore> clients[2] = {Client(0, token), Client(1, token)};
  int stored = 0, refused = 0;
  for (int round = 0; round < kRounds; ++round) {
    const std::string id = IdOf("race" + std::to_string(round));
    // Objects above inline_max_bytes in odd rounds: both publish paths.
    const Bytes data = Pattern(round % 2 ? 100000 : 500, static_cast<uint8_t>(round));
    std::atomic<int> ready{0};
    StatusOr<ObjectInfo> results[2] = {InternalError("not run"), InternalError("not run")};
    std::vector<std::thread> threads;
    for (int i = 0; i < 2; ++i) {
      threads.emplace_back([&, i] {
        ++ready;
        while (ready.load() < 2) std::this_thread::yield();
        results[i] = Put(*clients[i], id, data, /*create_only=*/true);
      });
    }
    for (auto& t : threads) t.join();
    for (const auto& r : results) {
      if (r.ok()) {
        ++stored;
      } else {
        EXPECT_EQ(r.status().reason(), "object_exists") << r.status().ToString();
        ++refused;
      }
    }
  }
  EXPECT_EQ(stored, kRounds);
  EXPECT_EQ(refused, kRounds);
  auto page = clients[0]->List({});
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->objects.size(), static_cast<size_t>(kRounds));
  EXPECT_EQ(FilesUnder(data_ + "/blobs"), static_cast<size_t>(kRounds / 2))
      << "no bytes of a refused upload left behind";
}

// A quota filled from two instances at once, by two clients on each, is never exceeded.
TEST_F(MultiInstanceTest, QuotaHoldsAcrossInstances) {
  Init();
  const std::string token = AddUser("alice");
  constexpr size_t kSize = 70000;  // above inline_max_bytes: bytes in the shared directory
  ASSERT_EQ(Server({"user", "quota", "alice", std::to_string(10 * kSize)}).exit_code, 0);
  StartAll();
  std::atomic<int> stored{0}, over{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto client = Client(t % 2, token);
      for (int i = 0; i < 8; ++i) {
        auto put = Put(*client, IdOf(std::to_string(t) + "/" + std::to_string(i)),
                       Pattern(kSize, static_cast<uint8_t>(i)));
        if (put.ok()) {
          ++stored;
        } else if (put.status().reason() == "quota_exceeded") {
          ++over;
        } else {
          ++other;
          ADD_FAILURE() << put.status().ToString();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(stored.load(), 10);
  EXPECT_EQ(over.load(), 22);
  auto page = Client(1, token)->List({});
  ASSERT_TRUE(page.ok());
  uint64_t total = 0;
  for (const auto& o : page->objects) total += o.size;
  EXPECT_EQ(total, 10 * kSize);
  EXPECT_EQ(FilesUnder(data_ + "/blobs"), 10u);
}

// Group commit still works on each instance: small uploads arriving at once share index
// transactions. A writing transaction takes a transaction id, and so does each step's
// savepoint that writes (reads and advisory locks take none): the ids used are the uploads
// plus the index transactions that committed them.
TEST_F(MultiInstanceTest, GroupCommitBatchesTheUploadsOfEachInstance) {
  Init();
  const std::string token = AddUser("alice");
  StartAll();
  auto pool = PgPool::Create(conninfo_, 1);
  ASSERT_TRUE(pool.ok());
  auto conn = (*pool)->Acquire();
  ASSERT_TRUE(conn.ok());
  auto xid = [&] {
    auto rows = (*conn)->Run("SELECT txid_current()");
    EXPECT_TRUE(rows.ok());
    return rows.ok() ? rows->Int(0, 0) : 0;
  };
  constexpr int kThreads = 8, kEach = 16;
  const int64_t before = xid();
  std::vector<std::thread> threads;
  std::atomic<int> stored{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto client = Client(t % 2, token);
      for (int i = 0; i < kEach; ++i) {
        stored += Put(*client, IdOf(std::to_string(t) + "." + std::to_string(i)),
                      Pattern(1024, static_cast<uint8_t>(i)))
                      .ok();
      }
    });
  }
  for (auto& t : threads) t.join();
  const int64_t transactions = xid() - before - 1 - stored.load();
  EXPECT_EQ(stored.load(), kThreads * kEach);
  EXPECT_LT(transactions, kThreads * kEach) << "uploads shared transactions";
  EXPECT_GE(transactions, 2) << "each instance commits its own";
  std::printf("%d uploads in %lld index transactions\n", stored.load(),
              static_cast<long long>(transactions));
}

// A source that sends its first half, then waits (at most 20 s) until released, then fails
// or, if `finish`, sends the rest.
class StallingSource final : public SequentialFile {
 public:
  StallingSource(const Bytes& data, std::atomic<bool>* halfway, std::atomic<bool>* release,
                 bool finish = false)
      : data_(data), halfway_(halfway), release_(release), finish_(finish) {}
  StatusOr<size_t> Read(std::span<uint8_t> buf) override {
    if (pos_ == data_.size() / 2 && !released_) {
      *halfway_ = true;
      for (int i = 0; i < 2000 && !release_->load(); ++i) ::usleep(10000);
      if (!finish_) return IoError("the test cut this upload");
      released_ = true;
    }
    const size_t end = released_ ? data_.size() : data_.size() / 2;
    const size_t n = std::min(buf.size(), end - pos_);
    std::memcpy(buf.data(), data_.data() + pos_, n);
    pos_ += n;
    return n;
  }

 private:
  const Bytes& data_;
  size_t pos_ = 0;
  std::atomic<bool>* halfway_;
  std::atomic<bool>* release_;
  bool finish_;
  bool released_ = false;
};

// An instance that starts while another receives an upload into the shared directory
// leaves that upload alone (it drops only day-old partial writes there).
TEST_F(MultiInstanceTest, AStartingInstanceKeepsAnotherOnesUploadInProgress) {
  Init();
  const std::string token = AddUser("alice");
  StartAll();
  const Bytes data = Pattern(8 << 20, 9);
  std::atomic<bool> halfway{false}, release{false};
  StatusOr<ObjectInfo> put = InternalError("not run");
  std::thread uploader([&] {
    auto a = Client(0, token);
    PutOptions options;
    options.size = data.size();
    put = a->Put(IdOf("long"), options, [&]() -> StatusOr<std::unique_ptr<SequentialFile>> {
      return std::unique_ptr<SequentialFile>(new StallingSource(data, &halfway, &release, true));
    });
  });
  ASSERT_TRUE(WaitFor([&] { return halfway.load(); }, 20000));
  ASSERT_TRUE(WaitFor([&] { return FilesUnder(data_ + "/tmp") == 1; }, 5000));
  Stop(1);
  Start(1);
  release = true;
  uploader.join();
  ASSERT_TRUE(put.ok()) << put.status().ToString() << "\n" << Log(0);
  EXPECT_EQ(Client(1, token)->Head(IdOf("long"))->size, data.size());
}

// The instance an upload goes to is killed (SIGKILL) halfway through the body; the client
// sends it again to the other instance, and the object ends up stored once, readable from
// both once the first is back.
TEST_F(MultiInstanceTest, UploadCutByALostInstanceIsStoredOnceThroughTheOther) {
  Init();
  const std::string token = AddUser("alice");
  StartAll();
  const Bytes data = Pattern(8 << 20, 7);
  const std::string id = IdOf("cut");
  std::atomic<bool> halfway{false}, release{false};
  StatusOr<ObjectInfo> cut = InternalError("not run");
  std::thread uploader([&] {
    auto a = Client(0, token);
    PutOptions options;
    options.size = data.size();
    cut = a->Put(id, options, [&]() -> StatusOr<std::unique_ptr<SequentialFile>> {
      return std::unique_ptr<SequentialFile>(new StallingSource(data, &halfway, &release));
    });
  });
  ASSERT_TRUE(WaitFor([&] { return halfway.load(); }, 20000));
  ::usleep(200000);  // the first half on its way into instance 0
  servers_[0]->Signal(SIGKILL);
  servers_[0]->Wait(5000);
  release = true;
  uploader.join();
  EXPECT_FALSE(cut.ok());
  auto b = Client(1, token);
  auto stored = Put(*b, id, data);
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  Start(0);
  for (int i = 0; i < kInstances; ++i) {
    auto page = Client(i, token)->List({});
    ASSERT_TRUE(page.ok());
    ASSERT_EQ(page->objects.size(), 1u);
    Bytes got;
    ASSERT_TRUE(Client(i, token)
                    ->Get(id, {},
                          [&](ByteView v) {
                            got.insert(got.end(), v.begin(), v.end());
                            return Status::Ok();
                          })
                    .ok());
    EXPECT_EQ(got, data);
  }
  EXPECT_EQ(FilesUnder(data_ + "/blobs"), 1u) << "stored once";
}

// Bad tokens sent to both instances add up to one back-off that both enforce.
TEST_F(MultiInstanceTest, AuthBackoffCountsAcrossInstances) {
  Init({{"auth_failures_before_backoff", 4}});
  const std::string token = AddUser("alice");
  StartAll();
  const std::string bad = "cvt_1_" + std::string(64, '0');
  for (int i = 0; i < 4; ++i) {
    auto status = Client(i % 2, bad)->WhoAmI().status();
    EXPECT_EQ(status.code(), StatusCode::kPermissionDenied) << i << ": " << status.ToString();
  }
  for (int i = 0; i < kInstances; ++i) {
    auto blocked = Client(i, token)->WhoAmI();
    EXPECT_EQ(blocked.status().reason(), "too_many_auth_failures")
        << "instance " << i << ": " << blocked.status().ToString();
  }
}

// Retention purge and orphan sweep run on one instance at a time and do their work once:
// the replaced version's bytes and an hour-old orphan go, and the logs of both instances
// together report each removed once.
TEST_F(MultiInstanceTest, PurgeAndSweepRemoveEachThingOnce) {
  Init({{"retention_seconds", 1}, {"maintenance_interval_seconds", 1}});
  const std::string token = AddUser("alice");
  const std::string orphan = data_ + "/blobs/ab/ab" + std::string(30, '1');
  fs::create_directories(data_ + "/blobs/ab");
  std::ofstream(orphan) << "bytes no index row names";
  const time_t hour_ago = ::time(nullptr) - 3700;
  utimbuf times{hour_ago, hour_ago};
  ASSERT_EQ(::utime(orphan.c_str(), &times), 0);
  StartAll();
  ASSERT_TRUE(WaitFor([&] { return !fs::exists(orphan); }, 10000));
  ASSERT_TRUE(Put(*Client(0, token), IdOf("x"), Pattern(100000, 1)).ok());
  ASSERT_TRUE(Put(*Client(1, token), IdOf("x"), Pattern(100000, 2)).ok());  // replaces
  EXPECT_EQ(FilesUnder(data_ + "/blobs"), 2u);
  ASSERT_TRUE(WaitFor([&] { return FilesUnder(data_ + "/blobs") == 1; }, 15000))
      << "the replaced version is purged after its retention";
  Stop(0);
  Stop(1);
  const std::string logs = Log(0) + Log(1);
  EXPECT_EQ(CountAndSum(logs, "orphan-sweep: ran, ").second, 1) << logs;
  EXPECT_EQ(CountAndSum(logs, "retention-purge: ran, ").second, 1) << logs;
  EXPECT_GE(CountAndSum(logs, "retention-purge: ran, ").first, 2) << "runs again and again";
}

}  // namespace
}  // namespace cardvault
