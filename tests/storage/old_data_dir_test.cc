// A data directory written by the previous release (commit 1b67926, index schema 6) opens
// with today's storage and keeps working: its objects list and read back byte for byte, its
// usage, deleted and replaced versions, tokens and files are what that release left.
//
// The directory is a committed fixture (tests/fixtures/data-dir-1b67926, ~100 KB), written
// by that release's own server over its REST API (tests/fixtures/make_old_data_dir.sh), not
// generated here from a copy of the old schema: a copy would test what we believe the old
// code wrote, the fixture tests what it did write (its SQLite file, triggers, row values,
// file names and shards), and it stays valid after the old tree is gone.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "core/crypto.h"
#include "storage/file_blob_store.h"
#include "storage/sqlite_db.h"
#include "storage/sqlite_token_store.h"
#include "tests/storage/old_data_dir_fixture.h"

namespace cardvault {
namespace {

const std::string kFixture = OldDataDirFixture();

std::string Sha(std::string_view data) { return HexEncode(Sha256(AsBytes(data))); }

size_t CountFiles(const std::string& dir) {
  size_t n = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) ++n;
  }
  return n;
}

class OldDataDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cv-old-data-dir-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    std::filesystem::copy(kFixture, dir_, std::filesystem::copy_options::recursive);
    options_.inline_max_bytes = 1024;  // as the fixture's config.json
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Open() {
    store_.reset();
    auto store = FileBlobStore::Open(Env::Default(), dir_, options_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }
  std::string Read(const std::string& user, const std::string& id) {
    auto reader = store_->Open(user, id);
    if (!reader.ok()) return "<" + reader.status().ToString() + ">";
    std::string out((*reader)->info().size, '\0');
    size_t done = 0;
    while (done < out.size()) {
      auto n = (*reader)->ReadAt(
          done, std::span(reinterpret_cast<uint8_t*>(out.data()) + done, out.size() - done));
      if (!n.ok()) return "<" + n.status().ToString() + ">";
      if (*n == 0) break;
      done += *n;
    }
    out.resize(done);
    return out;
  }

  std::string dir_;
  FileBlobStore::Options options_;
  std::unique_ptr<FileBlobStore> store_;
};

TEST_F(OldDataDirTest, ObjectsListAndReadBackAsTheOldServerStoredThem) {
  ASSERT_NO_FATAL_FAILURE(Open());
  struct Expected {
    std::string user;
    int n;
    std::string content;
    ObjectKind kind;
  };
  const std::vector<Expected> live = {
      {"alice", 1, FixtureContent("alice", 1, 100), ObjectKind::kBlob},         // inline
      {"alice", 2, FixtureContent("alice", 2, 3000), ObjectKind::kBlob},        // a file
      {"alice", 3, FixtureContent("alice", 3, 200), ObjectKind::kKey},          // a key object
      {"alice", 4, FixtureContent("alice", 4, 2500, "v2"), ObjectKind::kBlob},  // replaced once
      {"bob", 1, FixtureContent("bob", 1, 5000), ObjectKind::kBlob},
  };
  for (const Expected& e : live) {
    SCOPED_TRACE(e.user + "/" + std::to_string(e.n));
    EXPECT_EQ(Read(e.user, FixtureId(e.user, e.n)), e.content);
    auto head = store_->Head(e.user, FixtureId(e.user, e.n));
    ASSERT_TRUE(head.ok()) << head.status().ToString();
    EXPECT_EQ(head->sha256, Sha(e.content));
    EXPECT_EQ(head->kind, e.kind);
    EXPECT_GT(head->created_unix, 0);
  }
  auto alice = store_->List("alice", {});
  ASSERT_TRUE(alice.ok());
  EXPECT_EQ(alice->objects.size(), 4u) << "deleted objects 5 and 6 are not listed";
  auto keys = store_->List("alice", {.kind = ObjectKind::kKey});
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->objects.size(), 1u);
  EXPECT_EQ(keys->objects[0].id, FixtureId("alice", 3));
  EXPECT_EQ(store_->Open("alice", FixtureId("alice", 5)).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Open("bob", FixtureId("alice", 1)).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(*store_->UsedBytes("alice"), 100u + 3000 + 200 + 2500);
  EXPECT_EQ(*store_->UsedBytes("bob"), 5000u);
  // Every live object whole, by the same check `cardvault-server check` runs.
  store_.reset();
  auto summary = FileBlobStore::Check(Env::Default(), dir_, {});
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ(summary->objects, 5u);
  EXPECT_TRUE(summary->damaged.empty());
}

// The old release kept no retained bytes: the migration counts the three versions it had
// deleted or replaced (2000 + 1500 + 50 bytes), and the purge removes them with their files.
TEST_F(OldDataDirTest, RetiredVersionsCountUntilPurgedAndTheirFilesGo) {
  options_.quota_bytes = 10000;
  options_.retained_quota_percent = 0;  // the storage limit is the quota itself
  ASSERT_NO_FATAL_FAILURE(Open());
  const std::string data(10000 - 5800 - 3550 + 1, 'x');
  PutOptions put{ObjectKind::kBlob, data.size(), Sha(data), false};
  EXPECT_EQ(store_->BeginPut("alice", FixtureId("alice", 9), put).status().reason(),
            "retained_quota_exceeded");
  const size_t files = CountFiles(dir_ + "/blobs");
  EXPECT_EQ(files, 5u);
  const int64_t now = Env::Default()->NowUnixNanos() / 1000000000;
  EXPECT_EQ(*store_->PurgeExpired(now + options_.retention_seconds + 1), 3u);
  EXPECT_EQ(CountFiles(dir_ + "/blobs"), files - 2) << "the replaced and the deleted file";
  EXPECT_TRUE(store_->BeginPut("alice", FixtureId("alice", 9), put).ok());
  EXPECT_EQ(Read("alice", FixtureId("alice", 4)), FixtureContent("alice", 4, 2500, "v2"));
  EXPECT_EQ(*store_->SweepOrphans(now + 7200), 0u) << "every old file is referenced";
}

// New writes land beside the old ones, and both survive a reopen; the index is migrated to
// today's schema once, in place.
TEST_F(OldDataDirTest, NewWritesWorkBesideOldObjectsAcrossReopen) {
  ASSERT_NO_FATAL_FAILURE(Open());
  const std::string big = FixtureContent("alice", 7, 4000), small = FixtureContent("alice", 8, 10);
  for (const std::string* data : {&big, &small}) {
    const int n = data == &big ? 7 : 8;
    auto pending = store_->BeginPut("alice", FixtureId("alice", n),
                                    {ObjectKind::kBlob, data->size(), Sha(*data), true});
    ASSERT_TRUE(pending.ok()) << pending.status().ToString();
    ASSERT_TRUE((*pending)->Append(AsBytes(*data)).ok());
    ASSERT_TRUE((*pending)->Commit().ok());
  }
  ASSERT_TRUE(store_->Delete("alice", FixtureId("alice", 2)).ok());
  ASSERT_NO_FATAL_FAILURE(Open());
  EXPECT_EQ(Read("alice", FixtureId("alice", 7)), big);
  EXPECT_EQ(Read("alice", FixtureId("alice", 8)), small);
  EXPECT_EQ(Read("alice", FixtureId("alice", 1)), FixtureContent("alice", 1, 100));
  EXPECT_EQ(store_->Head("alice", FixtureId("alice", 2)).status().code(), StatusCode::kNotFound);
  store_.reset();
  auto db = SqliteDb::Open(dir_ + "/index.db").value();
  EXPECT_EQ(db->UserVersion().value(), 9);
}

// auth.db: users and token digests as the old release stored them; a revoked token stays
// revoked, a valid one authenticates, a new one can be issued.
TEST_F(OldDataDirTest, TokensAndUsersStillAuthenticate) {
  std::ifstream in(dir_ + "/tokens.txt");
  std::string alice_token, bob_token;
  ASSERT_TRUE(std::getline(in, alice_token) && std::getline(in, bob_token));
  auto tokens = SqliteTokenStore::Open(Env::Default(), dir_ + "/auth.db");
  ASSERT_TRUE(tokens.ok()) << tokens.status().ToString();
  EXPECT_EQ((*tokens)->ListUsers().value(), (std::vector<std::string>{"alice", "bob"}));
  EXPECT_EQ((*tokens)->Authenticate(alice_token).value(), "alice");
  EXPECT_EQ((*tokens)->Authenticate(bob_token).value(), "bob");
  auto listed = (*tokens)->List().value();
  ASSERT_EQ(listed.size(), 3u);
  EXPECT_TRUE(listed[1].revoked);
  std::string revoked = "cvt_2_" + std::string(64, '0');
  EXPECT_EQ((*tokens)->Authenticate(revoked).status().reason(), "bad_token");
  auto issued = (*tokens)->Issue("alice", "new laptop");
  ASSERT_TRUE(issued.ok());
  EXPECT_EQ(issued->id, 4);
}

}  // namespace
}  // namespace cardvault
