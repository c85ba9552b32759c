// The production layout under faults (issue 20, item 6): agents upload through HAProxy to
// two cardvault-server instances sharing PostgreSQL and radosgw; one instance is SIGKILLed
// mid-upload, radosgw is stopped for a while, PostgreSQL is restarted. After each: every
// object listed is readable and matches its SHA-256, nothing acknowledged was lost, no
// object is stored twice (object_audit.h). The audit itself is first shown to catch each
// broken guarantee, on the single-node layout (cheaper: no engines to start).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "api/retrying_object_client.h"
#include "core/crypto.h"
#include "core/memory_file.h"
#include "core/x25519_recipient.h"
#include "tests/api/raw_tls.h"
#include "tests/engines/object_audit.h"
#include "tests/engines/scale_cluster.h"
#include "tests/integration/server_contents.h"

namespace cardvault {
namespace {

namespace fs = std::filesystem;
const std::string kCli = std::string(CARDVAULT_BINARY_DIR) + "/agent/cardvault";

std::string RandomBytes(size_t size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(size, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// One PC: a vault, its own config and state (XDG directories), a device token, the shared
// software "card" as recipient; `sync --once` runs of the real `cardvault`.
class Agent {
 public:
  Agent(ScaleCluster& cluster, const std::string& dir, const std::string& recipient, int n)
      : dir_(dir), name_("a" + std::to_string(n)) {
    fs::create_directories(vault());
    fs::create_directories(dir_ + "/run");
    ::chmod((dir_ + "/run").c_str(), 0700);
    env_ = {{"XDG_CONFIG_HOME", dir_ + "/config"},
            {"XDG_DATA_HOME", dir_ + "/data"},
            {"XDG_RUNTIME_DIR", dir_ + "/run"}};
    // A user of its own: one vault per user.
    auto token = cluster.AddUser(name_, dir_ + "/token");
    EXPECT_TRUE(token.ok()) << token.status().ToString();
    token_ = token.ok() ? *token : "";
    CommandResult init =
        Cli({"init", "--vault", vault(), "--server", cluster.url(), "--fingerprint",
             cluster.fingerprint(), "--token-file", dir_ + "/token", "--recipient", recipient});
    EXPECT_EQ(init.exit_code, 0) << init.output;
  }

  // Writes `count` files of `size` bytes under NAME/ROUND/, remembered for Check.
  void WriteFiles(const std::string& round, int count, size_t size) {
    fs::create_directories(vault() + "/" + name_ + "/" + round);
    for (int i = 0; i < count; ++i) {
      const std::string rel =
          name_ + "/" + round + "/f" + std::to_string(i) + "-" + std::to_string(size);
      const std::string content = RandomBytes(size, std::hash<std::string>()(rel));
      std::ofstream(vault() + "/" + rel, std::ios::binary) << content;
      files_[rel] = content;
    }
  }
  // `sync --once` in the background, retrying for up to `timeout_s`.
  void StartSync(int timeout_s = 60) {
    sync_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{kCli, "sync", "--once", "--timeout", std::to_string(timeout_s)},
        env_, dir_ + "/sync.log");
  }
  int WaitSync() { return sync_->Wait(180000); }
  // `sync --once` until it exits 0 (everything uploaded), at most `runs` times.
  CommandResult SyncUntilDone(int runs) {
    CommandResult r;
    for (int i = 0; i < runs; ++i) {
      r = Cli({"sync", "--once", "--timeout", "60"});
      if (r.exit_code == 0) break;
    }
    return r;
  }
  StatusOr<std::set<std::string>> Acknowledged() const {
    return AgentAcknowledgedIds(dir_ + "/data/cardvault/state.db");
  }
  // Every file written is on the server exactly once, with its content: what is not.
  std::vector<std::string> Problems(
      const std::map<std::string, std::vector<ServerVersion>>& versions) const {
    std::vector<std::string> problems;
    for (const auto& [path, content] : files_) {
      auto it = versions.find(path);
      const size_t n = it == versions.end() ? 0 : it->second.size();
      if (n != 1) problems.push_back(path + " is on the server " + std::to_string(n) + " times");
      if (n >= 1 && it->second[0].content != content) problems.push_back(path + ": other content");
    }
    return problems;
  }
  std::string sync_log() const { return ReadText(dir_ + "/sync.log"); }
  const std::string& token() const { return token_; }
  const std::string& name() const { return name_; }

 private:
  std::string vault() const { return dir_ + "/vault"; }
  CommandResult Cli(std::vector<std::string> args) const {
    args.insert(args.begin(), kCli);
    return RunCommand(args, env_);
  }
  std::string dir_, name_, token_;
  EnvVars env_;
  std::map<std::string, std::string> files_;
  std::unique_ptr<ChildProcess> sync_;
};

// Direct uploads through the proxy on a thread of their own until stopped: fresh ids,
// `size` bytes each, through the client's retries. Records what was acknowledged and how
// the others failed.
class Uploader {
 public:
  Uploader(ScaleCluster& cluster, const std::string& token, size_t size) : size_(size) {
    auto client = cluster.Client(token);
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    inner_ = std::move(*client);
    RetryPolicy policy;
    policy.max_attempts = 4;
    policy.initial_backoff = std::chrono::milliseconds(100);
    policy.max_backoff = std::chrono::milliseconds(1000);
    retrying_ = std::make_unique<RetryingObjectClient>(inner_.get(), policy);
    thread_ = std::thread([this] { Run(); });
  }
  ~Uploader() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::set<std::string> acknowledged() const {
    std::lock_guard lock(mu_);
    return acknowledged_;
  }
  std::map<std::string, Status> failed() const {
    std::lock_guard lock(mu_);
    return failed_;
  }
  size_t acknowledged_count() const { return acknowledged().size(); }

 private:
  void Run() {
    // Bounded: at most 100,000 uploads, and Stop() ends it.
    for (uint64_t n = 0; !stop_ && n < 100000; ++n) {
      const std::string payload = RandomBytes(size_, n + (uint64_t{size_} << 32));
      const std::string id = HexEncode(Sha256(AsBytes(
          std::to_string(size_) + "/" + std::to_string(n) + "/" + std::to_string(::getpid()))));
      PutOptions o{ObjectKind::kBlob, payload.size(), HexEncode(Sha256(AsBytes(payload))), true};
      auto put = retrying_->Put(id, o, [&]() -> StatusOr<std::unique_ptr<SequentialFile>> {
        return std::unique_ptr<SequentialFile>(new MemorySequentialFile(AsBytes(payload)));
      });
      std::lock_guard lock(mu_);
      if (put.ok()) {
        acknowledged_.insert(id);
      } else {
        failed_[id] = put.status();
      }
    }
  }
  size_t size_;
  std::unique_ptr<RemoteStore> inner_;
  std::unique_ptr<RetryingObjectClient> retrying_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::set<std::string> acknowledged_;
  std::map<std::string, Status> failed_;
  std::thread thread_;
};

// Waits (bounded) until haproxy shows a connection open to instance `i`.
bool WaitForSessionOn(ScaleCluster& cluster, int i, int timeout_ms) {
  return WaitFor(
      [&] {
        auto n = cluster.proxy().CurrentSessions(i);
        return n.ok() && *n > 0;
      },
      timeout_ms);
}

class ScaleTest : public ::testing::Test {
 protected:
  void StartCluster(ScaleLayout layout, const std::string& extra_config = "") {
    ScaleCluster::Options o;
    o.layout = layout;
    o.extra_config = extra_config;
    auto c = ScaleCluster::Start(o);
    if (!c.ok() && c.status().code() == StatusCode::kUnsupported) {
      GTEST_SKIP() << c.status().ToString();
    }
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    cluster_ = std::move(*c);
    // The direct uploads' own user (their objects are not agents' blobs).
    auto token = cluster_->AddUser("bulk", cluster_->dir() + "/bulk-token");
    ASSERT_TRUE(token.ok()) << token.status().ToString();
    token_ = *token;
    CommandResult key = RunCommand({kCli, "keygen", "-o", cluster_->dir() + "/card.key"});
    ASSERT_EQ(key.exit_code, 0) << key.output;
    recipient_ = key.output.substr(0, key.output.find('\n'));
  }
  void AddAgents(int n) {
    for (int i = 0; i < n; ++i) {
      agents_.push_back(std::make_unique<Agent>(
          *cluster_, cluster_->dir() + "/agent" + std::to_string(i), recipient_, i));
    }
  }
  std::unique_ptr<RemoteStore> Client() { return cluster_->Client(token_).value(); }

  // The audit of everything: each agent's objects (object_audit.h) and files, and the
  // direct uploads' objects against what they were told was stored.
  void Audit(const std::string& after, const std::set<std::string>& uploads_acknowledged = {}) {
    SCOPED_TRACE("audit after " + after);
    size_t objects = 0;
    for (auto& a : agents_) {
      auto ids = a->Acknowledged();
      ASSERT_TRUE(ids.ok()) << ids.status().ToString();
      auto client = cluster_->Client(a->token()).value();
      auto report = AuditObjects(*client, *ids);
      ASSERT_TRUE(report.ok()) << report.status().ToString();
      EXPECT_TRUE(report->problems.empty()) << a->name() << ": " << report->Summary();
      EXPECT_EQ(FileProblems(*a, *client), std::vector<std::string>{});
      objects += report->listed;
    }
    auto report = AuditObjects(*Client(), uploads_acknowledged);
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    EXPECT_TRUE(report->problems.empty()) << "direct uploads: " << report->Summary();
    std::cout << "audit after " << after << ": " << agents_.size() << " agents' " << objects
              << " objects and files ok; direct uploads: " << report->Summary() << "\n";
  }
  // The agent's files that are not on the server exactly once with their content.
  std::vector<std::string> FileProblems(const Agent& agent, ObjectClient& client) {
    X25519Identity card = X25519Identity::Parse(ReadText(cluster_->dir() + "/card.key")).value();
    return agent.Problems(ServerVersionsByPath(client, card));
  }
  // Each agent writes a round of files: `small` of 2 KiB (kept in the index), `medium` of
  // 256 KiB (in the byte store) and `large` of 24 MiB (streamed by the agent).
  void WriteRound(const std::string& round, int small, int medium, int large) {
    for (auto& a : agents_) {
      a->WriteFiles(round, small, 2048);
      a->WriteFiles(round, medium, 256 << 10);
      a->WriteFiles(round, large, 24 << 20);
    }
  }
  void SyncAllUntilDone() {
    for (auto& a : agents_) {
      CommandResult r = a->SyncUntilDone(3);
      ASSERT_EQ(r.exit_code, 0) << r.output;
    }
  }

  void SurviveFaults(ScaleLayout layout);

  // "CODE BODY" of GET /v1/ready through the proxy (curl).
  std::string Ready() {
    CommandResult curl = RunCommand(
        {"curl", "-sS", "-w", " %{http_code}", "--cacert", cluster_->data_dir() + "/tls/cert.pem",
         "https://localhost:" + std::to_string(cluster_->proxy().port()) + "/v1/ready"});
    const size_t space = curl.output.rfind(' ');
    if (space == std::string::npos) return curl.output;
    return curl.output.substr(space + 1) + " " + curl.output.substr(0, space);
  }

  void TearDown() override {
    agents_.clear();
    cluster_.reset();
  }

  std::unique_ptr<ScaleCluster> cluster_;
  std::string token_, recipient_;
  std::vector<std::unique_ptr<Agent>> agents_;
};

bool Contains(const std::vector<std::string>& problems, const std::string& part) {
  for (const auto& p : problems) {
    if (p.find(part) != std::string::npos) return true;
  }
  return false;
}

// Each check of the audit fails when its guarantee is broken (on the single-node layout:
// the checks are the same whatever the backends).
TEST_F(ScaleTest, AuditCatchesEachBrokenGuarantee) {
  StartCluster(ScaleLayout::kSingleNode);
  if (IsSkipped()) return;
  AddAgents(1);
  WriteRound("r0", 3, 1, 0);
  SyncAllUntilDone();
  Audit("the first sync");
  auto client = cluster_->Client(agents_[0]->token()).value();

  // Acknowledged but lost.
  auto report = AuditObjects(*client, {std::string(64, 'a')});
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(Contains(report->problems, "acknowledged but not listed: " + std::string(64, 'a')))
      << report->Summary();

  // A file version stored twice: one of the agent's blobs uploaded again under a new id.
  ListOptions lo;
  lo.kind = ObjectKind::kBlob;
  auto page = client->List(lo);
  ASSERT_TRUE(page.ok() && !page->objects.empty());
  ObjectInfo medium = page->objects[0];
  for (const auto& o : page->objects) medium = o.size > medium.size ? o : medium;
  Bytes blob;
  ASSERT_TRUE(client
                  ->Get(medium.id, {},
                        [&](ByteView b) {
                          blob.insert(blob.end(), b.begin(), b.end());
                          return Status::Ok();
                        })
                  .ok());
  std::string copy_id = medium.id;
  copy_id[20] = copy_id[20] == '0' ? '1' : '0';  // same epoch prefix, other id
  PutOptions po{ObjectKind::kBlob, blob.size(), medium.sha256, true};
  ASSERT_TRUE(client
                  ->Put(copy_id, po,
                        [&]() -> StatusOr<std::unique_ptr<SequentialFile>> {
                          return std::unique_ptr<SequentialFile>(new MemorySequentialFile(blob));
                        })
                  .ok());
  EXPECT_TRUE(Contains(FileProblems(*agents_[0], *client), "on the server 2 times"));

  // Listed but not stored as listed: one byte of the largest blob changed behind the
  // server's back.
  bool flipped = false;
  for (const auto& e : fs::recursive_directory_iterator(cluster_->data_dir() + "/blobs")) {
    if (flipped || !e.is_regular_file() || e.file_size() != medium.size) continue;
    std::fstream f(e.path(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('\x5a' ^ static_cast<char>(blob[100]));
    flipped = true;
  }
  ASSERT_TRUE(flipped) << "no blob file of " << medium.size << " bytes";
  report = AuditObjects(*client, {});
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->problems.empty()) << report->Summary();
  std::cout << "with one byte changed: " << report->Summary() << "\n";
}

// Two instances under each fault in turn, with an audit after each; the object store's
// outage only where there is one.
void ScaleTest::SurviveFaults(ScaleLayout layout) {
  StartCluster(layout);
  if (IsSkipped() || HasFatalFailure()) return;
  AddAgents(3);
  WriteRound("r0", 10, 2, 0);
  SyncAllUntilDone();
  Audit("the first sync");

  {
    SCOPED_TRACE("instance 0 SIGKILLed mid-upload");
    Uploader uploader(*cluster_, token_, 256 << 10);
    WriteRound("r1", 10, 2, 1);
    for (auto& a : agents_) a->StartSync();
    ASSERT_TRUE(WaitForSessionOn(*cluster_, 0, 20000)) << "no upload reached instance 0";
    cluster_->KillInstance(0);
    const size_t at_kill = uploader.acknowledged_count();
    // The agents' runs that were under way finish through the other instance.
    for (auto& a : agents_) EXPECT_EQ(a->WaitSync(), 0) << a->sync_log();
    EXPECT_TRUE(WaitFor([&] { return uploader.acknowledged_count() >= at_kill + 5; }, 30000))
        << "direct uploads did not continue through instance 1";
    uploader.Stop();
    EXPECT_TRUE(cluster_->proxy().WaitForState(0, "DOWN", 5000).ok());
    Status restarted = cluster_->RestartInstance(0);
    ASSERT_TRUE(restarted.ok()) << restarted.ToString();
    Audit("instance 0 killed", uploader.acknowledged());
  }

  if (layout == ScaleLayout::kPostgresS3) {
    SCOPED_TRACE("radosgw stopped for a while");
    ASSERT_TRUE(cluster_->StopObjectStore().ok());
    auto client = Client();
    const std::string payload = RandomBytes(256 << 10, 7);
    const std::string id = HexEncode(Sha256(AsBytes("during the outage")));
    PutOptions o{ObjectKind::kBlob, payload.size(), HexEncode(Sha256(AsBytes(payload))), true};
    auto put = client->Put(id, o, [&]() -> StatusOr<std::unique_ptr<SequentialFile>> {
      return std::unique_ptr<SequentialFile>(new MemorySequentialFile(AsBytes(payload)));
    });
    ASSERT_FALSE(put.ok());
    EXPECT_EQ(put.status().code(), StatusCode::kUnavailable) << put.status().ToString();
    EXPECT_EQ(put.status().reason(), "object_store_unavailable") << put.status().ToString();
    EXPECT_NE(put.status().message().find("object store"), std::string::npos);
    std::cout << "upload while radosgw is down: " << put.status().ToString() << "\n";
    // The same with curl: the HTTP status itself.
    const std::string file = cluster_->dir() + "/outage-upload";
    std::ofstream(file, std::ios::binary) << payload;
    CommandResult curl = RunCommand(
        {"curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert",
         cluster_->data_dir() + "/tls/cert.pem", "-H", "Authorization: Bearer " + token_, "-H",
         "X-Content-SHA256: " + o.sha256, "-T", file,
         "https://localhost:" + std::to_string(cluster_->proxy().port()) + "/v1/objects/" + id});
    EXPECT_EQ(curl.output, "503");
    // Readiness says so too (each instance probes radosgw at most once a second), while the
    // health check HAProxy uses stays 200: both instances stay in, and clients get the
    // server's own 503 with its reason.
    std::string ready;
    EXPECT_TRUE(WaitFor([&] { return (ready = Ready()).rfind("503 ", 0) == 0; }, 5000)) << ready;
    EXPECT_NE(ready.find("object_store_unavailable"), std::string::npos) << ready;
    EXPECT_EQ(cluster_->proxy().ServerState(0).value().rfind("UP", 0), 0u);
    EXPECT_EQ(cluster_->proxy().ServerState(1).value().rfind("UP", 0), 0u);
    WriteRound("r2", 5, 2, 0);
    for (auto& a : agents_) a->StartSync(/*timeout_s=*/5);
    for (auto& a : agents_) a->WaitSync();  // fails: the medium files cannot be stored
    EXPECT_FALSE(client->Head(id).ok()) << "listed while its bytes were never stored";
    ASSERT_TRUE(cluster_->StartObjectStore().ok());
    EXPECT_TRUE(WaitFor([&] { return (ready = Ready()).rfind("200 ", 0) == 0; }, 10000)) << ready;
    SyncAllUntilDone();
    EXPECT_FALSE(client->Head(id).ok());
    Audit("the radosgw outage");
  }

  {
    SCOPED_TRACE("PostgreSQL restarted mid-run");
    Uploader uploader(*cluster_, token_, 2048);
    WriteRound("r3", 10, 2, 0);
    for (auto& a : agents_) a->StartSync();
    ASSERT_TRUE(WaitFor([&] { return uploader.acknowledged_count() >= 5; }, 20000));
    ASSERT_TRUE(cluster_->RestartIndex(1000).ok());
    const size_t at_restart = uploader.acknowledged_count();
    for (auto& a : agents_) a->WaitSync();
    EXPECT_TRUE(WaitFor([&] { return uploader.acknowledged_count() >= at_restart + 5; }, 30000))
        << "direct uploads did not resume after the restart";
    uploader.Stop();
    SyncAllUntilDone();
    Audit("the PostgreSQL restart", uploader.acknowledged());
  }
}

// Behind HAProxy (send-proxy-v2), the instance sees each client's own address: a client
// guessing tokens (from 127.0.0.5) is backed off, another (127.0.0.6) behind the same proxy
// still gets in. Before the PROXY protocol both were the proxy's 127.0.0.1 to the instance.
TEST_F(ScaleTest, BehindHaproxyBackOffCountsPerClient) {
  StartCluster(ScaleLayout::kSingleNode, R"({"auth_failures_before_backoff": 3})");
  if (IsSkipped()) return;
  auto whoami = [&](const std::string& source, const std::string& token) {
    RawTls tls(cluster_->proxy().port(), source);
    if (!tls.ok()) return std::string("no TLS");
    tls.Send("GET /v1/whoami HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + token +
             "\r\n\r\n");
    return tls.ReadResponse();
  };
  std::string answer;
  for (int i = 0; i < 10 && answer.rfind("HTTP/1.1 429", 0) != 0; ++i) {
    answer = whoami("127.0.0.5", "cvt_not_a_token");
  }
  EXPECT_EQ(answer.rfind("HTTP/1.1 429", 0), 0u) << answer;
  answer = whoami("127.0.0.6", token_);
  EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << answer;
  EXPECT_NE(answer.find("bulk"), std::string::npos) << answer;
  EXPECT_EQ(whoami("127.0.0.5", token_).rfind("HTTP/1.1 429", 0), 0u);
  auto state = cluster_->proxy().ServerState(0);  // the LOCAL health checks pass
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_EQ(state->rfind("UP", 0), 0u) << *state;
}

// The production layout: PostgreSQL + radosgw.
TEST_F(ScaleTest, PostgresAndRadosgwSurviveInstanceKillStoreOutageAndIndexRestart) {
  SurviveFaults(ScaleLayout::kPostgresS3);
}

// PostgreSQL + one blobs/ directory the instances share (as on a shared file system).
TEST_F(ScaleTest, PostgresAndSharedFilesSurviveInstanceKillAndIndexRestart) {
  SurviveFaults(ScaleLayout::kPostgresFiles);
}

}  // namespace
}  // namespace cardvault
