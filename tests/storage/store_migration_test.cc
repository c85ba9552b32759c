// StoreMigration from a single-node data directory (SQLite + files, opened by DataDirSource)
// to PostgreSQL + files, against a throwaway cluster (SharedPgCluster), starting from the
// committed data directory the previous release's server wrote (tests/fixtures/). Skipped,
// with what to install, when PostgreSQL is not installed.
#include "storage/store_migration.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "core/crypto.h"
#include "storage/data_dir_source.h"
#include "storage/file_blob_store.h"
#include "storage/file_byte_store.h"
#include "storage/indexed_blob_store.h"
#include "storage/pg_object_index.h"
#include "storage/pg_token_store.h"
#include "storage/sqlite_db.h"
#include "tests/storage/old_data_dir_fixture.h"
#include "tests/storage/pg_cluster.h"

namespace cardvault {
namespace {

namespace fs = std::filesystem;

const std::string kFixture = OldDataDirFixture();

// Every file under `dir` with its SHA-256 and mode: the source must never change.
std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    std::string what = std::to_string(static_cast<int>(e.status().permissions()));
    if (e.is_regular_file()) {
      std::ifstream in(e.path(), std::ios::binary);
      std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      what += " " + HexEncode(Sha256(AsBytes(data)));
    }
    out[e.path().string()] = what;
  }
  return out;
}

// A byte store that fails its Nth NewWriter (a crash in the middle of a page: the page's
// earlier bytes are committed, its import never happens), or gives back flipped bytes.
class FaultyByteStore final : public ByteStore {
 public:
  FaultyByteStore(ByteStore* inner, int fail_writer_at, bool flip_reads)
      : inner_(inner), fail_writer_at_(fail_writer_at), flip_reads_(flip_reads) {}
  StatusOr<std::unique_ptr<ByteWriter>> NewWriter(uint64_t size) override {
    if (++writers_ == fail_writer_at_) return IoError("injected: the process dies here");
    return inner_->NewWriter(size);
  }
  StatusOr<std::unique_ptr<ByteReader>> Open(std::string_view key) override {
    CV_ASSIGN_OR_RETURN(auto reader, inner_->Open(key));
    if (!flip_reads_) return reader;
    return std::unique_ptr<ByteReader>(new Flipped(std::move(reader)));
  }
  Status Delete(std::string_view key) override { return inner_->Delete(key); }
  Status Probe() override { return inner_->Probe(); }
  Status ForEach(const std::function<Status(const StoredKey&)>& fn) override {
    return inner_->ForEach(fn);
  }
  Status Quarantine(std::string_view key) override { return inner_->Quarantine(key); }
  Status QuarantineCopy(std::string_view name, ByteView data) override {
    return inner_->QuarantineCopy(name, data);
  }

 private:
  class Flipped final : public ByteReader {
   public:
    explicit Flipped(std::unique_ptr<ByteReader> inner) : inner_(std::move(inner)) {}
    uint64_t size() const override { return inner_->size(); }
    StatusOr<size_t> ReadAt(uint64_t offset, std::span<uint8_t> buf) override {
      CV_ASSIGN_OR_RETURN(size_t n, inner_->ReadAt(offset, buf));
      if (n > 0 && offset == 0) buf[0] ^= 1;
      return n;
    }

   private:
    std::unique_ptr<ByteReader> inner_;
  };
  ByteStore* inner_;
  int fail_writer_at_;
  bool flip_reads_;
  int writers_ = 0;
};

// One destination: a new PostgreSQL database (index and tokens) and a bytes directory.
struct Destination {
  std::string conninfo;
  std::string bytes_dir;
  std::unique_ptr<PgObjectIndex> index;
  std::unique_ptr<PgTokenStore> tokens;
  std::unique_ptr<FileByteStore> bytes;
};

class StoreMigrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = SharedPgClusterUnavailable(); !why.empty()) GTEST_SKIP() << why;
    char tmpl[] = "/tmp/cv-migration-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    source_dir_ = dir_ + "/source";
    fs::copy(kFixture, source_dir_, fs::copy_options::recursive);
    fs::permissions(source_dir_, fs::perms::owner_all);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // A new, empty destination.
  Destination NewDestination() {
    Destination d;
    auto name = NewSharedDatabase();
    EXPECT_TRUE(name.ok()) << name.status().ToString();
    std::string why_not;
    d.conninfo = SharedPgCluster(&why_not)->ConnInfo(name.ok() ? *name : "");
    d.bytes_dir = dir_ + "/dest" + std::to_string(++destinations_);
    Reopen(d);
    return d;
  }
  void Reopen(Destination& d) {
    d.index.reset();
    d.tokens.reset();
    auto index = PgObjectIndex::Open(d.conninfo, {.pool_size = 2});
    auto tokens = PgTokenStore::Open(Env::Default(), d.conninfo, {.pool_size = 1});
    auto bytes = FileByteStore::Open(Env::Default(), d.bytes_dir);
    ASSERT_TRUE(index.ok() && tokens.ok() && bytes.ok()) << index.status().ToString();
    d.index = std::move(*index);
    d.tokens = std::move(*tokens);
    d.bytes = std::move(*bytes);
  }

  // Runs a migration of the source into `d`, its byte store seen through `bytes` if set.
  StatusOr<MigrationSummary> Migrate(Destination& d, MigrationOptions options = {},
                                     ByteStore* bytes = nullptr) {
    CV_ASSIGN_OR_RETURN(auto source,
                        DataDirSource::Open(Env::Default(), source_dir_, dir_ + "/work"));
    StoreMigration migration(Env::Default(), source->stores(),
                             {d.index.get(), bytes ? bytes : d.bytes.get(), d.tokens.get()},
                             std::move(options));
    return migration.Run();
  }

  // Everything a destination holds, by source version: what a rerun must reproduce.
  std::string Dump(Destination& d) {
    std::string out;
    int64_t after = 0;
    for (int pages = 0; pages < 100; ++pages) {
      auto page = d.index->VersionPage(after, 100, true);
      EXPECT_TRUE(page.ok());
      if (!page.ok() || page->empty()) break;
      after = page->back().version;
      for (const IndexedVersion& v : *page) {
        std::string bytes = v.is_inline ? HexEncode(Sha256(v.data)) : "-";
        if (!v.byte_key.empty()) {
          auto reader = d.bytes->Open(v.byte_key);
          bytes = reader.ok() ? "stored " + std::to_string((*reader)->size()) : "missing";
        }
        out += v.user + " " + v.info.id + " " + std::to_string(v.info.size) + " " + v.info.sha256 +
               " " + std::to_string(v.info.created_unix) + " " +
               std::to_string(v.retired_unix.value_or(-1)) + " " + v.damaged + " " + bytes + "\n";
      }
    }
    for (const std::string user : {"alice", "bob"}) {
      auto usage = d.index->Usage(user);
      out += user + " live " + std::to_string(usage->live_bytes) + " retained " +
             std::to_string(usage->retained_bytes) + "\n";
    }
    for (const TokenRecord& t : d.tokens->ExportTokens().value()) {
      out += "token " + std::to_string(t.id) + " " + t.user + " " + HexEncode(t.digest) + " " +
             std::to_string(t.revoked_unix.value_or(-1)) + "\n";
    }
    return out;
  }

  // What a server on the destination serves for object `n` of `user`.
  std::string Read(Destination& d, const std::string& user, int n) {
    auto index = PgObjectIndex::Open(d.conninfo, {.pool_size = 1});
    auto bytes = FileByteStore::Open(Env::Default(), d.bytes_dir);
    if (!index.ok() || !bytes.ok()) return "<cannot open>";
    IndexedBlobStore store(Env::Default(), std::move(*index), std::move(*bytes), {});
    auto reader = store.Open(user, FixtureId(user, n));
    if (!reader.ok()) return "<" + reader.status().reason() + ">";
    std::string out((*reader)->info().size, '\0');
    auto got = (*reader)->ReadAt(0, std::span(reinterpret_cast<uint8_t*>(out.data()), out.size()));
    if (!got.ok()) return "<" + got.status().reason() + ">";
    out.resize(*got);
    return out;
  }

  std::string dir_;
  std::string source_dir_;
  int destinations_ = 0;
};

// The previous release's data directory, whole: every live object reads back byte for byte
// from the destination, retired versions keep their retire times and count as retained,
// tokens keep working (the revoked one stays revoked), and the source does not change.
TEST_F(StoreMigrationTest, OldReleaseDataDirectoryArrivesWhole) {
  const auto before = Snapshot(source_dir_);
  Destination d = NewDestination();
  std::vector<MigrationProgress> progress;
  auto summary = Migrate(d, {.page_versions = 3, .on_progress = [&](const MigrationProgress& p) {
                               progress.push_back(p);
                               return Status::Ok();
                             }});
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ(Snapshot(source_dir_), before) << "the source changed";
  EXPECT_EQ(summary->versions, 8u);
  EXPECT_EQ(summary->live_objects, 5u);
  EXPECT_EQ(summary->progress.versions_copied, 8u);
  EXPECT_EQ(summary->users, 2u);
  EXPECT_EQ(summary->tokens, 3u);
  EXPECT_EQ(summary->live_bytes, 100u + 3000 + 200 + 2500 + 5000);
  EXPECT_EQ(summary->retained_bytes, 2000u + 1500 + 50);
  EXPECT_TRUE(summary->damaged.empty());
  EXPECT_EQ(progress.size(), 1u + 3) << "users and tokens, then 3 pages of at most 3";

  EXPECT_EQ(Read(d, "alice", 1), FixtureContent("alice", 1, 100));
  EXPECT_EQ(Read(d, "alice", 2), FixtureContent("alice", 2, 3000));
  EXPECT_EQ(Read(d, "alice", 3), FixtureContent("alice", 3, 200));
  EXPECT_EQ(Read(d, "alice", 4), FixtureContent("alice", 4, 2500, "v2"));
  EXPECT_EQ(Read(d, "bob", 1), FixtureContent("bob", 1, 5000));
  EXPECT_EQ(Read(d, "alice", 5), "<no_such_object>");
  EXPECT_EQ(d.index->FindLive("alice", FixtureId("alice", 3), false)->info.kind, ObjectKind::kKey);
  EXPECT_EQ(d.index->Expired(std::numeric_limits<int64_t>::max(), 10)->size(), 3u);

  std::ifstream in(source_dir_ + "/tokens.txt");
  std::string alice_token, bob_token;
  ASSERT_TRUE(std::getline(in, alice_token) && std::getline(in, bob_token));
  EXPECT_EQ(d.tokens->Authenticate(alice_token).value(), "alice");
  EXPECT_EQ(d.tokens->Authenticate(bob_token).value(), "bob");
  EXPECT_TRUE(d.tokens->List().value().at(1).revoked);

  // A second run finds everything done and changes nothing.
  const std::string dump = Dump(d);
  auto again = Migrate(d);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->progress.versions_copied, 0u);
  EXPECT_EQ(again->progress.versions_earlier, 8u);
  EXPECT_EQ(again->versions, 8u);
  EXPECT_EQ(Dump(d), dump);

  // Once the destination is in use, a run is refused: it would not be a resume.
  EXPECT_EQ(d.tokens->Issue("alice", "new").value().id, 4) << "imported ids are not reissued";
  EXPECT_EQ(Migrate(d).status().reason(), "destination_not_empty");
}

// Transactions a server committed but had not checkpointed into index.db yet (a server
// that was killed, or is still open) are in index.db-wal: they are copied too.
TEST_F(StoreMigrationTest, CommittedWritesStillInTheWalAreCopied) {
  auto server = FileBlobStore::Open(Env::Default(), source_dir_, {.inline_max_bytes = 1024});
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const std::string data = FixtureContent("bob", 2, 300);
  auto put =
      (*server)->BeginPut("bob", FixtureId("bob", 2),
                          {ObjectKind::kBlob, data.size(), HexEncode(Sha256(AsBytes(data))), true});
  ASSERT_TRUE(put.ok());
  ASSERT_TRUE((*put)->Append(AsBytes(data)).ok());
  ASSERT_TRUE((*put)->Commit().ok());
  ASSERT_GT(fs::file_size(source_dir_ + "/index.db-wal"), 0u) << "still in the WAL";
  Destination d = NewDestination();
  auto summary = Migrate(d);  // the server's connection stays open meanwhile
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ(summary->versions, 9u);
  EXPECT_EQ(Read(d, "bob", 2), data);
}

// Stopped after each progress point (between pages), or in the middle of a page (its
// first bytes committed, its import never run), and run again: the destination ends up
// exactly as after one uninterrupted run, nothing twice and nothing missing.
TEST_F(StoreMigrationTest, StoppedAnywhereAndRunAgainGivesTheSameResult) {
  Destination whole = NewDestination();
  ASSERT_TRUE(Migrate(whole, {.page_versions = 2}).ok());
  const std::string expected = Dump(whole);
  // 1 + 4 progress points (users and tokens, 4 pages of 2).
  for (int stop_at = 1; stop_at <= 5; ++stop_at) {
    SCOPED_TRACE("stopped at progress point " + std::to_string(stop_at));
    Destination d = NewDestination();
    int calls = 0;
    auto stopped =
        Migrate(d, {.page_versions = 2, .on_progress = [&](const MigrationProgress&) {
                      return ++calls == stop_at ? CancelledError("killed") : Status::Ok();
                    }});
    EXPECT_EQ(stopped.status().code(), StatusCode::kCancelled);
    ASSERT_NO_FATAL_FAILURE(Reopen(d));
    auto resumed = Migrate(d, {.page_versions = 2});
    ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
    EXPECT_EQ(resumed->versions, 8u);
    EXPECT_EQ(resumed->progress.versions_copied + resumed->progress.versions_earlier, 8u);
    EXPECT_EQ(Dump(d), expected);
  }
  // The fixture stores 5 versions' bytes (the rest are inline): die at each writer.
  for (int fail_at = 1; fail_at <= 5; ++fail_at) {
    SCOPED_TRACE("died at byte writer " + std::to_string(fail_at));
    Destination d = NewDestination();
    FaultyByteStore faulty(d.bytes.get(), fail_at, false);
    auto stopped = Migrate(d, {.page_versions = 3}, &faulty);
    EXPECT_EQ(stopped.status().code(), StatusCode::kIoError) << stopped.status().ToString();
    ASSERT_NO_FATAL_FAILURE(Reopen(d));
    auto resumed = Migrate(d, {.page_versions = 3});
    ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
    EXPECT_EQ(Dump(d), expected);
    EXPECT_EQ(Read(d, "bob", 1), FixtureContent("bob", 1, 5000));
  }
}

// Damaged source objects (a flipped byte, a file cut short, a missing file) are reported
// and copied as damaged, without their bytes: the destination answers "object_damaged" for
// them, as the source's server does, and copies everything else.
TEST_F(StoreMigrationTest, DamagedSourceObjectsAreCopiedAsDamaged) {
  std::map<std::string, std::string> files;  // object -> its file
  {
    auto index = SqliteDb::Open(source_dir_ + "/index.db").value();
    auto stmt =
        index->Prepare("SELECT user || '/' || id, file FROM objects WHERE file != ''").value();
    while (stmt.Step().value()) files[stmt.ColumnText(0)] = stmt.ColumnText(1);
  }
  auto path = [&](const std::string& user, int n) {
    return FileByteStore::PathOf(source_dir_, files.at(user + "/" + FixtureId(user, n)));
  };
  {
    std::fstream f(path("alice", 2), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('X');
  }
  fs::resize_file(path("bob", 1), 4000);
  fs::remove(path("alice", 4));
  Destination d = NewDestination();
  std::vector<MigratedDamage> reported;
  auto summary =
      Migrate(d, {.on_damaged = [&](const MigratedDamage& m) { reported.push_back(m); }});
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  ASSERT_EQ(reported.size(), 3u);
  ASSERT_EQ(summary->damaged.size(), 3u);
  std::map<std::string, std::string> what;
  for (const MigratedDamage& m : reported) what[m.user + "/" + m.id] = m.what;
  EXPECT_EQ(what["alice/" + FixtureId("alice", 2)].rfind("migrate: sha256:", 0), 0u);
  EXPECT_EQ(what["bob/" + FixtureId("bob", 1)].rfind("migrate: size:", 0), 0u);
  EXPECT_EQ(what["alice/" + FixtureId("alice", 4)].rfind("migrate: missing:", 0), 0u);
  EXPECT_EQ(Read(d, "alice", 2), "<object_damaged>");
  EXPECT_EQ(Read(d, "bob", 1), "<object_damaged>");
  EXPECT_EQ(Read(d, "alice", 4), "<object_damaged>");
  EXPECT_EQ(Read(d, "alice", 1), FixtureContent("alice", 1, 100));
  EXPECT_EQ(Read(d, "alice", 3), FixtureContent("alice", 3, 200));
  EXPECT_EQ(summary->live_bytes, 100u + 3000 + 200 + 2500 + 5000) << "damaged ones still count";
  // A rerun reports them again in its summary (not as new).
  reported.clear();
  auto again = Migrate(d, {.on_damaged = [&](const MigratedDamage& m) { reported.push_back(m); }});
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(reported.empty());
  EXPECT_EQ(again->damaged.size(), 3u);
}

// A destination that gives back other bytes than were written stops the migration with the
// object named, and records nothing of it.
TEST_F(StoreMigrationTest, ACopyThatReadsBackDifferentlyStops) {
  Destination d = NewDestination();
  FaultyByteStore flipping(d.bytes.get(), 0, true);
  auto result = Migrate(d, {}, &flipping);
  EXPECT_EQ(result.status().reason(), "copy_mismatch");
  EXPECT_NE(result.status().message().find("object " + FixtureId("alice", 2) + " of user alice"),
            std::string::npos)
      << result.status().ToString();
  EXPECT_EQ(d.index->CountVersions("alice")->versions, 0u);
}

// Refused before anything is written: a destination with other objects or tokens of a
// source user, and a source that a server is serving.
TEST_F(StoreMigrationTest, RefusesAForeignDestinationAndAServedSource) {
  Destination d = NewDestination();
  ASSERT_TRUE(d.tokens->AddUser("bob").ok());
  ASSERT_TRUE(d.tokens->Issue("bob", "elsewhere").ok());
  auto refused = Migrate(d);
  EXPECT_EQ(refused.status().reason(), "token_id_taken") << refused.status().ToString();
  EXPECT_EQ(d.tokens->ExportUsers()->size(), 1u) << "nothing written";

  Destination e = NewDestination();
  IndexedBlobStore store(Env::Default(), std::move(e.index), std::move(e.bytes), {});
  const std::string data = "uploaded to the new stores";
  auto put =
      store.BeginPut("alice", FixtureId("alice", 9),
                     {ObjectKind::kBlob, data.size(), HexEncode(Sha256(AsBytes(data))), true});
  ASSERT_TRUE(put.ok());
  ASSERT_TRUE((*put)->Append(AsBytes(data)).ok());
  ASSERT_TRUE((*put)->Commit().ok());
  ASSERT_NO_FATAL_FAILURE(Reopen(e));
  refused = Migrate(e);
  EXPECT_EQ(refused.status().reason(), "destination_not_empty") << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("user alice"), std::string::npos);
  EXPECT_TRUE(e.tokens->ExportUsers()->empty()) << "nothing written";

  auto serving = DataDirLock::Acquire(source_dir_, DataDirLock::Mode::kServe);
  ASSERT_TRUE(serving.ok());
  Destination f = NewDestination();
  refused = Migrate(f);
  EXPECT_EQ(refused.status().reason(), "data_dir_busy");
  EXPECT_NE(refused.status().message().find("systemctl stop cardvault-server"), std::string::npos);
}

}  // namespace
}  // namespace cardvault
