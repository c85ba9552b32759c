// What only the Linux backend does: a watch per directory, mode changes of directories, and
// the scan's links and special files (the shared cases are in watcher_test.cc).
#include "agent/watch/inotify_watcher.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "agent/watch/tree_scanner.h"
#include "tests/agent/watch_test_util.h"

namespace cardvault {
namespace {

namespace fs = std::filesystem;
using Kind = WatchEvent::Kind;

TEST_F(WatchDirTest, OneInotifyWatchPerDirectory) {
  auto w = InotifyWatcher::New(root_, IgnoreRules()).value();
  Write("n1/n2/n3/deep.txt", "x");
  PollUntil(*w, [](auto& e) {
    return Has(e, Kind::kAppeared, "n1/n2/n3/deep.txt") ||
           Has(e, Kind::kClosed, "n1/n2/n3/deep.txt");
  });
  EXPECT_EQ(w->watch_count(), 4u);
}

// A directory's mode is recorded, so its change is reported.
TEST_F(WatchDirTest, DirectoryModeChangesAreReported) {
  fs::create_directories(root_ + "/p/q");
  auto w = InotifyWatcher::New(root_, IgnoreRules()).value();
  ::chmod((root_ + "/p/q").c_str(), 0750);
  auto ev = PollUntil(*w, [](auto& e) { return Has(e, Kind::kAppeared, "p/q"); });
  EXPECT_TRUE(HasDirectory(ev, Kind::kAppeared, "p/q"));
}

TEST_F(WatchDirTest, ScanSkipsLinksAndSpecials) {
  Write("a.txt", "a");
  fs::create_directories(root_ + "/d");
  fs::create_symlink(root_ + "/a.txt", root_ + "/link");
  ASSERT_EQ(::mkfifo((root_ + "/d/fifo").c_str(), 0600), 0);
  auto r = ScanTree(root_, IgnoreRules());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->files.size(), 1u);
  EXPECT_EQ(r->skipped, (std::vector<std::string>{"d/fifo", "link"}));
  // A root that is a link to a directory is scanned (the vault may be one).
  fs::create_symlink(root_ + "/d", root_ + "/dlink");
  EXPECT_TRUE(ScanTree(root_ + "/dlink", IgnoreRules()).ok());
}

}  // namespace
}  // namespace cardvault
