// What only the Windows backend does (the shared cases are in watcher_test.cc): an overflow of
// ReadDirectoryChangesW's buffer answered by kRescan, after which watching goes on, and the
// check that finds files closed.
#include "agent/watch/windows_watcher.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/agent/watch_test_util.h"

namespace cardvault {
namespace {

using Kind = WatchEvent::Kind;

TEST_F(WatchDirTest, OverflowIsAnsweredByARescanAndWatchingGoesOn) {
  WindowsWatcherOptions small;
  small.buffer_bytes = 4096;  // about 40 events with these names
  auto w = WindowsWatcher::New(root_, IgnoreRules(), small).value();
  // Hundreds of changes while nobody reads: more than the buffer holds.
  for (int i = 0; i < 300; ++i) {
    std::ofstream(root_ + "/a-rather-long-file-name-to-fill-the-buffer-" + std::to_string(i)) << i;
  }
  auto ev = PollUntil(*w, [](auto& e) {
    return std::any_of(e.begin(), e.end(),
                       [](const WatchEvent& x) { return x.kind == Kind::kRescan; });
  });
  ASSERT_TRUE(std::any_of(ev.begin(), ev.end(), [](auto& e) { return e.kind == Kind::kRescan; }));
  Write("after.txt", "x");
  ev = PollUntil(*w, [](auto& e) { return Has(e, Kind::kClosed, "after.txt"); });
  EXPECT_TRUE(Has(ev, Kind::kClosed, "after.txt"));
}

// The directories the watcher knows are learnt again after an overflow: a directory made
// while events were lost is still removed as a directory.
TEST_F(WatchDirTest, DirectoriesAreKnownAgainAfterAnOverflow) {
  WindowsWatcherOptions small;
  small.buffer_bytes = 4096;
  auto w = WindowsWatcher::New(root_, IgnoreRules(), small).value();
  Write("lost/inside.txt", "x");
  for (int i = 0; i < 300; ++i) Write("flood/a-rather-long-file-name-" + std::to_string(i), "y");
  PollUntil(*w, [](auto& e) {
    return std::any_of(e.begin(), e.end(), [](auto& x) { return x.kind == Kind::kRescan; });
  });
  PollFor(*w, std::chrono::milliseconds(300));
  std::filesystem::rename(root_ + "/lost", root_ + "/../" + "cv-watch-moved-out");
  auto ev = PollUntil(*w, [](auto& e) { return Has(e, Kind::kRemoved, "lost"); });
  std::filesystem::remove_all(root_ + "/../cv-watch-moved-out");
  EXPECT_TRUE(HasDirectory(ev, Kind::kRemoved, "lost"));
}

TEST_F(WatchDirTest, ClosedFilesLeaveTheOpenSet) {
  auto w = WindowsWatcher::New(root_, IgnoreRules()).value();
  Write("a.txt", "a");
  auto ev = PollUntil(*w, [](auto& e) { return Has(e, Kind::kClosed, "a.txt"); });
  EXPECT_TRUE(Has(ev, Kind::kClosed, "a.txt"));
  EXPECT_EQ(w->open_for_writing(), 0u);
}

TEST_F(WatchDirTest, ABufferOutsideTheLimitsIsRefused) {
  WindowsWatcherOptions big;
  big.buffer_bytes = 128 * 1024;
  EXPECT_EQ(WindowsWatcher::New(root_, IgnoreRules(), big).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cardvault
