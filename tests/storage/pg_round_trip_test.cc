// PgObjectIndex under IndexedBlobStore: the round trips to PostgreSQL an upload costs, the
// per-user lock across two instances (two pools) under a tight quota, and the whole-batch
// retry when PostgreSQL breaks a deadlock inside a pipeline.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>
#include <vector>

#include "core/crypto.h"
#include "core/env.h"
#include "storage/file_byte_store.h"
#include "storage/indexed_blob_store.h"
#include "storage/pg_object_index.h"
#include "tests/storage/pg_database_test.h"

namespace cardvault {
namespace {

std::string Id(const std::string& name) { return HexEncode(Sha256(AsBytes(name))); }

class PgRoundTripTest : public PgDatabaseTest {
 protected:
  void SetUp() override {
    PgDatabaseTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    char tmpl[] = "/tmp/cv-pg-round-trip-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  void TearDown() override {
    stores_.clear();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // A store of its own (an instance: its own pool and byte directory) on the test's database.
  IndexedBlobStore* AddStore(PgObjectIndex** index_out, size_t pool_size,
                             IndexedBlobStore::Options options = {}) {
    auto index = PgObjectIndex::Open(conninfo_, {.pool_size = pool_size});
    EXPECT_TRUE(index.ok()) << index.status().ToString();
    if (!index.ok()) return nullptr;
    const std::string data_dir = dir_ + "/" + std::to_string(stores_.size());
    std::filesystem::create_directories(data_dir);
    auto bytes = FileByteStore::Open(Env::Default(), data_dir);
    EXPECT_TRUE(bytes.ok()) << bytes.status().ToString();
    if (!bytes.ok()) return nullptr;
    *index_out = index->get();
    stores_.push_back(std::make_unique<IndexedBlobStore>(Env::Default(), std::move(*index),
                                                         std::move(*bytes), options));
    return stores_.back().get();
  }

  static Status Put(IndexedBlobStore& store, const std::string& id, const Bytes& data) {
    const std::string sha = HexEncode(Sha256(data));
    CV_ASSIGN_OR_RETURN(auto put,
                        store.BeginPut("alice", id, {ObjectKind::kBlob, data.size(), sha}));
    CV_RETURN_IF_ERROR(put->Append(data));
    return put->Commit().status();
  }

  std::string dir_;
  std::vector<std::unique_ptr<IndexedBlobStore>> stores_;
};

// A small new object costs 5 round trips once the connection's statements are prepared: the
// pre-check (1), BEGIN + SAVEPOINT (1), the lock with both reads (1), the insert with its
// usage (1), RELEASE + COMMIT (1). A replacement adds the retire (1). Before: 11 and 13.
TEST_F(PgRoundTripTest, SmallUploadTakesFiveRoundTripsAndReplacementSix) {
  PgObjectIndex* index = nullptr;
  IndexedBlobStore* store = AddStore(&index, /*pool_size=*/1);
  ASSERT_NE(store, nullptr);
  const Bytes small(1024, 0x5a);
  ASSERT_TRUE(Put(*store, Id("warm"), small).ok());  // prepares the statements
  ASSERT_TRUE(Put(*store, Id("warm"), small).ok());

  const uint64_t before_new = index->round_trips();
  ASSERT_TRUE(Put(*store, Id("new"), small).ok());
  const uint64_t new_object = index->round_trips() - before_new;
  const Bytes other(1000, 0x33);
  const uint64_t before_replace = index->round_trips();
  ASSERT_TRUE(Put(*store, Id("new"), other).ok());
  const uint64_t replacement = index->round_trips() - before_replace;
  EXPECT_LE(new_object, 5u) << new_object;
  EXPECT_LE(replacement, 6u) << replacement;

  auto head = store->Head("alice", Id("new"));
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->size, 1000u);
  auto usage = index->Usage("alice");
  ASSERT_TRUE(usage.ok());
  EXPECT_EQ(usage->live_bytes, 2024u);
  EXPECT_EQ(usage->retained_bytes, 2048u);
}

// Two instances (two pools) fill one user's tight quota at once, with new objects and
// replacements: the quota is never exceeded, and the usage is the sum of the versions.
TEST_F(PgRoundTripTest, TwoInstancesNeverExceedOneUsersQuota) {
  constexpr uint64_t kSize = 1000, kQuota = 10 * kSize;
  IndexedBlobStore::Options options;
  options.retained_quota_percent = 10000;  // the live quota is what is raced here
  PgObjectIndex* indexes[2] = {nullptr, nullptr};
  for (PgObjectIndex*& index : indexes) ASSERT_NE(AddStore(&index, 4, options), nullptr);
  ASSERT_TRUE(indexes[0]->SetQuota("alice", kQuota).ok());
  std::atomic<int> stored{0}, refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 12; ++i) {  // 6 ids of its own, each put twice
        const Bytes data(kSize, static_cast<uint8_t>(i));
        const std::string id = Id(std::to_string(t) + "/" + std::to_string(i % 6));
        Status s = Put(*stores_[t % 2], id, data);
        if (s.ok()) {
          ++stored;
        } else if (s.reason() == "quota_exceeded") {
          ++refused;
        } else {
          ADD_FAILURE() << s.ToString();
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(stored.load() + refused.load(), 72);
  auto page = stores_[1]->List("alice", {.limit = 1000});
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->objects.size(), size_t{kQuota / kSize});
  auto usage = indexes[1]->Usage("alice");
  ASSERT_TRUE(usage.ok());
  EXPECT_EQ(usage->live_bytes, kQuota) << "filled to the quota, never beyond";
  auto versions = indexes[1]->VersionPage(0, 1000, false);
  ASSERT_TRUE(versions.ok());
  uint64_t live = 0, retired = 0;
  for (const IndexedVersion& v : *versions) (v.retired_unix ? retired : live) += v.info.size;
  EXPECT_EQ(live, usage->live_bytes);
  EXPECT_EQ(retired, usage->retained_bytes);
  EXPECT_EQ(retired, (stored.load() - kQuota / kSize) * kSize) << "each other success replaced";
}

// Two batches lock two users in opposite orders: PostgreSQL breaks the deadlock by failing
// one lock inside its pipeline (40P01); that batch is run again whole and both commit.
TEST_F(PgRoundTripTest, ADeadlockInAPipelineRunsTheBatchAgain) {
  auto opened = PgObjectIndex::Open(conninfo_, {.pool_size = 2});
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  PgObjectIndex& index = **opened;
  std::atomic<int> attempts{0}, holding{0};
  auto batch = [&](const std::string& first, const std::string& second) {
    bool waited = false;
    IndexStep step = [&, first, second](IndexTransaction& txn) -> Status {
      ++attempts;
      CV_RETURN_IF_ERROR(txn.FindLive(first, Id("x")).status());
      if (!waited) {  // both batches hold their first lock before asking for the second
        waited = true;
        ++holding;
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (holding.load() < 2 && std::chrono::steady_clock::now() < until) {
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
      }
      CV_RETURN_IF_ERROR(txn.FindLive(second, Id("x")).status());
      return txn.Insert(
          {first, Id(second), ObjectKind::kBlob, 7, std::string(64, 'a'), "k" + first, nullptr},
          1000);
    };
    const IndexStep* steps[] = {&step};
    Status results[1];
    EXPECT_TRUE(index.WriteBatch(steps, results).ok());
    EXPECT_TRUE(results[0].ok()) << results[0].ToString();
  };
  std::thread a([&] { batch("alice", "bob"); });
  std::thread b([&] { batch("bob", "alice"); });
  a.join();
  b.join();
  EXPECT_EQ(attempts.load(), 3) << "one batch ran again";
  EXPECT_EQ(index.Usage("alice")->live_bytes, 7u);
  EXPECT_EQ(index.Usage("bob")->live_bytes, 7u);
  EXPECT_TRUE(index.FindLive("alice", Id("bob"), false).ok());
  EXPECT_TRUE(index.FindLive("bob", Id("alice"), false).ok());
}

// A step that swallows a failed statement and returns OK leaves its transaction aborted:
// the joined "RELEASE SAVEPOINT step; COMMIT" reports that failure (a bare COMMIT would
// answer ROLLBACK without an error), so the batch fails whole instead of claiming success.
TEST_F(PgRoundTripTest, AFailureSwallowedByAStepFailsTheWholeBatch) {
  auto opened = PgObjectIndex::Open(conninfo_, {.pool_size = 1});
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  PgObjectIndex& index = **opened;
  auto insert = [](IndexTransaction& txn, const std::string& id) {
    return txn.Insert({"alice", id, ObjectKind::kBlob, 5, std::string(64, 'a'), "k" + id, nullptr},
                      1000);
  };
  IndexStep first = [&](IndexTransaction& txn) { return insert(txn, Id("first")); };
  IndexStep swallowing = [&](IndexTransaction& txn) -> Status {
    CV_RETURN_IF_ERROR(insert(txn, Id("twice")));
    EXPECT_EQ(insert(txn, Id("twice")).reason(), "pg_23505");  // ignored by the step
    return Status::Ok();
  };
  const IndexStep* steps[] = {&first, &swallowing};
  Status results[2];
  const Status batch = index.WriteBatch(steps, results);
  EXPECT_FALSE(batch.ok());
  EXPECT_EQ(batch.reason(), "pg_25P02") << batch.ToString();  // in failed sql transaction
  EXPECT_EQ(results[0].reason(), batch.reason());
  EXPECT_EQ(index.FindLive("alice", Id("first"), false).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(index.FindLive("alice", Id("twice"), false).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(index.Usage("alice")->live_bytes, 0u);
}

}  // namespace
}  // namespace cardvault
