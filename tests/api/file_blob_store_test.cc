// Tests for FileBlobStore on a real data directory: puts, reads, listing, quota, deletes; each
// contract test runs twice, with objects stored as files and with objects inline in the index.
#include "storage/file_blob_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "core/crypto.h"
#include "core/fault_injection_env.h"
#include "storage/sqlite_db.h"

namespace cardvault {
namespace {

std::string Sha(std::string_view data) { return HexEncode(Sha256(AsBytes(data))); }

std::string Id(int n) {
  std::string s = HexEncode(Sha256(AsBytes(std::to_string(n))));
  return s;
}

size_t CountFiles(const std::string& dir) {
  size_t n = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) ++n;
  }
  return n;
}

// A directory under /tmp for one test, removed with everything in it at scope exit.
struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/cv-blobstore-test-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string path;
};

// The parameter is inline_max_bytes: 0 stores every object as a file, kInline every object
// these tests write inside the index.
constexpr uint64_t kFiles = 0, kInline = 1 << 20;

class FileBlobStoreTest : public ::testing::TestWithParam<uint64_t> {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cv-blobstore-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    options_.inline_max_bytes = GetParam();
    options_.quota_bytes = 1000;
    options_.max_object_bytes = 600;
    options_.retention_seconds = 10;
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Reopen() {
    store_.reset();
    auto store = FileBlobStore::Open(Env::Default(), dir_, options_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }
  Status Put(std::string_view user, const std::string& id, std::string_view data,
             bool create_only = false, ObjectKind kind = ObjectKind::kBlob) {
    PutOptions options{kind, data.size(), Sha(data), create_only};
    CV_ASSIGN_OR_RETURN(auto pending, store_->BeginPut(user, id, options));
    CV_RETURN_IF_ERROR(pending->Append(AsBytes(data)));
    return pending->Commit().status();
  }
  std::string Read(std::string_view user, const std::string& id) {
    auto reader = store_->Open(user, id);
    if (!reader.ok()) return "<" + reader.status().ToString() + ">";
    std::string out((*reader)->info().size, '\0');
    auto n = (*reader)->ReadAt(0, std::span(reinterpret_cast<uint8_t*>(out.data()), out.size()));
    EXPECT_TRUE(n.ok());
    out.resize(*n);
    return out;
  }

  // Files under blobs/ that one stored version adds.
  size_t FilesPerVersion() const { return GetParam() == kFiles ? 1 : 0; }

  std::string dir_;
  FileBlobStore::Options options_;
  std::unique_ptr<FileBlobStore> store_;
};

INSTANTIATE_TEST_SUITE_P(Storage, FileBlobStoreTest, ::testing::Values(kFiles, kInline),
                         [](const auto& info) {
                           return std::string(info.param == kFiles ? "Files" : "Inline");
                         });

// Tests of the file path only (temporary files, renames, fsyncs, orphans).
class FileModeTest : public FileBlobStoreTest {};
INSTANTIATE_TEST_SUITE_P(Storage, FileModeTest, ::testing::Values(kFiles),
                         [](const auto&) { return std::string("Files"); });

TEST_P(FileBlobStoreTest, PutReadHeadReplace) {
  ASSERT_TRUE(Put("alice", Id(1), "hello").ok());
  EXPECT_EQ(Read("alice", Id(1)), "hello");
  auto head = store_->Head("alice", Id(1));
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->size, 5u);
  EXPECT_EQ(head->sha256, Sha("hello"));
  ASSERT_TRUE(Put("alice", Id(1), "world!").ok());
  EXPECT_EQ(Read("alice", Id(1)), "world!");
  EXPECT_EQ(*store_->UsedBytes("alice"), 6u);
  // Create-only refuses a live object, both up front and at commit.
  Status again = Put("alice", Id(1), "other", /*create_only=*/true);
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists);
  auto p1 = store_->BeginPut("alice", Id(2), {ObjectKind::kBlob, 1, Sha("a"), true});
  auto p2 = store_->BeginPut("alice", Id(2), {ObjectKind::kBlob, 1, Sha("b"), true});
  ASSERT_TRUE(p1.ok() && p2.ok());
  ASSERT_TRUE((*p1)->Append(AsBytes("a")).ok());
  ASSERT_TRUE((*p2)->Append(AsBytes("b")).ok());
  ASSERT_TRUE((*p1)->Commit().ok());
  EXPECT_EQ((*p2)->Commit().status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(Read("alice", Id(2)), "a");
}

TEST_P(FileBlobStoreTest, MismatchAndAbortStoreNothing) {
  size_t before = CountFiles(dir_ + "/blobs");
  PutOptions options{ObjectKind::kBlob, 5, Sha("hellx"), false};
  auto pending = store_->BeginPut("alice", Id(1), options);
  ASSERT_TRUE(pending.ok());
  ASSERT_TRUE((*pending)->Append(AsBytes("hello")).ok());
  auto committed = (*pending)->Commit();
  EXPECT_EQ(committed.status().reason(), "sha256_mismatch");
  pending->reset();
  {
    auto short_put = store_->BeginPut("alice", Id(3), {ObjectKind::kBlob, 5, Sha("hello"), false});
    ASSERT_TRUE(short_put.ok());
    ASSERT_TRUE((*short_put)->Append(AsBytes("hel")).ok());
    EXPECT_EQ((*short_put)->Commit().status().reason(), "size_mismatch");
  }
  {
    auto abandoned = store_->BeginPut("alice", Id(4), {ObjectKind::kBlob, 5, Sha("hello"), false});
    ASSERT_TRUE(abandoned.ok());
    ASSERT_TRUE((*abandoned)->Append(AsBytes("hel")).ok());
  }
  EXPECT_EQ(store_->Head("alice", Id(1)).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Head("alice", Id(3)).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->List("alice", {}).value().objects.empty());
  EXPECT_EQ(CountFiles(dir_ + "/blobs"), before);
  EXPECT_EQ(CountFiles(dir_ + "/tmp"), 0u);
}

TEST_P(FileModeTest, LeftoverTempFilesAreRemovedAtOpen) {
  auto pending = store_->BeginPut("alice", Id(1), {ObjectKind::kBlob, 5, Sha("hello"), false});
  ASSERT_TRUE(pending.ok());
  ASSERT_TRUE((*pending)->Append(AsBytes("hel")).ok());
  EXPECT_EQ(CountFiles(dir_ + "/tmp"), 1u);
  // Simulate a crash: reopen while the upload is still open (its file stays behind).
  auto store2 = FileBlobStore::Open(Env::Default(), dir_, options_);
  ASSERT_TRUE(store2.ok());
  EXPECT_EQ(CountFiles(dir_ + "/tmp"), 0u);
  EXPECT_TRUE((*store2)->List("alice", {}).value().objects.empty());
}

TEST_P(FileBlobStoreTest, IdsAreValidatedBeforeAnyFileSystemUse) {
  for (std::string bad : {std::string("../x"), std::string(65, 'a'), std::string(64, 'A'),
                          std::string(63, 'a') + "/", std::string()}) {
    EXPECT_EQ(Put("alice", bad, "x").reason(), "bad_object_id") << bad;
    EXPECT_EQ(store_->Head("alice", bad).status().reason(), "bad_object_id");
    EXPECT_EQ(store_->Delete("alice", bad).reason(), "bad_object_id");
  }
  EXPECT_EQ(store_->List("alice", {.prefix = "../"}).status().reason(), "bad_prefix");
}

TEST_P(FileBlobStoreTest, QuotaAndSizeLimit) {
  std::string big(600, 'x');
  ASSERT_TRUE(Put("alice", Id(1), big).ok());
  EXPECT_EQ(Put("alice", Id(2), std::string(601, 'y')).reason(), "object_too_large");
  EXPECT_EQ(Put("alice", Id(2), std::string(401, 'y')).reason(), "quota_exceeded");
  ASSERT_TRUE(Put("alice", Id(2), std::string(400, 'y')).ok());
  // Replacing frees the old size; another user has their own quota.
  ASSERT_TRUE(Put("alice", Id(1), std::string(500, 'z')).ok());
  ASSERT_TRUE(Put("bob", Id(1), big).ok());
  ASSERT_TRUE(store_->Delete("alice", Id(2)).ok());
  EXPECT_EQ(*store_->UsedBytes("alice"), 500u);
  ASSERT_TRUE(Put("alice", Id(3), std::string(500, 'w')).ok());
}

TEST_P(FileBlobStoreTest, UsersAreIsolated) {
  ASSERT_TRUE(Put("alice", Id(1), "secret").ok());
  EXPECT_EQ(store_->Head("bob", Id(1)).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Open("bob", Id(1)).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Delete("bob", Id(1)).code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->List("bob", {}).value().objects.empty());
  EXPECT_EQ(Read("alice", Id(1)), "secret");
}

TEST_P(FileBlobStoreTest, ListPaginatesFiltersAndSurvivesReopen) {
  options_.quota_bytes = 1 << 20;
  Reopen();
  std::vector<std::string> ids;
  for (int i = 0; i < 25; ++i) {
    ids.push_back(Id(i));
    ASSERT_TRUE(
        Put("alice", ids.back(), "v", false, i % 5 == 0 ? ObjectKind::kKey : ObjectKind::kBlob)
            .ok());
  }
  std::sort(ids.begin(), ids.end());
  Reopen();
  std::vector<std::string> seen;
  ListOptions options;
  options.limit = 7;
  while (true) {
    auto page = store_->List("alice", options);
    ASSERT_TRUE(page.ok());
    for (const auto& o : page->objects) seen.push_back(o.id);
    if (!page->truncated) break;
    options.after = page->objects.back().id;
  }
  EXPECT_EQ(seen, ids);
  auto keys = store_->List("alice", {.kind = ObjectKind::kKey});
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(keys->objects.size(), 5u);
  for (const auto& o : keys->objects) EXPECT_EQ(o.kind, ObjectKind::kKey);
  std::string prefix = ids[3].substr(0, 2);
  auto by_prefix = store_->List("alice", {.prefix = prefix});
  ASSERT_TRUE(by_prefix.ok());
  ASSERT_FALSE(by_prefix->objects.empty());
  for (const auto& o : by_prefix->objects) EXPECT_EQ(o.id.substr(0, 2), prefix);
}

TEST_P(FileBlobStoreTest, DeletedVersionsArePurgedAfterRetention) {
  size_t before = CountFiles(dir_ + "/blobs");
  ASSERT_TRUE(Put("alice", Id(1), "one").ok());
  ASSERT_TRUE(Put("alice", Id(1), "two").ok());
  ASSERT_TRUE(store_->Delete("alice", Id(1)).ok());
  EXPECT_EQ(store_->Delete("alice", Id(1)).code(), StatusCode::kNotFound);
  EXPECT_EQ(CountFiles(dir_ + "/blobs"), before + 2 * FilesPerVersion());  // retained
  int64_t now = Env::Default()->NowUnixNanos() / 1000000000;
  EXPECT_EQ(*store_->PurgeExpired(now), 0u);
  EXPECT_EQ(*store_->PurgeExpired(now + 11), 2u);
  EXPECT_EQ(CountFiles(dir_ + "/blobs"), before);
}

TEST_P(FileModeTest, SweepRemovesOnlyOldUnreferencedFiles) {
  ASSERT_TRUE(Put("alice", Id(1), "kept").ok());
  ASSERT_TRUE(Put("alice", Id(2), "replaced").ok());
  ASSERT_TRUE(Put("alice", Id(2), "replacement").ok());  // the old version stays referenced
  // Orphans as a crash between rename and index commit leaves them: one old, one fresh.
  ASSERT_TRUE(Env::Default()->CreateDirs(dir_ + "/blobs/ab").ok());
  const std::string old_orphan = dir_ + "/blobs/ab/ab" + std::string(30, '1');
  const std::string new_orphan = dir_ + "/blobs/ab/ab" + std::string(30, '2');
  ASSERT_TRUE(WriteFileAtomically(*Env::Default(), old_orphan, AsBytes("x")).ok());
  ASSERT_TRUE(WriteFileAtomically(*Env::Default(), new_orphan, AsBytes("y")).ok());
  int64_t now = Env::Default()->NowUnixNanos() / 1000000000;
  ASSERT_TRUE(
      Env::Default()->SetFileTimesAndMode(old_orphan, (now - 7200) * 1000000000, 0600).ok());
  size_t before = CountFiles(dir_ + "/blobs");
  auto swept = store_->SweepOrphans(now);
  ASSERT_TRUE(swept.ok()) << swept.status().ToString();
  EXPECT_EQ(*swept, 1u);
  EXPECT_FALSE(std::filesystem::exists(old_orphan));
  EXPECT_TRUE(std::filesystem::exists(new_orphan));
  EXPECT_EQ(CountFiles(dir_ + "/blobs"), before - 1);
  // With no age margin, every unreferenced file goes and every object still reads.
  EXPECT_EQ(*store_->SweepOrphans(now + 10, 0), 1u);
  EXPECT_EQ(Read("alice", Id(1)), "kept");
  EXPECT_EQ(Read("alice", Id(2)), "replacement");
  EXPECT_EQ(*store_->PurgeExpired(now + 1000), 1u);  // the replaced version, via the index
}

TEST_P(FileModeTest, FailuresDuringCommitLeaveThePreviousVersion) {
  FaultInjectionEnv env(Env::Default());
  store_.reset();
  auto opened = FileBlobStore::Open(&env, dir_, options_);
  ASSERT_TRUE(opened.ok());
  store_ = std::move(*opened);
  ASSERT_TRUE(Put("alice", Id(1), "old").ok());
  const size_t files = CountFiles(dir_ + "/blobs");
  // Each sync of a put (the data, the shard directory) and its rename, in turn.
  for (int fault = 0; fault < 4; ++fault) {
    env.ClearFaults();
    if (fault < 2) env.FailNthSync(env.syncs() + fault + 1);
    if (fault == 2) env.FailNthRename(env.renames() + 1);
    if (fault == 3) env.SetDiskFullAfter(2);
    Status status = Put("alice", Id(1), "new");
    EXPECT_FALSE(status.ok()) << fault;
    if (fault == 3) {
      EXPECT_EQ(status.reason(), "disk_full");
    }
    EXPECT_EQ(Read("alice", Id(1)), "old") << fault;
    EXPECT_EQ(store_->List("alice", {}).value().objects.size(), 1u);
    EXPECT_EQ(CountFiles(dir_ + "/blobs"), files) << fault;
    EXPECT_EQ(CountFiles(dir_ + "/tmp"), 0u) << fault;
  }
  env.ClearFaults();
  ASSERT_TRUE(Put("alice", Id(1), "new").ok());
  EXPECT_EQ(Read("alice", Id(1)), "new");
  store_.reset();  // before `env` goes away
}

// Group commit: concurrent puts share index transactions, but each keeps its own checks.
// 8 threads race create-only puts over 40 ids (every id tried by 2 threads): exactly one
// wins per id, the loser gets object_exists, and the index and files agree after reopen.
TEST_P(FileBlobStoreTest, ConcurrentCreateOnlyPutsCommitInGroupsWithOwnResults) {
  options_.quota_bytes = 1 << 20;
  Reopen();
  constexpr int kThreads = 8, kIds = 40;
  std::atomic<int> ok{0}, exists{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t % 2; i < kIds * 2; i += 2) {
        const int id = (i / 2) % kIds;
        Status s = Put("alice", Id(1000 + id), "value " + std::to_string(id), true);
        if (s.ok()) {
          ++ok;
        } else if (s.reason() == "object_exists") {
          ++exists;
        } else {
          ++other;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(ok.load(), kIds);
  EXPECT_EQ(ok.load() + exists.load(), kThreads * kIds);
  Reopen();
  for (int id = 0; id < kIds; ++id)
    EXPECT_EQ(Read("alice", Id(1000 + id)), "value " + std::to_string(id));
  EXPECT_EQ(CountFiles(dir_ + "/blobs"), kIds * FilesPerVersion()) << "losers left no file";
}

// Objects up to inline_max_bytes live in the index (no file), larger ones as files; both
// read back at any offset, before and after a reopen, and are purged the same way.
TEST(FileBlobStoreInlineTest, ThresholdDecidesWhereBytesLiveAndBothReadBack) {
  TempDir temp;
  const std::string& dir = temp.path;
  FileBlobStore::Options options;
  options.inline_max_bytes = 8;
  options.retention_seconds = 0;
  auto put = [](FileBlobStore& store, const std::string& id, std::string_view data) {
    CV_ASSIGN_OR_RETURN(
        auto pending,
        store.BeginPut("alice", id, {ObjectKind::kBlob, data.size(), Sha(data), false}));
    // In two appends, as a streamed body arrives.
    CV_RETURN_IF_ERROR(pending->Append(AsBytes(data.substr(0, 3))));
    CV_RETURN_IF_ERROR(pending->Append(AsBytes(data.substr(3))));
    return pending->Commit().status();
  };
  auto read_at = [](FileBlobStore& store, const std::string& id, uint64_t offset) {
    auto reader = store.Open("alice", id);
    if (!reader.ok()) return reader.status().ToString();
    std::string out(64, '\0');
    auto n = (*reader)->ReadAt(offset, std::span(reinterpret_cast<uint8_t*>(out.data()), 64));
    if (!n.ok()) return n.status().ToString();
    out.resize(*n);
    return out;
  };
  {
    auto store = FileBlobStore::Open(Env::Default(), dir, options).value();
    ASSERT_TRUE(put(*store, Id(1), "12345678").ok());
    EXPECT_EQ(CountFiles(dir + "/blobs"), 0u) << "8 bytes are stored inline";
    ASSERT_TRUE(put(*store, Id(2), "123456789").ok());
    EXPECT_EQ(CountFiles(dir + "/blobs"), 1u) << "9 bytes are stored as a file";
    EXPECT_EQ(CountFiles(dir + "/tmp"), 0u);
  }
  auto store = FileBlobStore::Open(Env::Default(), dir, options).value();
  EXPECT_EQ(read_at(*store, Id(1), 0), "12345678");
  EXPECT_EQ(read_at(*store, Id(1), 5), "678");
  EXPECT_EQ(read_at(*store, Id(1), 8), "");
  EXPECT_EQ(read_at(*store, Id(2), 6), "789");
  EXPECT_EQ(*store->UsedBytes("alice"), 17u);
  ASSERT_TRUE(store->Delete("alice", Id(1)).ok());
  ASSERT_TRUE(store->Delete("alice", Id(2)).ok());
  EXPECT_EQ(*store->UsedBytes("alice"), 0u);
  EXPECT_EQ(*store->PurgeExpired(Env::Default()->NowUnixNanos() / 1000000000 + 1), 2u);
  EXPECT_EQ(CountFiles(dir + "/blobs"), 0u);
  store.reset();
}

// An index as release schema version 3 wrote it (before per-user usage was kept), with the
// rows of `insert` (an INSERT INTO objects statement).
void WriteVersion3Index(const std::string& dir, const std::string& insert) {
  auto db = SqliteDb::Open(dir + "/index.db").value();
  ASSERT_TRUE(db->Exec(R"sql(
CREATE TABLE objects (seq INTEGER PRIMARY KEY, user TEXT NOT NULL, id TEXT NOT NULL,
  kind INTEGER NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL, created INTEGER NOT NULL,
  deleted INTEGER, file TEXT NOT NULL);
CREATE UNIQUE INDEX objects_live ON objects(user, id) WHERE deleted IS NULL;
CREATE INDEX objects_deleted ON objects(deleted) WHERE deleted IS NOT NULL;
CREATE INDEX objects_usage ON objects(user, size) WHERE deleted IS NULL;
CREATE INDEX objects_file ON objects(file);
)sql" + insert + "PRAGMA user_version = 3;")
                  .ok());
}

// An index written before per-user usage was kept (schema version 3, as released) gets
// its usage computed from the live rows when it is migrated.
TEST(FileBlobStoreInlineTest, UsageIsComputedWhenAnOlderIndexIsMigrated) {
  TempDir temp;
  const std::string& dir = temp.path;
  ASSERT_NO_FATAL_FAILURE(WriteVersion3Index(dir, R"sql(
INSERT INTO objects (user, id, kind, size, sha256, created, deleted, file) VALUES
  ('alice', 'a1', 1, 100, '', 1, NULL, 'f1'), ('alice', 'a2', 1, 20, '', 1, NULL, 'f2'),
  ('alice', 'a3', 1, 999, '', 1, 5, 'f3'), ('bob', 'b1', 1, 7, '', 1, NULL, 'f4');
)sql"));
  auto store = FileBlobStore::Open(Env::Default(), dir, {}).value();
  EXPECT_EQ(*store->UsedBytes("alice"), 120u);
  EXPECT_EQ(*store->UsedBytes("bob"), 7u);
  EXPECT_EQ(*store->UsedBytes("carol"), 0u);
  store.reset();
}

// Versions deleted before the storage limit existed count against it once the index is
// migrated, and leave it when purged.
TEST(FileBlobStoreQuotaTest, RetainedBytesOfAnOlderIndexCountAgainstTheStorageLimit) {
  TempDir temp;
  const std::string& dir = temp.path;
  ASSERT_NO_FATAL_FAILURE(WriteVersion3Index(dir, R"sql(
INSERT INTO objects (user, id, kind, size, sha256, created, deleted, file) VALUES
  ('alice', 'a1', 1, 100, '', 1, NULL, ''), ('alice', 'a3', 1, 990, '', 1, 5, '');
)sql"));
  FileBlobStore::Options options;
  options.quota_bytes = 1000;
  options.retained_quota_percent = 10;  // 1100 bytes on disk at most
  auto store = FileBlobStore::Open(Env::Default(), dir, options).value();
  const std::string data(20, 'x');
  PutOptions put{ObjectKind::kBlob, data.size(), Sha(data), false};
  auto refused = store->BeginPut("alice", Id(1), put);
  EXPECT_EQ(refused.status().reason(), "retained_quota_exceeded") << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("1100"), std::string::npos);
  ASSERT_EQ(store->PurgeExpired(int64_t{1} << 40).value(), 1u);
  EXPECT_TRUE(store->BeginPut("alice", Id(1), put).ok());
}

// A user's own quota replaces the default for that user only, takes effect on an open
// store (set through a second connection, as the CLI does), and can be reset.
TEST(FileBlobStoreQuotaTest, PerUserQuotaOverridesTheDefault) {
  TempDir temp;
  const std::string& dir = temp.path;
  FileBlobStore::Options options;
  options.quota_bytes = 1000;
  auto store = FileBlobStore::Open(Env::Default(), dir, options).value();
  auto put = [&](const std::string& user, int n, size_t size) {
    std::string data(size, 'x');
    CV_ASSIGN_OR_RETURN(
        auto p, store->BeginPut(user, Id(n), {ObjectKind::kBlob, data.size(), Sha(data), false}));
    CV_RETURN_IF_ERROR(p->Append(AsBytes(data)));
    return p->Commit().status();
  };
  ASSERT_TRUE(FileBlobStore::SetUserQuota(dir, "alice", 300).ok());
  EXPECT_EQ(*store->QuotaBytes("alice"), 300u);
  EXPECT_EQ(*store->QuotaBytes("bob"), 1000u);
  EXPECT_TRUE(put("alice", 1, 300).ok());
  EXPECT_EQ(put("alice", 2, 1).reason(), "quota_exceeded");
  EXPECT_TRUE(put("bob", 1, 900).ok());
  ASSERT_TRUE(FileBlobStore::SetUserQuota(dir, "alice", std::nullopt).ok());
  EXPECT_EQ(*store->QuotaBytes("alice"), 1000u);
  EXPECT_TRUE(put("alice", 2, 700).ok());
  EXPECT_EQ(*store->UsedBytes("alice"), 1000u) << "the quota row keeps the usage";
  store.reset();
}

}  // namespace
}  // namespace cardvault
