// SyncEngine against a real TLS cardvault-server on 127.0.0.1 and a real SQLite state file:
// uploads that decrypt to the right bytes, versions, deletions, renames, retries while the
// server is down, disk full in the spool, and idempotent re-uploads. Built for Linux and for
// Windows (under Wine, against the Linux server: tests/windows/sync_engine_test.sh); what
// differs is behind TestServerHandle and tests/core/test_platform.h (docs/windows.md).
#include "agent/sync/sync_engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "core/fault_injection_env.h"
#include "core/memory_file.h"
#include "tests/agent/test_server_handle.h"
#include "tests/core/test_platform.h"
#include "tests/integration/server_contents.h"

namespace cardvault {
namespace {

namespace fs = std::filesystem;

// A UTF-8 path as std::filesystem takes it on every platform (a plain std::string is the ANSI
// code page's on Windows).
fs::path P(const std::string& utf8) { return fs::path(std::u8string(utf8.begin(), utf8.end())); }

void SleepMs(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

// Forwards to a client that the test can replace (the server restarts on a new port); with
// none, the server is down.
class SwitchableClient final : public ObjectClientWrapper {
 public:
  SwitchableClient() : ObjectClientWrapper(nullptr) {}
  StatusOr<ObjectInfo> Put(std::string_view id, const PutOptions& o,
                           const SourceFactory& s) override {
    if (target() == nullptr) return UnavailableError("server down (test)", "network");
    return ObjectClientWrapper::Put(id, o, s);
  }
  StatusOr<ListPage> List(const ListOptions& o) override {
    if (target() == nullptr) return UnavailableError("server down (test)", "network");
    return ObjectClientWrapper::List(o);
  }
};

constexpr int64_t kHourNs = int64_t{3600} * 1'000'000'000;

// The real Env with a clock the test moves forward (past a back-off).
class ClockEnv final : public EnvWrapper {
 public:
  ClockEnv() : EnvWrapper(Env::Default()) {}
  int64_t NowUnixNanos() override { return target()->NowUnixNanos() + offset_; }
  void Advance(int64_t ns) { offset_ += ns; }

 private:
  std::atomic<int64_t> offset_{0};
};

class SyncEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = NewTempDir("cv-sync-test");
    vault_ = dir_ + "/vault";
    fs::create_directories(P(vault_));
    auto server = TestServerHandle::New();
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    remote_ = server_->Client();
    client_.set_target(remote_.get());
    db_ = StateDb::Open(dir_ + "/state.db").value();
  }
  void TearDown() override {
    engine_.reset();
    db_.reset();
    client_.set_target(nullptr);
    remote_.reset();  // close keep-alive connections before the server waits for them
    server_.reset();
    fs::remove_all(P(dir_));
  }

  // `retry_base_ns`: the first back-off, 1 ms by default so that tests need not wait for it.
  // `spool_in_db_up_to`: 0 spools every file in a spool file of its own.
  std::unique_ptr<SyncEngine> MakeEngine(Env* env = nullptr, uint64_t stream_from_bytes = 8 << 20,
                                         int64_t retry_base_ns = 1'000'000,
                                         uint64_t spool_in_db_up_to = 64 << 10) {
    SyncEngineOptions o;
    o.vault_dir = vault_;
    o.spool_dir = dir_ + "/spool";
    auto r = std::make_shared<X25519Recipient>(card_.recipient());
    o.card_recipients = {r};
    o.recipient_strings = {r->ToString()};
    o.env = env;
    o.retry_base_ns = retry_base_ns;
    o.retry_max_ns = 2 * retry_base_ns;
    o.stream_from_bytes = stream_from_bytes;
    o.spool_in_db_up_to = spool_in_db_up_to;
    auto e = SyncEngine::New(db_.get(), &client_, std::move(o));
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    return std::move(*e);
  }

  void Write(const std::string& rel, const std::string& content, int mode = 0600) {
    fs::create_directories(P(vault_ + "/" + rel).parent_path());
    std::ofstream(P(vault_ + "/" + rel), std::ios::binary | std::ios::trunc) << content;
    Chmod(rel, mode);
  }
  // Windows keeps only the owner's write bit (docs/windows.md).
  void Chmod(const std::string& rel, int mode) {
    fs::permissions(P(vault_ + "/" + rel), static_cast<fs::perms>(mode));
  }

  SyncEngine::PassResult Sync(SyncEngine& engine) {
    EXPECT_TRUE(engine.Rescan().ok());
    auto r = engine.ProcessDue();
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : SyncEngine::PassResult{};
  }

  // Everything on the server, decrypted with the card, by path.
  std::map<std::string, std::vector<ServerVersion>> ByPath() {
    return ServerVersionsByPath(*remote_, card_);
  }

  std::string dir_, vault_;
  X25519Identity card_ = X25519Identity::Generate().value();  // stands in for the card
  std::unique_ptr<TestServerHandle> server_;
  std::unique_ptr<RemoteStore> remote_;
  SwitchableClient client_;
  std::unique_ptr<StateDb> db_;
  std::unique_ptr<SyncEngine> engine_;
};

TEST_F(SyncEngineTest, UploadsATreeThatDecryptsWithTheCard) {
  Write("id_ed25519", "PRIVATE KEY", 0600);
  Write("deploy/token.txt", "ghp_secret", 0644);
  Write("deploy/empty", "", 0600);
  Write("bin/run.sh", "#!/bin/sh\necho hi\n", 0755);
  Write("späce dir/ünï code.txt", "utf8", 0600);
  Chmod("deploy", 0750);
  Chmod("bin", 0711);
  auto engine = MakeEngine();
  auto r = Sync(*engine);
  EXPECT_EQ(r.uploaded, 8) << "5 files and 3 directories";
  auto files = ByPath();
  ASSERT_EQ(files.size(), 8u);
  // A directory is recorded with its mode (and no content), so that a restore rebuilds it.
  // Windows keeps no modes: its Env reports 0600 for every writable file, 0700 for every
  // directory, and that is what is recorded.
  const bool posix = KeepsPosixModes();
  EXPECT_EQ(files["deploy"][0].metadata.kind, format::Kind::kDirectory);
  EXPECT_EQ(files["deploy"][0].metadata.mode, posix ? 0750u : 0700u);
  EXPECT_EQ(files["bin"][0].metadata.mode, posix ? 0711u : 0700u);
  EXPECT_EQ(files["späce dir"][0].metadata.kind, format::Kind::kDirectory);
  EXPECT_EQ(files["id_ed25519"][0].content, "PRIVATE KEY");
  EXPECT_EQ(files["deploy/token.txt"][0].metadata.mode, posix ? 0644u : 0600u);
  EXPECT_EQ(files["bin/run.sh"][0].metadata.mode, posix ? 0755u : 0600u);
  EXPECT_EQ(files["deploy/empty"][0].content, "");
  EXPECT_EQ(files["späce dir/ünï code.txt"][0].content, "utf8");
  // One epoch, its key object on the server, before the files that need it.
  ListOptions keys;
  keys.kind = ObjectKind::kKey;
  EXPECT_EQ(remote_->List(keys).value().objects.size(), 1u);
  // The server's files hold no name or content in clear.
  for (const auto& e : fs::recursive_directory_iterator(server_->data_dir())) {
    if (!e.is_regular_file()) continue;
    std::ifstream f(e.path(), std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(f)), {});
    EXPECT_EQ(data.find("ghp_secret"), std::string::npos) << e.path();
    EXPECT_EQ(data.find("token.txt"), std::string::npos) << e.path();
    EXPECT_EQ(data.find("id_ed25519"), std::string::npos) << e.path();
  }
  EXPECT_TRUE(fs::is_empty(dir_ + "/spool")) << "the spool is cleaned after confirmation";
}

TEST_F(SyncEngineTest, VersionsDeletionsAndRenames) {
  Write("a.txt", "one");
  Write("b.txt", "bee");
  auto engine = MakeEngine();
  EXPECT_EQ(Sync(*engine).uploaded, 2);
  EXPECT_EQ(Sync(*engine).uploaded, 0) << "unchanged files are not uploaded again";
  // Same content, new mtime: no new version.
  Write("b.txt", "bee");
  EXPECT_EQ(Sync(*engine).uploaded, 0);
  Write("a.txt", "two");
  fs::rename(vault_ + "/b.txt", vault_ + "/c.txt");
  EXPECT_EQ(Sync(*engine).uploaded, 3);  // a.txt v2, b.txt deleted, c.txt new
  fs::remove(vault_ + "/a.txt");
  EXPECT_EQ(Sync(*engine).uploaded, 1);
  auto files = ByPath();
  ASSERT_EQ(files["a.txt"].size(), 3u);
  int deletions = 0;
  std::set<std::string> contents;
  for (const ServerVersion& r : files["a.txt"]) {
    if (r.metadata.kind == format::Kind::kDeletion)
      ++deletions;
    else
      contents.insert(r.content);
  }
  EXPECT_EQ(deletions, 1);
  EXPECT_EQ(contents, (std::set<std::string>{"one", "two"}));
  // Each version says when it was recorded (what orders them on restore), files and
  // deletions alike, and the three of a.txt in the order they happened.
  std::map<int64_t, std::string> by_time;
  for (const ServerVersion& r : files["a.txt"]) {
    ASSERT_TRUE(r.metadata.recorded_ns.has_value());
    by_time[*r.metadata.recorded_ns] = r.metadata.kind == format::Kind::kDeletion ? "-" : r.content;
  }
  std::vector<std::string> order;
  for (const auto& [t, what] : by_time) order.push_back(what);
  EXPECT_EQ(order, (std::vector<std::string>{"one", "two", "-"}));
  ASSERT_EQ(files["b.txt"].size(), 2u);
  ASSERT_EQ(files["c.txt"].size(), 1u);
  EXPECT_EQ(files["c.txt"][0].content, "bee");
}

// A directory is a version of its own: when it appears (an empty one too), not when its
// entries change, and when it goes.
TEST_F(SyncEngineTest, DirectoriesAreRecordedWithTheirDeletion) {
  Write("a/b/f", "f");
  fs::create_directory(vault_ + "/empty");
  auto engine = MakeEngine();
  EXPECT_EQ(Sync(*engine).uploaded, 4) << "a, a/b, a/b/f and empty";
  EXPECT_EQ(Sync(*engine).uploaded, 0);
  Write("a/b/g", "g");  // changes a/b's mtime, not its mode
  EXPECT_EQ(Sync(*engine).uploaded, 1);
  // Gone while the agent looked away (a rescan) and, below, as the watcher reports it.
  fs::remove_all(vault_ + "/a");
  EXPECT_EQ(Sync(*engine).uploaded, 4) << "a, a/b, a/b/f and a/b/g deleted";
  ASSERT_TRUE(fs::remove(vault_ + "/empty"));
  ASSERT_TRUE(engine->DetectRemoved("empty", /*is_directory=*/true).ok());
  auto r = engine->ProcessDue();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->uploaded, 1);
  auto on_server = ByPath();
  std::map<std::string, std::vector<format::Kind>> kinds;
  for (const auto& [path, versions] : on_server) {
    for (const ServerVersion& v : versions) kinds[path].push_back(v.metadata.kind);
    std::sort(kinds[path].begin(), kinds[path].end());
  }
  using K = format::Kind;
  EXPECT_EQ(kinds["a"], (std::vector<K>{K::kDeletion, K::kDirectory}));
  EXPECT_EQ(kinds["a/b"], (std::vector<K>{K::kDeletion, K::kDirectory}));
  EXPECT_EQ(kinds["empty"], (std::vector<K>{K::kDeletion, K::kDirectory}));
  EXPECT_EQ(on_server["empty"].size(), 2u);
  EXPECT_EQ(kinds["a/b/f"], (std::vector<K>{K::kFile, K::kDeletion}));
}

// A directory whose mode changes is a new version of it, with the new mode.
TEST_F(SyncEngineTest, ADirectorysModeChangeIsANewVersion) {
  if (!KeepsPosixModes()) {
    GTEST_SKIP() << "Windows keeps no directory modes (its Env reports 0700 for every "
                    "directory): there is no mode change to record";
  }
  Write("a/f", "f");
  Chmod("a", 0755);
  auto engine = MakeEngine();
  EXPECT_EQ(Sync(*engine).uploaded, 2) << "a and a/f";
  Chmod("a", 0700);
  EXPECT_EQ(Sync(*engine).uploaded, 1);
  EXPECT_EQ(Sync(*engine).uploaded, 0);
  auto on_server = ByPath();
  std::set<uint32_t> modes_of_a;
  for (const ServerVersion& v : on_server["a"]) {
    EXPECT_EQ(v.metadata.kind, format::Kind::kDirectory);
    modes_of_a.insert(v.metadata.mode);
  }
  EXPECT_EQ(modes_of_a, (std::set<uint32_t>{0700, 0755}));
}

// An hour's back-off, which the clock then passes: a pass that takes longer than the
// back-off (as under Wine) would otherwise retry within itself.
TEST_F(SyncEngineTest, ServerDownQueuesAndDrainsWhenBack) {
  Write("x", "payload");
  ClockEnv clock;
  auto engine = MakeEngine(&clock, 8 << 20, kHourNs);
  // A new state database asks the server once, before its first encryption.
  ASSERT_TRUE(engine->CheckVaultOnServer().ok());
  client_.set_target(nullptr);  // the server is unreachable
  auto r = Sync(*engine);
  EXPECT_EQ(r.uploaded, 0);
  EXPECT_EQ(r.retrying, 1);
  EXPECT_EQ(db_->Counts().value().encrypted, 1);
  remote_.reset();
  server_->Restart();  // Linux: back on a new port; Windows: the server was never down
  remote_ = server_->Client();
  client_.set_target(remote_.get());
  EXPECT_EQ(engine->ProcessDue().value().uploaded, 0) << "still backing off";
  clock.Advance(3 * kHourNs);
  r = engine->ProcessDue().value();
  EXPECT_EQ(r.uploaded, 1);
  EXPECT_EQ(ByPath()["x"][0].content, "payload");
}

TEST_F(SyncEngineTest, DiskFullInTheSpoolLosesNothing) {
  Write("big", std::string(300000, 'z'));
  FaultInjectionEnv faulty(Env::Default());
  auto engine = MakeEngine(&faulty);
  ASSERT_TRUE(engine->Rescan().ok());
  faulty.SetDiskFullAfter(1000);
  auto r = engine->ProcessDue();
  EXPECT_EQ(r.status().reason(), "disk_full");
  EXPECT_EQ(db_->Counts().value().queued, 1) << "still queued, not failed";
  faulty.ClearFaults();
  r = engine->ProcessDue();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->uploaded, 1);
  EXPECT_EQ(ByPath()["big"][0].content, std::string(300000, 'z'));
}

// The blob of a spooled version: from its spool file, or from the state database.
Bytes SpooledBytes(StateDb& db, const VersionRecord& v) {
  if (v.spool_path == kSpoolInStateDb) return db.SpooledBlob(v.id).value();
  return ReadFileToBytes(*Env::Default(), v.spool_path).value();
}

TEST_F(SyncEngineTest, ReUploadAfterAnUnrecordedSuccessIsIdempotent) {
  for (const bool in_db : {true, false}) {
    SCOPED_TRACE(in_db ? "spooled in the state database" : "spooled in a file");
    const std::string name = in_db ? "small" : "in-a-file";
    Write(name, "content " + name);
    auto engine = MakeEngine(nullptr, 8 << 20, 1'000'000, in_db ? 64 << 10 : 0);
    ASSERT_TRUE(engine->Rescan().ok());
    // Encrypt, then let the upload through without the agent recording it (as if killed
    // between the server's answer and the commit).
    client_.set_target(nullptr);
    ASSERT_TRUE(engine->ProcessDue().ok());
    VersionRecord v = db_->ListVersions(VersionState::kEncrypted).value().at(0);
    EXPECT_EQ(v.spool_path == kSpoolInStateDb, in_db);
    client_.set_target(remote_.get());
    auto epoch = db_->GetEpoch(v.epoch_id).value().value();
    (void)remote_->Put(
        epoch.object_id,
        {ObjectKind::kKey, epoch.key_object.size(), HexEncode(Sha256(epoch.key_object)), true},
        [&]() -> StatusOr<std::unique_ptr<SequentialFile>> {
          return std::unique_ptr<SequentialFile>(new MemorySequentialFile(epoch.key_object));
        });  // already there in the second round
    EXPECT_TRUE(v.blob_sha256.empty()) << "hashed while uploading, not before";
    const Bytes spooled = SpooledBytes(*db_, v);
    const std::string spooled_sha = HexEncode(Sha256(spooled));
    ASSERT_TRUE(remote_
                    ->Put(v.object_id, {ObjectKind::kBlob, v.blob_size, "", true},
                          [&]() -> StatusOr<std::unique_ptr<SequentialFile>> {
                            return std::unique_ptr<SequentialFile>(
                                new MemorySequentialFile(spooled));
                          })
                    .ok());
    SleepMs(5);
    auto r = engine->ProcessDue().value();
    EXPECT_EQ(r.uploaded, 1);
    EXPECT_EQ(r.failed, 0);
    // The 412 was checked against the spooled blob's hash, which is recorded.
    EXPECT_EQ(db_->GetVersion(v.id).value().blob_sha256, spooled_sha);
    EXPECT_EQ(remote_->Head(v.object_id).value().sha256, spooled_sha);
    auto on_server = ByPath();
    EXPECT_EQ(on_server[name].size(), 1u) << "uploaded exactly once";
    EXPECT_EQ(db_->SpooledBlobCount().value(), 0);
  }
}

// A small file waits in the state database, not in a spool file: recorded with its
// encrypted step, read back by a later pass, and gone once uploaded or superseded.
TEST_F(SyncEngineTest, SmallFilesWaitInTheStateDatabase) {
  for (int i = 0; i < 3; ++i) Write("f" + std::to_string(i), "secret " + std::to_string(i));
  Write("changes", "first");
  ClockEnv clock;  // an hour's back-off, passed below (no retry within a slow pass)
  auto engine = MakeEngine(&clock, 8 << 20, kHourNs);
  ASSERT_TRUE(engine->Rescan().ok());
  client_.set_target(nullptr);  // the server is down
  auto r = engine->ProcessDue();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->retrying, 4);
  EXPECT_EQ(db_->SpooledBlobCount().value(), 4);
  EXPECT_TRUE(fs::is_empty(dir_ + "/spool")) << "no spool file for a small file";
  Write("changes", "second, longer");
  ASSERT_TRUE(engine->Rescan().ok());
  EXPECT_EQ(db_->SpooledBlobCount().value(), 3) << "the superseded version's blob is gone";
  // A new engine (as after a restart) uploads the blobs from the database.
  engine = MakeEngine(&clock, 8 << 20, kHourNs);
  client_.set_target(remote_.get());
  clock.Advance(3 * kHourNs);  // past the back-off
  r = engine->ProcessDue();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->uploaded, 4);
  EXPECT_EQ(db_->SpooledBlobCount().value(), 0);
  auto on_server = ByPath();
  EXPECT_EQ(on_server["f1"].at(0).content, "secret 1");
  ASSERT_EQ(on_server["changes"].size(), 1u);
  EXPECT_EQ(on_server["changes"][0].content, "second, longer");
}

// A new file is read once: its encryption hashes it, and that hash is what the state
// records. A file that may be unchanged (same size) is still hashed before anything else.
TEST_F(SyncEngineTest, ANewFileIsHashedByItsEncryptionOnly) {
  Write("f", "hello");
  auto engine = MakeEngine();
  ASSERT_TRUE(engine->Detect("f").ok());
  EXPECT_EQ(db_->ListVersions(VersionState::kQueued).value().at(0).sha256, kNotHashed);
  EXPECT_EQ(db_->GetFile("f").value()->sha256, kNotHashed);
  ASSERT_TRUE(engine->ProcessDue().ok());
  const Sha256Digest hello = Sha256(AsBytes("hello"));
  EXPECT_EQ(db_->ListVersions(VersionState::kUploaded).value().at(0).sha256, hello);
  EXPECT_EQ(db_->GetFile("f").value()->sha256, hello);
  // Touched, same content: hashed, equal, nothing new.
  const std::string full = vault_ + "/f";
  ASSERT_TRUE(Env::Default()->SetFileTimesAndMode(full, 1700000000000000000, 0600).ok());
  ASSERT_TRUE(engine->Detect("f").ok());
  EXPECT_TRUE(db_->ListVersions(VersionState::kQueued).value().empty());
  // Same size, other content: hashed at detection, a new version.
  Write("f", "HELLO");
  ASSERT_TRUE(Env::Default()->SetFileTimesAndMode(full, 1700000001000000000, 0600).ok());
  ASSERT_TRUE(engine->Detect("f").ok());
  EXPECT_EQ(db_->ListVersions(VersionState::kQueued).value().at(0).sha256,
            Sha256(AsBytes("HELLO")));
  ASSERT_TRUE(engine->ProcessDue().ok());
  auto files = ByPath();
  ASSERT_EQ(files["f"].size(), 2u);
}

// Changed after detection (same size, later mtime) before its first encryption: the
// version records what the file is now, never what was seen before.
TEST_F(SyncEngineTest, ANewFileChangedBeforeItsEncryptionIsDetectedAgain) {
  Write("f", "aaaa");
  const std::string full = vault_ + "/f";
  ASSERT_TRUE(Env::Default()->SetFileTimesAndMode(full, 1700000000000000000, 0600).ok());
  auto engine = MakeEngine();
  ASSERT_TRUE(engine->Detect("f").ok());
  Write("f", "bbbb");
  ASSERT_TRUE(Env::Default()->SetFileTimesAndMode(full, 1700000002000000000, 0600).ok());
  ASSERT_TRUE(engine->ProcessDue().ok());
  auto files = ByPath();
  ASSERT_EQ(files["f"].size(), 1u);
  EXPECT_EQ(files["f"][0].content, "bbbb");
  EXPECT_EQ(files["f"][0].metadata.mtime_ns, 1700000002000000000);
  EXPECT_EQ(db_->GetFile("f").value()->sha256, Sha256(AsBytes("bbbb")));
  EXPECT_EQ(db_->GetFile("f").value()->mtime_ns, 1700000002000000000) << "detected again";
}

TEST_F(SyncEngineTest, FileChangedAfterHashingUploadsWhatIsThereNow) {
  Write("f", "first");
  auto engine = MakeEngine();
  ASSERT_TRUE(engine->Detect("f").ok());
  Write("f", "second, longer");
  ASSERT_TRUE(engine->ProcessDue().ok());
  auto files = ByPath();
  ASSERT_EQ(files["f"].size(), 1u);
  EXPECT_EQ(files["f"][0].content, "second, longer");
}

TEST_F(SyncEngineTest, NewRecipientsStartANewEpoch) {
  Write("a", "1");
  auto engine = MakeEngine();
  Sync(*engine);
  engine.reset();
  // A backup card joins: the next file is wrapped to a new epoch whose key object has both.
  X25519Identity backup = X25519Identity::Generate().value();
  SyncEngineOptions o;
  o.vault_dir = vault_;
  o.spool_dir = dir_ + "/spool";
  auto r1 = std::make_shared<X25519Recipient>(card_.recipient());
  auto r2 = std::make_shared<X25519Recipient>(backup.recipient());
  o.card_recipients = {r1, r2};
  o.recipient_strings = {r1->ToString(), r2->ToString()};
  auto engine2 = SyncEngine::New(db_.get(), &client_, std::move(o)).value();
  Write("b", "2");
  Sync(*engine2);
  ListOptions keys;
  keys.kind = ObjectKind::kKey;
  EXPECT_EQ(remote_->List(keys).value().objects.size(), 2u);
  EXPECT_EQ(ByPath().size(), 2u);
}

}  // namespace
}  // namespace cardvault

namespace cardvault {
namespace {

// The spool of a batch is flushed once before any of it is recorded: a failed flush
// records nothing, leaves no spool file behind and loses nothing.
// Refuses blob uploads with a permanent error while `refuse` is set (as a server would a
// blob above its size limit).
class RefusingClient final : public ObjectClientWrapper {
 public:
  explicit RefusingClient(ObjectClient* target) : ObjectClientWrapper(target) {}
  StatusOr<ObjectInfo> Put(std::string_view id, const PutOptions& o,
                           const SourceFactory& s) override {
    if (refuse && o.kind == ObjectKind::kBlob) {
      return InvalidArgumentError("object too large (test)", "too_large");
    }
    return ObjectClientWrapper::Put(id, o, s);
  }
  bool refuse = true;
};

// A file that failed for good stays failed through later passes, and is tried again when
// asked (`cardvault sync`). A newer version supersedes a failed one, which so can never
// land after it.
TEST_F(SyncEngineTest, FailedFilesAreTriedAgainOnRequest) {
  RefusingClient refusing(remote_.get());
  client_.set_target(&refusing);
  Write("f", "first");
  Write("g", "other");
  auto engine = MakeEngine();
  EXPECT_EQ(Sync(*engine).failed, 2);
  Write("f", "second, longer");
  EXPECT_EQ(Sync(*engine).failed, 1);
  auto r = Sync(*engine);
  EXPECT_EQ(r.failed + r.uploaded + r.retrying, 0) << "a failed file is not retried by itself";
  EXPECT_EQ(db_->Counts().value().failed, 2) << "f's second version superseded its first";
  refusing.refuse = false;
  EXPECT_EQ(engine->RetryFailed().value(), 2) << "f's latest version and g";
  r = Sync(*engine);
  EXPECT_EQ(r.uploaded, 2);
  EXPECT_EQ(db_->Counts().value().failed, 0);
  auto on_server = ByPath();
  ASSERT_EQ(on_server["f"].size(), 1u);
  EXPECT_EQ(on_server["f"][0].content, "second, longer");
  EXPECT_EQ(on_server["g"].at(0).content, "other");
  EXPECT_EQ(engine->RetryFailed().value(), 0);
  client_.set_target(remote_.get());
}

// The state database full while a batch of small files is spooled in it (SQLite's page
// cap stands in for a full disk): the batch rolls back, every file stays queued, and the
// next pass with room uploads them all.
TEST_F(SyncEngineTest, AFullStateDatabaseLosesNothing) {
  Write("first", "makes the epoch");
  auto engine = MakeEngine();
  ASSERT_EQ(Sync(*engine).uploaded, 1);
  for (int i = 0; i < 40; ++i) Write("s" + std::to_string(i), std::string(2000, 'a' + i % 26));
  ASSERT_TRUE(engine->Rescan().ok());
  ASSERT_TRUE(db_->LimitPages(db_->PageCount().value()).ok());
  auto r = engine->ProcessDue();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted) << r.status().ToString();
  EXPECT_EQ(db_->Counts().value().queued, 40) << "still queued, none recorded as encrypted";
  EXPECT_EQ(db_->SpooledBlobCount().value(), 0);
  ASSERT_TRUE(db_->LimitPages(1 << 30).ok());
  r = engine->ProcessDue();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->uploaded, 40);
  EXPECT_EQ(ByPath()["s7"].at(0).content, std::string(2000, 'h'));
}

TEST_F(SyncEngineTest, AFailedSpoolFlushRecordsNothingAndLosesNothing) {
  for (int i = 0; i < 5; ++i) Write("f" + std::to_string(i), "content " + std::to_string(i));
  FaultInjectionEnv faulty(Env::Default());
  auto engine = MakeEngine(&faulty, 8 << 20, 1'000'000, /*spool_in_db_up_to=*/0);
  ASSERT_TRUE(engine->Rescan().ok());
  faulty.FailNthSync(faulty.syncs() + 1);
  auto r = engine->ProcessDue();
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(db_->Counts().value().queued, 5) << "still queued, none recorded as encrypted";
  EXPECT_TRUE(fs::is_empty(dir_ + "/spool"));
  faulty.ClearFaults();
  r = engine->ProcessDue();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->uploaded, 5);
  EXPECT_EQ(ByPath()["f3"][0].content, "content 3");
}

// The real Env on a file system that refuses to be flushed at once, as Windows does for a
// user without administrator rights (a volume handle needs them).
class NoVolumeFlushEnv final : public EnvWrapper {
 public:
  NoVolumeFlushEnv() : EnvWrapper(Env::Default()) {}
  bool CanSyncFileSystem(const std::string&) override { return false; }
  Status SyncFileSystem(const std::string& path) override {
    ++flushes_;
    return PermissionDeniedError("cannot open the volume of " + path + " (test)");
  }
  int flushes() const { return flushes_; }

 private:
  std::atomic<int> flushes_{0};
};

// Where the file system cannot be flushed at once, a batch's spool files are each fsynced.
TEST_F(SyncEngineTest, ABatchIsMadeDurableFileByFileWhereTheFileSystemCannotBeFlushed) {
  for (int i = 0; i < 20; ++i) Write("f" + std::to_string(i), "content " + std::to_string(i));
  NoVolumeFlushEnv env;
  auto engine = MakeEngine(&env, 8 << 20, 1'000'000, /*spool_in_db_up_to=*/0);
  auto r = Sync(*engine);
  EXPECT_EQ(r.uploaded, 20);
  EXPECT_EQ(r.failed, 0);
  EXPECT_EQ(env.flushes(), 0) << "never asked for a flush it cannot have";
  EXPECT_EQ(ByPath()["f7"].at(0).content, "content 7");
}

// Where each spool file is fsynced by itself (as on Windows), one that fails is what a failed
// flush of the batch is: the pass stops, nothing of it is recorded, no spool file is left, and
// the file is not failed for good but uploaded by the next pass.
TEST_F(SyncEngineTest, AFailedSpoolFileSyncRecordsNothingAndLosesNothing) {
  for (int i = 0; i < 5; ++i) Write("f" + std::to_string(i), "content " + std::to_string(i));
  NoVolumeFlushEnv no_volume_flush;
  FaultInjectionEnv faulty(&no_volume_flush);
  auto engine = MakeEngine(&faulty, 8 << 20, 1'000'000, /*spool_in_db_up_to=*/0);
  ASSERT_TRUE(engine->Rescan().ok());
  faulty.FailNthSync(faulty.syncs() + 3);  // the third file's
  auto r = engine->ProcessDue();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().reason(), "spool_not_durable") << r.status().ToString();
  EXPECT_EQ(db_->Counts().value().queued, 5) << "still queued, none recorded as encrypted";
  EXPECT_EQ(db_->Counts().value().failed, 0);
  EXPECT_TRUE(fs::is_empty(dir_ + "/spool"));
  faulty.ClearFaults();
  r = engine->ProcessDue();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->uploaded, 5);
  EXPECT_EQ(ByPath()["f2"].at(0).content, "content 2");
}

// Varied bytes, so a blob cut or shifted anywhere cannot decrypt to them by accident.
std::string Big(size_t n, char seed = 'a') {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + (i * 7 + i / 4093) % 26);
  return s;
}

// Fails every blob upload after reading `read_bytes` of it: a connection cut mid-upload.
class CutClient final : public ObjectClientWrapper {
 public:
  CutClient(ObjectClient* target, size_t read_bytes)
      : ObjectClientWrapper(target), read_bytes_(read_bytes) {}
  StatusOr<ObjectInfo> Put(std::string_view id, const PutOptions& options,
                           const SourceFactory& s) override {
    // Key objects go through, so that a large file's upload is streamed and cut midway.
    if (options.kind == ObjectKind::kKey) return ObjectClientWrapper::Put(id, options, s);
    CV_ASSIGN_OR_RETURN(std::unique_ptr<SequentialFile> f, s());
    std::string buf(read_bytes_, '\0');
    CV_RETURN_IF_ERROR(ReadFull(*f, {reinterpret_cast<uint8_t*>(buf.data()), buf.size()}).status());
    ++cuts_;
    return UnavailableError("connection reset (test)");
  }
  int cuts() const { return cuts_; }

 private:
  size_t read_bytes_;
  int cuts_ = 0;
};

// A large file goes to the server while it is encrypted, as a v2 blob, and lands once.
TEST_F(SyncEngineTest, ALargeFileIsUploadedWhileItIsEncrypted) {
  const std::string content = Big(3 << 20);
  Write("images/disk.img", content);
  Write("small", "a small file in the same pass");
  auto engine = MakeEngine(nullptr, /*stream_from_bytes=*/1 << 20);
  auto r = Sync(*engine);
  EXPECT_EQ(r.uploaded, 3) << "two files and their directory";
  EXPECT_EQ(r.failed, 0);
  auto on_server = ByPath();
  ASSERT_EQ(on_server["images/disk.img"].size(), 1u);
  EXPECT_EQ(on_server["images/disk.img"][0].content, content);
  EXPECT_EQ(on_server["images/disk.img"][0].metadata.sha256, Sha256(AsBytes(content)));
  EXPECT_TRUE(on_server["images/disk.img"][0].metadata.recorded_ns.has_value());
  EXPECT_EQ(on_server["small"][0].content, "a small file in the same pass");
  // Which version each blob is: the large one v2, the small one v1.
  for (const VersionRecord& v : db_->ListVersions(VersionState::kUploaded).value()) {
    std::string head;
    GetOptions get;
    ASSERT_TRUE(remote_
                    ->Get(v.object_id, get,
                          [&](ByteView b) {
                            if (head.size() < 10) head.append(AsStringView(b).substr(0, 10));
                            return Status::Ok();
                          })
                    .ok());
    EXPECT_EQ(head[9], v.path == "images/disk.img" ? 2 : 1) << v.path;
    EXPECT_EQ(remote_->Head(v.object_id).value().sha256, v.blob_sha256) << v.path;
  }
  EXPECT_TRUE(fs::is_empty(dir_ + "/spool"));
  EXPECT_EQ(Sync(*engine).uploaded, 0) << "nothing left, nothing twice";
}

// The upload's last bytes wait for the spool file to be durable and recorded: when that
// fails, the server publishes nothing, and the file is uploaded once on the next pass.
TEST_F(SyncEngineTest, AStreamedBlobIsNotPublishedBeforeItsSpoolFileIsRecorded) {
  const std::string content = Big(2 << 20, 'k');
  Write("big", content);
  FaultInjectionEnv faulty(Env::Default());
  auto engine = MakeEngine(&faulty, 1 << 20);
  ASSERT_TRUE(engine->Rescan().ok());
  faulty.FailNthSync(faulty.syncs() + 1);  // the spool file's fsync
  auto r = engine->ProcessDue();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->failed, 1);
  ListOptions blobs;
  blobs.kind = ObjectKind::kBlob;
  EXPECT_TRUE(remote_->List(blobs).value().objects.empty()) << "the whole body went out, "
                                                               "but not its digest";
  EXPECT_TRUE(fs::is_empty(dir_ + "/spool"));
  faulty.ClearFaults();
  ASSERT_TRUE(engine->Detect("big", /*force=*/true).ok());
  r = engine->ProcessDue();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->uploaded, 1);
  ASSERT_EQ(ByPath()["big"].size(), 1u);
  EXPECT_EQ(ByPath()["big"][0].content, content);
}

// A connection cut mid-stream does not stop the encryption: the spool file is completed and
// recorded, and the next pass uploads it from there, once.
TEST_F(SyncEngineTest, AStreamCutMidwayIsUploadedFromTheSpoolLater) {
  // Far larger than the pipe: the encryption is still feeding it when the upload gives up,
  // and the spool file's bytes not written yet must move out of the pipe's ring.
  const std::string content = Big(10 << 20, 'q');
  Write("big", content);
  CutClient cut(remote_.get(), 512 << 10);
  client_.set_target(&cut);
  // An hour's back-off, so that the pass that was cut does not retry (however long the rest
  // of the encryption takes); the clock then moves past it.
  ClockEnv clock;
  auto engine = MakeEngine(&clock, 1 << 20, kHourNs);
  auto r = Sync(*engine);
  EXPECT_EQ(r.uploaded, 0);
  EXPECT_EQ(r.retrying, 1);
  EXPECT_EQ(cut.cuts(), 1);
  EXPECT_EQ(db_->Counts().value().encrypted, 1);
  client_.set_target(remote_.get());
  EXPECT_EQ(engine->ProcessDue().value().uploaded, 0);  // still backing off
  clock.Advance(3 * kHourNs);
  r = engine->ProcessDue().value();
  EXPECT_EQ(r.uploaded, 1);
  ASSERT_EQ(ByPath()["big"].size(), 1u);
  EXPECT_EQ(ByPath()["big"][0].content, content);
  EXPECT_TRUE(fs::is_empty(dir_ + "/spool"));
}

// Appends `extra` to the file `path` once a reader of it has passed `after` bytes: a file
// written to while it is being uploaded.
class GrowingFileEnv final : public EnvWrapper {
 public:
  GrowingFileEnv(std::string path, size_t after, std::string extra)
      : EnvWrapper(Env::Default()),
        path_(std::move(path)),
        after_(after),
        extra_(std::move(extra)) {}
  StatusOr<std::unique_ptr<SequentialFile>> NewSequentialFile(const std::string& path) override {
    CV_ASSIGN_OR_RETURN(std::unique_ptr<SequentialFile> file, target()->NewSequentialFile(path));
    if (path != path_ || grown_) return file;
    return std::unique_ptr<SequentialFile>(new Growing(std::move(file), this));
  }

 private:
  class Growing final : public SequentialFile {
   public:
    Growing(std::unique_ptr<SequentialFile> file, GrowingFileEnv* env)
        : file_(std::move(file)), env_(env) {}
    StatusOr<size_t> Read(std::span<uint8_t> buf) override {
      CV_ASSIGN_OR_RETURN(size_t n, file_->Read(buf));
      read_ += n;
      if (!env_->grown_ && read_ > env_->after_) {
        std::ofstream(env_->path_, std::ios::binary | std::ios::app) << env_->extra_;
        env_->grown_ = true;
      }
      return n;
    }

   private:
    std::unique_ptr<SequentialFile> file_;
    GrowingFileEnv* env_;
    size_t read_ = 0;
  };

  const std::string path_;
  const size_t after_;
  const std::string extra_;
  bool grown_ = false;
};

// A file that grows while it streams: the stream stops at the first byte past the size its
// header promised, the server publishes nothing of it, and the file is uploaded as it is now.
TEST_F(SyncEngineTest, AFileThatGrowsWhileItStreamsIsUploadedAsItIsNow) {
  const std::string first = Big(3 << 20, 'g');
  Write("big", first);
  GrowingFileEnv env(vault_ + "/big", 1 << 20, "written while it was uploaded");
  auto engine = MakeEngine(&env, 1 << 20);
  auto r = Sync(*engine);
  EXPECT_EQ(r.uploaded, 1);
  EXPECT_EQ(r.failed, 0);
  auto on_server = ByPath();
  ASSERT_EQ(on_server["big"].size(), 1u) << "the stream that was cut published nothing";
  EXPECT_TRUE(on_server["big"][0].content == first + "written while it was uploaded");
  EXPECT_TRUE(fs::is_empty(dir_ + "/spool"));
}

// With the server down, a large file waits in the spool like any other.
TEST_F(SyncEngineTest, ALargeFileWaitsInTheSpoolWhileTheServerIsDown) {
  const std::string content = Big(2 << 20, 'd');
  Write("big", content);
  ClockEnv clock;  // an hour's back-off, which the clock then passes (see above)
  auto engine = MakeEngine(&clock, 1 << 20, kHourNs);
  ASSERT_TRUE(engine->CheckVaultOnServer().ok());  // a new state database asks once
  client_.set_target(nullptr);
  auto r = Sync(*engine);
  EXPECT_EQ(r.retrying, 1);
  EXPECT_EQ(db_->Counts().value().encrypted, 1);
  client_.set_target(remote_.get());
  clock.Advance(3 * kHourNs);
  r = engine->ProcessDue().value();
  EXPECT_EQ(r.uploaded, 1);
  EXPECT_EQ(ByPath()["big"].at(0).content, content);
}

// Disk full while a large file streams: nothing published, nothing lost.
TEST_F(SyncEngineTest, DiskFullWhileStreamingLosesNothing) {
  const std::string content = Big(3 << 20, 'f');
  Write("big", content);
  FaultInjectionEnv faulty(Env::Default());
  auto engine = MakeEngine(&faulty, 1 << 20);
  ASSERT_TRUE(engine->Rescan().ok());
  faulty.SetDiskFullAfter(1 << 20);
  auto r = engine->ProcessDue();
  EXPECT_EQ(r.status().reason(), "disk_full");
  EXPECT_EQ(db_->Counts().value().queued, 1);
  ListOptions blobs;
  blobs.kind = ObjectKind::kBlob;
  EXPECT_TRUE(remote_->List(blobs).value().objects.empty());
  faulty.ClearFaults();
  r = engine->ProcessDue();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->uploaded, 1);
  EXPECT_EQ(ByPath()["big"].at(0).content, content);
}

// A batch goes out over every connection at once; a connection that fails only delays its
// own files (retried later), and every file lands exactly once.
TEST_F(SyncEngineTest, UploadsGoOverEveryConnectionAndEachFileLandsOnce) {
  constexpr int kFiles = 150;
  constexpr int kObjects = kFiles + 1;  // and their directory
  for (int i = 0; i < kFiles; ++i) Write("d/f" + std::to_string(i), "x" + std::to_string(i));
  auto engine = MakeEngine();
  std::vector<std::unique_ptr<RemoteStore>> stores;
  SwitchableClient down;  // a connection that is down
  for (int c = 0; c < 2; ++c) {
    stores.push_back(server_->Client());
    engine->AddUploadClient(stores.back().get());
  }
  engine->AddUploadClient(&down);
  ASSERT_TRUE(engine->Rescan().ok());
  int uploaded = 0, retrying = 0;
  for (int pass = 0; pass < 50 && uploaded < kObjects; ++pass) {
    auto r = engine->ProcessDue();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    uploaded += r->uploaded;
    retrying += r->retrying;
    if (uploaded < kObjects) SleepMs(3);  // let the retries come due
  }
  EXPECT_EQ(uploaded, kObjects);
  EXPECT_GT(retrying, 0) << "the connection that was down got some files";
  auto by_path = ByPath();
  ASSERT_EQ(by_path.size(), static_cast<size_t>(kObjects));
  for (int i = 0; i < kFiles; ++i) {
    ASSERT_EQ(by_path["d/f" + std::to_string(i)].size(), 1u) << i;
    EXPECT_EQ(by_path["d/f" + std::to_string(i)][0].content, "x" + std::to_string(i));
  }
  EXPECT_TRUE(fs::is_empty(dir_ + "/spool"));
  engine_.reset();
  engine.reset();
}

// A new state database (the state directory was deleted) with a vault already on the
// server: nothing is recorded or uploaded, and the error says why and what to run; once
// `adopt` recorded the files that match the server, a sync uploads nothing again.
TEST_F(SyncEngineTest, ANewStateDatabaseRefusesToUploadAVaultTheServerHolds) {
  Write("a", "first");
  Write("dir/b", "second");
  EXPECT_EQ(Sync(*MakeEngine()).uploaded, 3);
  ListOptions blobs;
  blobs.kind = ObjectKind::kBlob;
  const size_t on_server = remote_->List(blobs).value().objects.size();
  ASSERT_EQ(on_server, 3u);

  db_.reset();
  fs::remove(dir_ + "/state.db");
  fs::remove(dir_ + "/state.db-wal");
  fs::remove(dir_ + "/state.db-shm");
  db_ = StateDb::Open(dir_ + "/state.db").value();
  auto engine = MakeEngine();
  for (const Status& s : {engine->Rescan(), engine->Detect("a"), engine->ProcessDue().status()}) {
    EXPECT_EQ(s.reason(), "vault_already_on_server") << s.ToString();
    EXPECT_NE(s.message().find("cardvault adopt"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find(dir_ + "/state.db"), std::string::npos) << s.message();
  }
  EXPECT_EQ(remote_->List(blobs).value().objects.size(), on_server) << "nothing uploaded";
  auto counts = db_->Counts().value();
  EXPECT_EQ(counts.queued + counts.encrypted + counts.uploaded, 0) << "nothing recorded";

  // What `cardvault adopt` records for the files equal to the server's latest versions.
  for (const char* path : {"a", "dir/b"}) {
    const FileInfo info = Env::Default()->Stat(vault_ + "/" + path).value();
    uint64_t size = 0;
    const Sha256Digest digest = Sha256OfPath(*Env::Default(), vault_ + "/" + path, &size).value();
    FileRecord f{path, size, info.mtime_ns, info.inode, info.mode & 07777, digest, false};
    ASSERT_TRUE(db_->RecordFile(f, std::nullopt).ok());
  }
  const FileInfo dir_info = Env::Default()->Stat(vault_ + "/dir").value();
  ASSERT_TRUE(db_->RecordFile(DirectoryFileRecord("dir", dir_info), std::nullopt).ok());
  auto adopted = MakeEngine();
  EXPECT_EQ(Sync(*adopted).uploaded, 0);
  EXPECT_EQ(remote_->List(blobs).value().objects.size(), on_server) << "no second copy";
}

// While the server is unreachable the back-off grows to minutes (an hour here); a probe
// that finds the server back makes every waiting upload due at once.
TEST_F(SyncEngineTest, AProbeThatFindsTheServerBackMakesTheWaitingUploadsDue) {
  Write("x", "payload");
  ClockEnv clock;
  auto engine = MakeEngine(&clock, 8 << 20, kHourNs);
  bool healthy = false;
  engine->set_health_probe(
      [&] { return healthy ? Status::Ok() : UnavailableError("refused (test)", "network"); });
  ASSERT_TRUE(engine->CheckVaultOnServer().ok());
  client_.set_target(nullptr);
  const int64_t before = clock.NowUnixNanos();
  EXPECT_FALSE(engine->unreachable_since().has_value());
  EXPECT_EQ(Sync(*engine).retrying, 1);
  ASSERT_TRUE(engine->unreachable_since().has_value());
  EXPECT_GE(*engine->unreachable_since(), before);
  EXPECT_FALSE(engine->ProbeServer().value()) << "still down";

  client_.set_target(remote_.get());
  EXPECT_EQ(engine->ProcessDue().value().uploaded, 0) << "waits for its back-off";
  healthy = true;
  EXPECT_TRUE(engine->ProbeServer().value());
  EXPECT_FALSE(engine->unreachable_since().has_value());
  EXPECT_EQ(engine->ProcessDue().value().uploaded, 1) << "due at once, not in an hour";
  EXPECT_FALSE(engine->ProbeServer().value()) << "nothing to probe while it answers";
}

}  // namespace
}  // namespace cardvault
