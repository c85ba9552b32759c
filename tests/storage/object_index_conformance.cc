// The ObjectIndex conformance tests: what every index backend MUST do (storage/object_index.h).
#include "tests/storage/object_index_conformance.h"

#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <thread>
#include <vector>

#include "core/crypto.h"

namespace cardvault {
namespace {

std::string Id(int n) { return HexEncode(Sha256(AsBytes("id " + std::to_string(n)))); }

// A version of `size` bytes for `user`: in the byte store under `key`, or inline if empty.
struct Put {
  std::string user;
  std::string id;
  uint64_t size;
  std::string key;  // empty: inline (data of `size` bytes)
  ObjectKind kind = ObjectKind::kBlob;
};

IndexStep InsertStep(const Put& p, int64_t now, const Bytes* data) {
  return [&p, now, data](IndexTransaction& txn) -> Status {
    CV_ASSIGN_OR_RETURN(auto live, txn.FindLive(p.user, p.id));
    if (live.has_value()) CV_RETURN_IF_ERROR(txn.RetireLive(p.user, p.id, now).status());
    const std::string sha = std::string(64, 'a');
    return txn.Insert({p.user, p.id, p.kind, p.size, sha, p.key, p.key.empty() ? data : nullptr},
                      now);
  };
}

Status RunOne(ObjectIndex& index, const IndexStep& step) {
  const IndexStep* steps[] = {&step};
  Status results[1];
  CV_RETURN_IF_ERROR(index.WriteBatch(steps, results));
  return results[0];
}

Status Insert(ObjectIndex& index, const Put& p, int64_t now = 1000) {
  const Bytes data(static_cast<size_t>(p.size), 0x5a);
  return RunOne(index, InsertStep(p, now, &data));
}

Status Retire(ObjectIndex& index, const std::string& user, const std::string& id, int64_t now) {
  return RunOne(index, [&](IndexTransaction& txn) -> Status {
    CV_ASSIGN_OR_RETURN(bool retired, txn.RetireLive(user, id, now));
    return retired ? Status::Ok() : NotFoundError("none");
  });
}

}  // namespace

void ObjectIndexConformance::SetUp() {
  if (std::string why = GetParam().unavailable(); !why.empty()) GTEST_SKIP() << why;
  char tmpl[] = "/tmp/cv-index-conformance-XXXXXX";
  dir_ = ::mkdtemp(tmpl);
  auto index = GetParam().create(dir_);
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  index_ = std::move(*index);
}

void ObjectIndexConformance::TearDown() {
  index_.reset();
  if (!dir_.empty()) std::filesystem::remove_all(dir_);
}

void ObjectIndexConformance::Reopen() {
  index_.reset();
  auto index = GetParam().reopen(dir_);
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  index_ = std::move(*index);
}

std::string ObjectIndexSuiteName(const ::testing::TestParamInfo<ObjectIndexSuite>& info) {
  return info.param.name;
}

// The readiness probe answers OK for an index that works, and changes nothing.
TEST_P(ObjectIndexConformance, ProbeAnswersAndChangesNothing) {
  EXPECT_TRUE(index_->Probe().ok()) << index_->Probe().ToString();
  ASSERT_TRUE(Insert(*index_, {"alice", Id(1), 10, ""}, 1000).ok());
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(index_->Probe().ok());
  EXPECT_EQ(index_->Usage("alice").value().live_bytes, 10u);
  EXPECT_EQ(index_->Usage("bob").value().live_bytes, 0u);
  EXPECT_EQ(index_->List("alice", {}).value().objects.size(), 1u);
}

// A recorded version reads back with every field, inline bytes only when asked for, and
// counts in the user's live bytes; retiring it moves its bytes to the retained ones.
TEST_P(ObjectIndexConformance, InsertFindRetireKeepUsage) {
  ASSERT_TRUE(Insert(*index_, {"alice", Id(1), 10, ""}, 1000).ok());
  ASSERT_TRUE(Insert(*index_, {"alice", Id(2), 5000, "k2", ObjectKind::kKey}, 1001).ok());
  auto inline_v = index_->FindLive("alice", Id(1), true);
  ASSERT_TRUE(inline_v.ok()) << inline_v.status().ToString();
  EXPECT_TRUE(inline_v->is_inline);
  EXPECT_EQ(inline_v->data, Bytes(10, 0x5a));
  EXPECT_EQ(inline_v->info.size, 10u);
  EXPECT_EQ(inline_v->info.created_unix, 1000);
  EXPECT_EQ(inline_v->info.sha256, std::string(64, 'a'));
  EXPECT_EQ(inline_v->user, "alice");
  auto stored = index_->FindLive("alice", Id(2), false);
  ASSERT_TRUE(stored.ok());
  EXPECT_FALSE(stored->is_inline);
  EXPECT_EQ(stored->byte_key, "k2");
  EXPECT_EQ(stored->info.kind, ObjectKind::kKey);
  EXPECT_TRUE(stored->data.empty());
  EXPECT_GT(stored->version, inline_v->version) << "versions increase in recording order";
  EXPECT_EQ(index_->FindLive("bob", Id(1), false).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(index_->Usage("alice")->live_bytes, 5010u);
  EXPECT_EQ(index_->Usage("bob")->live_bytes, 0u);

  ASSERT_TRUE(Insert(*index_, {"alice", Id(2), 7000, "k3"}, 1002).ok());  // replaces
  EXPECT_EQ(index_->FindLive("alice", Id(2), false)->byte_key, "k3");
  auto usage = index_->Usage("alice");
  EXPECT_EQ(usage->live_bytes, 7010u);
  EXPECT_EQ(usage->retained_bytes, 5000u);
  ASSERT_TRUE(Retire(*index_, "alice", Id(1), 1003).ok());
  EXPECT_EQ(Retire(*index_, "alice", Id(1), 1003).code(), StatusCode::kNotFound);
  EXPECT_EQ(index_->FindLive("alice", Id(1), true).status().reason(), "no_such_object");
  usage = index_->Usage("alice");
  EXPECT_EQ(usage->live_bytes, 7000u);
  EXPECT_EQ(usage->retained_bytes, 5010u);
}

// A failing step leaves no trace while the other steps of its batch commit.
TEST_P(ObjectIndexConformance, AFailingStepLeavesNoTraceAndOthersCommit) {
  const Bytes data(4, 1);
  Put a{"alice", Id(1), 4, ""}, c{"alice", Id(3), 4, ""};
  IndexStep first = InsertStep(a, 1000, &data), last = InsertStep(c, 1000, &data);
  IndexStep failing = [](IndexTransaction& txn) -> Status {
    CV_RETURN_IF_ERROR(txn.Insert(
        {"alice", Id(2), ObjectKind::kBlob, 100, std::string(64, 'a'), "k", nullptr}, 1000));
    CV_RETURN_IF_ERROR(txn.RetireLive("alice", Id(1), 1000).status());
    return ResourceExhaustedError("over quota", "quota_exceeded");
  };
  const IndexStep* steps[] = {&first, &failing, &last};
  Status results[3];
  ASSERT_TRUE(index_->WriteBatch(steps, results).ok());
  EXPECT_TRUE(results[0].ok());
  EXPECT_EQ(results[1].reason(), "quota_exceeded");
  EXPECT_TRUE(results[2].ok());
  ASSERT_NO_FATAL_FAILURE(Reopen());
  EXPECT_TRUE(index_->FindLive("alice", Id(1), false).ok()) << "the failed step's retire is undone";
  EXPECT_EQ(index_->FindLive("alice", Id(2), false).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(index_->FindLive("alice", Id(3), false).ok());
  EXPECT_EQ(index_->Usage("alice")->live_bytes, 8u);
  EXPECT_EQ(index_->Usage("alice")->retained_bytes, 0u);
  EXPECT_FALSE(index_->References("k").value());
}

// Pages in id order, continued with `after`; prefix and kind filters; users isolated.
TEST_P(ObjectIndexConformance, ListPaginatesFiltersAndIsolatesUsers) {
  std::vector<std::string> ids;
  for (int i = 0; i < 25; ++i) {
    ids.push_back(Id(i));
    ASSERT_TRUE(
        Insert(*index_, {"alice", Id(i), 1, "", i % 5 == 0 ? ObjectKind::kKey : ObjectKind::kBlob})
            .ok());
  }
  ASSERT_TRUE(Insert(*index_, {"bob", Id(100), 1, ""}).ok());
  ASSERT_TRUE(Retire(*index_, "alice", Id(3), 1001).ok());
  std::sort(ids.begin(), ids.end());
  ids.erase(std::find(ids.begin(), ids.end(), Id(3)));
  std::vector<std::string> seen;
  ListOptions options;
  options.limit = 7;
  for (int pages = 0; pages < 10; ++pages) {
    auto page = index_->List("alice", options);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    for (const ObjectInfo& info : page->objects) seen.push_back(info.id);
    if (!page->truncated) break;
    EXPECT_EQ(page->objects.size(), 7u);
    options.after = page->objects.back().id;
  }
  EXPECT_EQ(seen, ids);
  auto keys = index_->List("alice", {.limit = 1000, .kind = ObjectKind::kKey});
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(keys->objects.size(), 5u);
  const std::string prefix = ids[4].substr(0, 1);
  auto prefixed = index_->List("alice", {.prefix = prefix, .limit = 1000});
  ASSERT_TRUE(prefixed.ok());
  EXPECT_EQ(prefixed->objects.size(),
            static_cast<size_t>(std::count_if(ids.begin(), ids.end(), [&](const std::string& id) {
              return id.starts_with(prefix);
            })));
  for (const ObjectInfo& info : prefixed->objects) EXPECT_TRUE(info.id.starts_with(prefix));
  EXPECT_EQ(index_->List("carol", {.limit = 1000})->objects.size(), 0u);
  auto bob = index_->List("bob", {.limit = 1000});
  ASSERT_EQ(bob->objects.size(), 1u);
  EXPECT_EQ(bob->objects[0].id, Id(100));
}

// Retired versions expire by their retirement time, are forgotten with their bytes'
// accounting, and a live version is never forgotten.
TEST_P(ObjectIndexConformance, ExpiredVersionsAreForgottenLiveOnesNever) {
  ASSERT_TRUE(Insert(*index_, {"alice", Id(1), 100, "k1"}, 1000).ok());
  ASSERT_TRUE(Insert(*index_, {"alice", Id(1), 200, "k2"}, 2000).ok());  // retires k1 at 2000
  ASSERT_TRUE(Insert(*index_, {"alice", Id(2), 30, ""}, 2000).ok());
  ASSERT_TRUE(Retire(*index_, "alice", Id(2), 3000).ok());
  EXPECT_TRUE(index_->Expired(1999, 100)->empty());
  auto expired = index_->Expired(2000, 100);
  ASSERT_TRUE(expired.ok());
  ASSERT_EQ(expired->size(), 1u);
  EXPECT_EQ((*expired)[0].byte_key, "k1");
  EXPECT_EQ(index_->Expired(3000, 100)->size(), 2u);
  EXPECT_EQ(index_->Expired(3000, 1)->size(), 1u) << "the limit holds";
  const int64_t live = index_->FindLive("alice", Id(1), false)->version;
  ASSERT_TRUE(index_->Forget(live).ok());
  EXPECT_TRUE(index_->FindLive("alice", Id(1), false).ok()) << "a live version stays";
  EXPECT_TRUE(index_->References("k1").value()) << "a retired version still names its bytes";
  for (const IndexedVersion& v : index_->Expired(3000, 100).value()) {
    ASSERT_TRUE(index_->Forget(v.version).ok());
    ASSERT_TRUE(index_->Forget(v.version).ok()) << "twice is OK";
  }
  EXPECT_FALSE(index_->References("k1").value());
  EXPECT_TRUE(index_->References("k2").value());
  auto usage = index_->Usage("alice");
  EXPECT_EQ(usage->live_bytes, 200u);
  EXPECT_EQ(usage->retained_bytes, 0u);
}

// A user's own quota is kept with or without objects, cleared with nullopt, and survives a
// reopen; setting it changes no usage.
TEST_P(ObjectIndexConformance, OwnQuotaIsKeptAndCleared) {
  EXPECT_FALSE(index_->Usage("alice")->quota_bytes.has_value());
  ASSERT_TRUE(index_->SetQuota("alice", 300).ok());
  ASSERT_TRUE(Insert(*index_, {"alice", Id(1), 50, ""}).ok());
  ASSERT_TRUE(index_->SetQuota("alice", 400).ok());
  ASSERT_NO_FATAL_FAILURE(Reopen());
  auto usage = index_->Usage("alice");
  EXPECT_EQ(usage->quota_bytes, std::optional<uint64_t>(400));
  EXPECT_EQ(usage->live_bytes, 50u);
  ASSERT_TRUE(index_->SetQuota("alice", std::nullopt).ok());
  EXPECT_FALSE(index_->Usage("alice")->quota_bytes.has_value());
  EXPECT_EQ(index_->Usage("alice")->live_bytes, 50u);
  EXPECT_FALSE(index_->Usage("bob")->quota_bytes.has_value());
}

// The walk of a check: live versions in version order, a page at a time; damage marks stay
// on live versions only, and may drop inline bytes.
TEST_P(ObjectIndexConformance, LivePagesAndDamageMarks) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Insert(*index_, {"alice", Id(i), 8, ""}).ok());
  ASSERT_TRUE(Insert(*index_, {"bob", Id(9), 900, "kb"}).ok());
  ASSERT_TRUE(Retire(*index_, "alice", Id(2), 1001).ok());
  std::vector<IndexedVersion> all;
  int64_t after = 0;
  for (int pages = 0; pages < 10; ++pages) {
    auto page = index_->LivePage(after, 2);
    ASSERT_TRUE(page.ok());
    if (page->empty()) break;
    EXPECT_LE(page->size(), 2u);
    for (IndexedVersion& v : *page) all.push_back(std::move(v));
    after = all.back().version;
  }
  ASSERT_EQ(all.size(), 5u);
  for (size_t i = 1; i < all.size(); ++i) EXPECT_LT(all[i - 1].version, all[i].version);
  EXPECT_EQ(all.back().user, "bob");
  EXPECT_EQ(all.back().byte_key, "kb");
  EXPECT_EQ(index_->InlineData(all[0].version).value(), std::optional<Bytes>(Bytes(8, 0x5a)));
  EXPECT_FALSE(index_->InlineData(all.back().version).value().has_value());

  EXPECT_TRUE(index_->MarkDamaged(all[0].version, "size: cut", true).value());
  EXPECT_TRUE(index_->MarkDamaged(all.back().version, "missing", false).value());
  const int64_t retired = index_->Expired(1001, 10).value().at(0).version;
  EXPECT_FALSE(index_->MarkDamaged(retired, "late", false).value());
  ASSERT_NO_FATAL_FAILURE(Reopen());
  auto damaged = index_->FindLive("alice", all[0].info.id, true);
  ASSERT_TRUE(damaged.ok());
  EXPECT_EQ(damaged->damaged, "size: cut");
  EXPECT_FALSE(damaged->is_inline) << "its inline bytes were dropped";
  EXPECT_EQ(index_->FindLive("bob", Id(9), false)->damaged, "missing");
  EXPECT_EQ(index_->Usage("bob")->live_bytes, 900u) << "a damaged object still counts";
  EXPECT_EQ(index_->List("alice", {.limit = 100})->objects.size(), 4u) << "and is listed";
}

// Committed batches survive a reopen.
TEST_P(ObjectIndexConformance, CommittedWritesSurviveReopen) {
  ASSERT_TRUE(Insert(*index_, {"alice", Id(1), 10, ""}).ok());
  ASSERT_TRUE(Insert(*index_, {"alice", Id(2), 2000, "k"}).ok());
  ASSERT_NO_FATAL_FAILURE(Reopen());
  EXPECT_EQ(index_->FindLive("alice", Id(1), true)->data, Bytes(10, 0x5a));
  EXPECT_EQ(index_->FindLive("alice", Id(2), false)->byte_key, "k");
  EXPECT_EQ(index_->Usage("alice")->live_bytes, 2010u);
}

// Steps are isolated: 8 threads race "insert if absent" steps over the same 20 ids in
// batches; exactly one wins per id, and the usage is the sum of the winners.
TEST_P(ObjectIndexConformance, ConcurrentStepsAreIsolated) {
  constexpr int kThreads = 8, kIds = 20;
  std::atomic<int> won{0}, lost{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kIds; i += 2) {
        std::vector<IndexStep> steps;
        std::vector<std::string> ids = {Id((i + t) % kIds), Id((i + t + 1) % kIds)};
        for (const std::string& id : ids) {
          steps.push_back([&, id](IndexTransaction& txn) -> Status {
            CV_ASSIGN_OR_RETURN(auto live, txn.FindLive("alice", id));
            if (live.has_value()) return AlreadyExistsError("exists", "object_exists");
            return txn.Insert(
                {"alice", id, ObjectKind::kBlob, 3, std::string(64, 'a'), "k" + id, nullptr}, 1000);
          });
        }
        std::vector<const IndexStep*> pointers = {&steps[0], &steps[1]};
        Status results[2];
        if (!index_->WriteBatch(pointers, results).ok()) ++failed;
        for (const Status& s : results) {
          if (s.ok()) {
            ++won;
          } else if (s.reason() == "object_exists") {
            ++lost;
          } else {
            ++failed;
            ADD_FAILURE() << s.ToString();
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(won.load(), kIds);
  EXPECT_EQ(won.load() + lost.load(), kThreads * kIds);
  EXPECT_EQ(index_->Usage("alice")->live_bytes, uint64_t{kIds} * 3);
  EXPECT_EQ(index_->List("alice", {.limit = 1000})->objects.size(), size_t{kIds});
}

// The walk of a migration: every version, live and retired, in version order, with its
// retire time, damage mark and (when asked) inline bytes; and the users' own quotas.
TEST_P(ObjectIndexConformance, VersionPagesWalkLiveAndRetiredVersions) {
  ASSERT_TRUE(Insert(*index_, {"alice", Id(1), 8, ""}, 1000).ok());
  ASSERT_TRUE(Insert(*index_, {"alice", Id(2), 900, "k2"}, 1001).ok());
  ASSERT_TRUE(Insert(*index_, {"alice", Id(2), 950, "k3"}, 1002).ok());  // retires k2
  ASSERT_TRUE(Insert(*index_, {"bob", Id(1), 9, ""}, 1003).ok());
  ASSERT_TRUE(Retire(*index_, "bob", Id(1), 1004).ok());
  ASSERT_TRUE(index_->SetQuota("carol", 77).ok());
  ASSERT_TRUE(index_->SetQuota("alice", 5000).ok());
  std::vector<IndexedVersion> all;
  int64_t after = 0;
  for (int pages = 0; pages < 10; ++pages) {
    auto page = index_->VersionPage(after, 3, /*with_data=*/true);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    if (page->empty()) break;
    EXPECT_LE(page->size(), 3u);
    for (IndexedVersion& v : *page) all.push_back(std::move(v));
    after = all.back().version;
  }
  ASSERT_EQ(all.size(), 4u);
  for (size_t i = 1; i < all.size(); ++i) EXPECT_LT(all[i - 1].version, all[i].version);
  EXPECT_EQ(all[0].data, Bytes(8, 0x5a));
  EXPECT_FALSE(all[0].retired_unix.has_value());
  EXPECT_EQ(all[1].byte_key, "k2");
  EXPECT_EQ(all[1].retired_unix, std::optional<int64_t>(1002));
  EXPECT_EQ(all[1].info.created_unix, 1001);
  EXPECT_FALSE(all[2].retired_unix.has_value());
  EXPECT_EQ(all[3].user, "bob");
  EXPECT_EQ(all[3].retired_unix, std::optional<int64_t>(1004));
  EXPECT_EQ(all[3].data, Bytes(9, 0x5a)) << "a retired version keeps its inline bytes";
  EXPECT_TRUE(index_->VersionPage(0, 10, false)->at(0).data.empty());
  auto quotas = index_->OwnQuotas();
  ASSERT_TRUE(quotas.ok());
  EXPECT_EQ(*quotas,
            (std::vector<std::pair<std::string, uint64_t>>{{"alice", 5000}, {"carol", 77}}));
  EXPECT_EQ(index_->CountVersions("alice")->versions, 3u);
  EXPECT_EQ(index_->CountVersions("alice")->imported, 0u);
  EXPECT_EQ(index_->CountVersions("nobody")->versions, 0u);
}

// Import keeps every field as given (times, damage, inline bytes or key), counts live and
// retained bytes, numbers the versions anew, and is idempotent by (user, origin).
TEST_P(ObjectIndexConformance, ImportKeepsEveryFieldAndRepeatsChangeNothing) {
  IndexedVersion live_inline{.version = 7,
                             .user = "alice",
                             .info = {Id(1), ObjectKind::kKey, 4, std::string(64, 'b'), 500},
                             .is_inline = true,
                             .data = Bytes(4, 1)};
  IndexedVersion retired{.version = 8,
                         .user = "alice",
                         .info = {Id(2), ObjectKind::kBlob, 3000, std::string(64, 'c'), 501},
                         .byte_key = "kr",
                         .retired_unix = 600};
  IndexedVersion damaged{.version = 9,
                         .user = "alice",
                         .info = {Id(2), ObjectKind::kBlob, 2000, std::string(64, 'd'), 601},
                         .damaged = "migrate: sha256 differs"};
  IndexedVersion bobs{.version = 7,
                      .user = "bob",
                      .info = {Id(1), ObjectKind::kBlob, 5000, std::string(64, 'e'), 502},
                      .byte_key = "kb"};
  const std::vector<IndexedVersion> batch = {live_inline, retired, damaged, bobs};
  auto imported = index_->Import(batch);
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  ASSERT_EQ(imported->size(), 4u);
  for (const ImportResult& r : *imported) EXPECT_TRUE(r.inserted);
  ASSERT_NO_FATAL_FAILURE(Reopen());
  auto key = index_->FindLive("alice", Id(1), true);
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->info.kind, ObjectKind::kKey);
  EXPECT_EQ(key->info.created_unix, 500);
  EXPECT_EQ(key->info.sha256, std::string(64, 'b'));
  EXPECT_EQ(key->data, Bytes(4, 1));
  auto live2 = index_->FindLive("alice", Id(2), false);
  ASSERT_TRUE(live2.ok());
  EXPECT_EQ(live2->damaged, "migrate: sha256 differs");
  EXPECT_FALSE(live2->is_inline);
  EXPECT_TRUE(live2->byte_key.empty());
  auto old = index_->FindImported("alice", 8);
  ASSERT_TRUE(old.ok() && old->has_value());
  EXPECT_EQ((*old)->retired_unix, std::optional<int64_t>(600));
  EXPECT_EQ((*old)->byte_key, "kr");
  EXPECT_EQ(index_->FindImported("bob", 7).value()->byte_key, "kb");
  EXPECT_FALSE(index_->FindImported("bob", 8).value().has_value());
  EXPECT_EQ(index_->Expired(600, 10)->size(), 1u) << "retention runs from the retire time kept";
  EXPECT_EQ(index_->Usage("alice")->live_bytes, 2004u);
  EXPECT_EQ(index_->Usage("alice")->retained_bytes, 3000u);
  EXPECT_EQ(index_->Usage("bob")->live_bytes, 5000u);
  EXPECT_EQ(index_->CountVersions("alice")->imported, 3u);

  // A repeat (a resumed migration) changes nothing and says so.
  auto again = index_->Import(batch);
  ASSERT_TRUE(again.ok());
  for (size_t i = 0; i < again->size(); ++i) {
    EXPECT_FALSE((*again)[i].inserted);
    EXPECT_EQ((*again)[i].version.version, (*imported)[i].version.version);
  }
  EXPECT_EQ(index_->Usage("alice")->live_bytes, 2004u);
  EXPECT_EQ(index_->CountVersions("alice")->versions, 3u);

  // A live id taken by an upload: the whole batch is refused.
  ASSERT_TRUE(Insert(*index_, {"carol", Id(1), 10, ""}).ok());
  IndexedVersion clash = live_inline;
  clash.user = "carol";
  IndexedVersion fine = retired;
  fine.user = "carol";
  const std::vector<IndexedVersion> refused = {fine, clash};
  EXPECT_EQ(index_->Import(refused).status().reason(), "object_exists");
  EXPECT_EQ(index_->CountVersions("carol")->versions, 1u);
  EXPECT_EQ(index_->CountVersions("carol")->imported, 0u);
  EXPECT_EQ(index_->Usage("carol")->retained_bytes, 0u);
}

}  // namespace cardvault
