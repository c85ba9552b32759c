// Tests for FailureNotices, the failure notices' rate limit both trays use: the first failure
// at once, a burst within the gap as one later notice with the count, other events nothing.
#include "agent/tray/common/failure_notices.h"

#include <gtest/gtest.h>

namespace cardvault {
namespace {

AgentEvent Failed(const std::string& path, const std::string& detail = "") {
  return AgentEvent{"file_failed", path, detail};
}

TEST(FailureNoticesTest, TheFirstFailureIsNoticedAtOnceWithItsPathAndDetail) {
  FailureNotices n(10000);
  EXPECT_FALSE(n.NextDueIn(0).has_value());
  n.Add({Failed("a.txt", "server refused: quota")});
  EXPECT_EQ(n.NextDueIn(5), 0);
  std::optional<FailureNotice> notice = n.Take(5);
  ASSERT_TRUE(notice.has_value());
  EXPECT_EQ(notice->title, "cardvault: a file could not be protected");
  EXPECT_EQ(notice->message, "a.txt: server refused: quota");
  EXPECT_FALSE(n.Take(6).has_value());
  EXPECT_FALSE(n.NextDueIn(6).has_value());
}

TEST(FailureNoticesTest, OtherEventsNeverNotify) {
  FailureNotices n(10000);
  n.Add({{"file_uploaded", "a.txt", ""},
         {"file_retry", "b.txt", "timeout"},
         {"file_queued", "c", ""}});
  EXPECT_EQ(n.unreported(), 0);
  EXPECT_FALSE(n.Take(0).has_value());
}

TEST(FailureNoticesTest, FailuresWithinTheGapAreOneNoticeAfterItWithTheCount) {
  FailureNotices n(1000);
  n.Add({Failed("first.txt")});
  ASSERT_TRUE(n.Take(100).has_value());
  n.Add({Failed("b.txt", "x")});
  n.Add({Failed("c.txt"), Failed("d.txt")});
  EXPECT_FALSE(n.Take(400).has_value());  // 300 ms after the last notice: held back
  EXPECT_EQ(n.NextDueIn(400), 700);
  EXPECT_FALSE(n.Take(1099).has_value());
  std::optional<FailureNotice> notice = n.Take(1100);
  ASSERT_TRUE(notice.has_value());
  EXPECT_EQ(notice->message, "3 files failed, first b.txt: x");
  // The gap starts again at the second notice.
  n.Add({Failed("e.txt")});
  EXPECT_EQ(n.NextDueIn(1500), 600);
  EXPECT_EQ(n.Take(2100)->message, "e.txt");
}

TEST(FailureNoticesTest, AFailureLongAfterTheLastNoticeIsNoticedAtOnce) {
  FailureNotices n(1000);
  n.Add({Failed("a")});
  ASSERT_TRUE(n.Take(0).has_value());
  n.Add({Failed("b")});
  EXPECT_EQ(n.NextDueIn(5000), 0);
  EXPECT_EQ(n.Take(5000)->message, "b");
}

}  // namespace
}  // namespace cardvault
