// Tests for the watching pieces on a real directory: ignore rules, tree scan, the inotify
// watcher (nested new directories, renames, deletions, ignored names) and settling.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "agent/watch/ignore_rules.h"
#include "agent/watch/inotify_watcher.h"
#include "agent/watch/settle_tracker.h"
#include "agent/watch/tree_scanner.h"

namespace cardvault {
namespace {

namespace fs = std::filesystem;
using Kind = WatchEvent::Kind;

TEST(IgnoreRulesTest, DefaultsAndUserGlobs) {
  IgnoreRules rules({"build/*.o", "secret-cache"});
  for (const char* p :
       {"a.swp", "dir/a.txt~", "~$report.docx", ".#lock", "x.part", "y.tmp", "d/.DS_Store",
        "f.cv-tmp-0a1b", "build/x.o", "secret-cache/k", "deep/secret-cache/k"}) {
    EXPECT_TRUE(rules.IsIgnored(p)) << p;
  }
  for (const char* p : {"a.txt", "swp", "dir/tmp/file", "other/build/x.o", "build/x.c"}) {
    EXPECT_FALSE(rules.IsIgnored(p)) << p;
  }
  EXPECT_FALSE(IgnoreRules({}, false).IsIgnored("a.swp"));
}

// The temporary and backup files editors write next to the file they save, one pattern
// each: a file so named is never uploaded, a real file that merely looks alike is.
TEST(IgnoreRulesTest, EditorsTemporaryFilesAreIgnored) {
  const IgnoreRules rules;
  struct Case {
    const char* editor;
    const char* ignored;
    const char* kept;
  };
  for (const Case& c : {
           Case{"emacs auto-save #x#", "notes/#todo.org#", "notes/#todo.org"},
           Case{"vim second swap .swo", "dir/.config.yml.swo", "dir/config.swoosh"},
           Case{"vim third swap .swx", ".id_rsa.swx", "id_rsa.swxx"},
           Case{"vim write test 4913", "ssh/4913", "ssh/49130"},
           Case{"gedit .goutputstream-*", "keys/.goutputstream-AB12CD", "keys/goutputstream"},
           Case{"kate .kate-swp", ".secrets.txt.kate-swp", "secrets.kate-swp.txt"},
           Case{"patch/merge .orig", "config.yml.orig", "config.original"},
       }) {
    EXPECT_TRUE(rules.IsIgnored(c.ignored)) << c.editor << ": " << c.ignored;
    EXPECT_FALSE(rules.IsIgnored(c.kept)) << c.editor << ": " << c.kept;
  }
}

class WatchDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cv-watch-test-XXXXXX";
    root_ = ::mkdtemp(tmpl);
  }
  void TearDown() override { fs::remove_all(root_); }
  void Write(const std::string& rel, const std::string& content) {
    fs::create_directories(fs::path(root_ + "/" + rel).parent_path());
    std::ofstream(root_ + "/" + rel) << content;
  }
  std::string root_;
};

TEST_F(WatchDirTest, ScanListsRegularFilesAndSkipsLinksAndSpecials) {
  Write("a.txt", "a");
  Write("d/e/b.txt", "bb");
  Write("d/c.swp", "ignored");
  fs::create_symlink(root_ + "/a.txt", root_ + "/link");
  ASSERT_EQ(::mkfifo((root_ + "/d/fifo").c_str(), 0600), 0);
  auto r = ScanTree(root_, IgnoreRules());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->files.size(), 2u);
  EXPECT_EQ(r->files[0].relative_path, "a.txt");
  EXPECT_EQ(r->files[1].relative_path, "d/e/b.txt");
  EXPECT_EQ(r->files[1].info.size, 2u);
  EXPECT_EQ(r->skipped, (std::vector<std::string>{"d/fifo", "link"}));
  ASSERT_EQ(r->directories.size(), 2u) << "the root is not listed";
  EXPECT_EQ(r->directories[0].relative_path, "d");
  EXPECT_EQ(r->directories[1].relative_path, "d/e");
  EXPECT_TRUE(r->directories[1].info.is_directory);
  EXPECT_EQ(ScanTree(root_ + "/missing", IgnoreRules()).status().code(), StatusCode::kNotFound);
}

// Polls until `want` holds for the events gathered so far, or 3 s pass.
std::vector<WatchEvent> PollUntil(Watcher& w,
                                  const std::function<bool(const std::vector<WatchEvent>&)>& want) {
  std::vector<WatchEvent> all;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (!want(all) && std::chrono::steady_clock::now() < deadline) {
    auto ev = w.Poll(100);
    EXPECT_TRUE(ev.ok());
    if (ev.ok()) all.insert(all.end(), ev->begin(), ev->end());
  }
  return all;
}

bool Has(const std::vector<WatchEvent>& ev, Kind kind, const std::string& path) {
  return std::any_of(ev.begin(), ev.end(),
                     [&](const WatchEvent& e) { return e.kind == kind && e.path == path; });
}

TEST_F(WatchDirTest, ReportsWritesCloseAndRemoval) {
  auto w = InotifyWatcher::New(root_, IgnoreRules()).value();
  Write("f.txt", "hello");
  auto ev = PollUntil(*w, [](auto& e) { return Has(e, Kind::kClosed, "f.txt"); });
  EXPECT_TRUE(Has(ev, Kind::kModified, "f.txt"));
  EXPECT_TRUE(Has(ev, Kind::kClosed, "f.txt"));
  fs::remove(root_ + "/f.txt");
  ev = PollUntil(*w, [](auto& e) { return Has(e, Kind::kRemoved, "f.txt"); });
  EXPECT_TRUE(Has(ev, Kind::kRemoved, "f.txt"));
}

TEST_F(WatchDirTest, NewNestedDirectoriesAreWatchedWithTheirContent) {
  auto w = InotifyWatcher::New(root_, IgnoreRules()).value();
  // Created in one go: the inner files may exist before the watcher adds its watches.
  Write("n1/n2/n3/deep.txt", "x");
  auto ev = PollUntil(*w, [](auto& e) {
    return Has(e, Kind::kAppeared, "n1/n2/n3/deep.txt") ||
           Has(e, Kind::kClosed, "n1/n2/n3/deep.txt");
  });
  EXPECT_TRUE(Has(ev, Kind::kAppeared, "n1/n2/n3/deep.txt") ||
              Has(ev, Kind::kClosed, "n1/n2/n3/deep.txt"));
  // A file written later in the new directory is seen through its own watch.
  Write("n1/n2/n3/later.txt", "y");
  ev = PollUntil(*w, [](auto& e) { return Has(e, Kind::kClosed, "n1/n2/n3/later.txt"); });
  EXPECT_TRUE(Has(ev, Kind::kClosed, "n1/n2/n3/later.txt"));
  EXPECT_EQ(w->watch_count(), 4u);
}

// New directories are reported themselves (an empty one too), and so is a new mode.
TEST_F(WatchDirTest, DirectoriesAppearAndTheirModeChangesAreReported) {
  auto w = InotifyWatcher::New(root_, IgnoreRules()).value();
  fs::create_directories(root_ + "/p/q");
  auto ev = PollUntil(*w, [](auto& e) { return Has(e, Kind::kAppeared, "p/q"); });
  EXPECT_TRUE(Has(ev, Kind::kAppeared, "p"));
  EXPECT_TRUE(Has(ev, Kind::kAppeared, "p/q"));
  for (const WatchEvent& e : ev) EXPECT_EQ(e.is_directory, e.path == "p" || e.path == "p/q");
  ::chmod((root_ + "/p/q").c_str(), 0750);
  ev = PollUntil(*w, [](auto& e) { return Has(e, Kind::kAppeared, "p/q"); });
  EXPECT_TRUE(Has(ev, Kind::kAppeared, "p/q"));
}

TEST_F(WatchDirTest, RenamesAndDirectoryMoves) {
  Write("d/a.txt", "a");
  auto w = InotifyWatcher::New(root_, IgnoreRules()).value();
  fs::rename(root_ + "/d/a.txt", root_ + "/d/b.txt");
  auto ev = PollUntil(*w, [](auto& e) { return Has(e, Kind::kAppeared, "d/b.txt"); });
  EXPECT_TRUE(Has(ev, Kind::kRemoved, "d/a.txt"));
  EXPECT_TRUE(Has(ev, Kind::kAppeared, "d/b.txt"));
  fs::rename(root_ + "/d", root_ + "/e");
  ev = PollUntil(*w, [](auto& e) { return Has(e, Kind::kAppeared, "e/b.txt"); });
  EXPECT_TRUE(Has(ev, Kind::kRemoved, "d"));
  EXPECT_TRUE(Has(ev, Kind::kAppeared, "e/b.txt"));
  // The moved directory's watch now reports under its new name.
  Write("e/c.txt", "c");
  ev = PollUntil(*w, [](auto& e) { return Has(e, Kind::kClosed, "e/c.txt"); });
  EXPECT_TRUE(Has(ev, Kind::kClosed, "e/c.txt"));
}

TEST_F(WatchDirTest, IgnoredNamesAreNotReportedAndWakeReturns) {
  auto w = InotifyWatcher::New(root_, IgnoreRules()).value();
  Write("x.swp", "swap");
  Write("real.txt", "r");
  auto ev = PollUntil(*w, [](auto& e) { return Has(e, Kind::kClosed, "real.txt"); });
  for (const WatchEvent& e : ev) EXPECT_NE(e.path, "x.swp");
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    w->Wake();
  });
  auto start = std::chrono::steady_clock::now();
  auto none = w->Poll(10000);
  t.join();
  EXPECT_TRUE(none.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(WatchDirTest, MissingRootIsAnError) {
  EXPECT_EQ(InotifyWatcher::New(root_ + "/nope", IgnoreRules()).status().code(),
            StatusCode::kNotFound);
}

constexpr int64_t kDelay = 2'000'000'000;  // 2 s of simulated time

TEST_F(WatchDirTest, SettlesOnlyAfterCloseAndQuietDelay) {
  Env* env = Env::Default();
  Write("f", "data");
  // Give the file an old mtime so only the event timing decides.
  ASSERT_TRUE(env->SetFileTimesAndMode(root_ + "/f", 1'000'000'000, 0600).ok());
  SettleTracker t(env, root_, kDelay);
  const int64_t now = env->NowUnixNanos();
  t.OnEvent({Kind::kModified, "f", false}, now);
  EXPECT_TRUE(t.TakeSettled(now + 10 * kDelay).empty()) << "still open for writing";
  EXPECT_FALSE(t.NextDeadline().has_value());
  t.OnEvent({Kind::kClosed, "f", false}, now + kDelay);
  EXPECT_EQ(*t.NextDeadline(), now + 2 * kDelay);
  EXPECT_TRUE(t.TakeSettled(now + 2 * kDelay - 1).empty()) << "not quiet long enough";
  EXPECT_EQ(t.TakeSettled(now + 2 * kDelay), std::vector<std::string>{"f"});
  EXPECT_TRUE(t.TakeSettled(now + 3 * kDelay).empty()) << "reported once";
  EXPECT_EQ(t.pending(), 0u);
}

TEST_F(WatchDirTest, RecentMtimeDefersAndVanishedFilesDrop) {
  Env* env = Env::Default();
  Write("fresh", "x");
  Write("gone", "y");
  const int64_t now = env->NowUnixNanos();
  SettleTracker t(env, root_, kDelay);
  t.AddCandidate("fresh", now - kDelay);  // quiet by events, but the mtime is recent
  t.AddCandidate("gone", now - kDelay);
  fs::remove(root_ + "/gone");
  EXPECT_TRUE(t.TakeSettled(now).empty());
  EXPECT_EQ(t.pending(), 1u);
  EXPECT_EQ(t.TakeSettled(now + kDelay + 1), std::vector<std::string>{"fresh"});
}

// A directory settles once quiet by events, whatever its mtime (it moves with its entries).
TEST_F(WatchDirTest, ADirectorySettlesOnQuietAlone) {
  Env* env = Env::Default();
  Write("dir/inside", "x");  // the directory's mtime is recent
  const int64_t now = env->NowUnixNanos();
  SettleTracker t(env, root_, kDelay);
  t.AddCandidate("dir", now - kDelay);
  EXPECT_EQ(t.TakeSettled(now), std::vector<std::string>{"dir"});
}

TEST_F(WatchDirTest, RemovedDirectoryDropsItsCandidates) {
  SettleTracker t(Env::Default(), root_, kDelay);
  t.AddCandidate("d/a", 0);
  t.AddCandidate("d/b/c", 0);
  t.AddCandidate("dd", 0);
  t.OnEvent({Kind::kRemoved, "d", true}, 1);
  EXPECT_EQ(t.pending(), 1u);
}

}  // namespace
}  // namespace cardvault
