// Tests for BackgroundAppender: pieces land in order, a large append runs while the
// producer goes on, and a failed append's error comes back with nothing appended after it.
#include "core/background_appender.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>

#include "core/memory_file.h"

namespace cardvault {
namespace {

// A memory file whose appends wait until the test opens a gate, and that fails the
// append numbered `fail_at` (0-based; -1: none).
class GatedFile final : public WritableFile {
 public:
  explicit GatedFile(int fail_at = -1) : fail_at_(fail_at) {}
  Status Append(ByteView data) override {
    std::unique_lock lock(mu_);
    ++started_;
    cv_.notify_all();
    if (!cv_.wait_for(lock, std::chrono::seconds(10), [&] { return open_; })) {
      return InternalError("the gate never opened");
    }
    if (appends_++ == fail_at_) return ResourceExhaustedError("disk full (test)", "disk_full");
    content_.append(AsStringView(data));
    return Status::Ok();
  }
  Status WriteAt(uint64_t, ByteView) override { return InternalError("not here"); }
  Status Sync() override { return Status::Ok(); }
  Status Close() override { return Status::Ok(); }

  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  // Waits (up to 10 s) until `n` appends have started.
  bool WaitStarted(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return started_ >= n; });
  }
  std::string content() {
    std::lock_guard lock(mu_);
    return content_;
  }

 private:
  const int fail_at_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  int started_ = 0, appends_ = 0;
  std::string content_;
};

std::string Piece(size_t n, char c) { return std::string(n, c); }

TEST(BackgroundAppenderTest, ALargeAppendRunsWhileTheProducerGoesOn) {
  GatedFile file;
  BackgroundAppender appender(&file);
  const std::string a = Piece(1 << 20, 'a');
  ASSERT_TRUE(appender.Submit(AsBytes(a)).ok());  // returns with the append blocked
  ASSERT_TRUE(file.WaitStarted(1));
  EXPECT_EQ(file.content(), "");
  file.Open();
  const std::string b = Piece(1 << 20, 'b'), small = "small";
  ASSERT_TRUE(appender.Submit(AsBytes(b)).ok());
  ASSERT_TRUE(appender.Submit(AsBytes(small)).ok());  // small: inline, after b
  ASSERT_TRUE(appender.Wait().ok());
  EXPECT_TRUE(file.content() == a + b + small);
}

TEST(BackgroundAppenderTest, AFailedAppendIsReportedAndNothingIsAppendedAfterIt) {
  GatedFile file(/*fail_at=*/1);
  file.Open();
  BackgroundAppender appender(&file);
  const std::string a = Piece(1 << 20, 'a'), b = Piece(1 << 20, 'b'), c = Piece(1 << 20, 'c');
  ASSERT_TRUE(appender.Submit(AsBytes(a)).ok());
  ASSERT_TRUE(appender.Submit(AsBytes(b)).ok());  // fails in the background
  Status s = appender.Submit(AsBytes(c));
  EXPECT_EQ(s.reason(), "disk_full");
  EXPECT_EQ(appender.Wait().reason(), "disk_full");
  EXPECT_EQ(appender.Submit(AsBytes("x")).reason(), "disk_full");
  EXPECT_TRUE(file.content() == a);
}

TEST(BackgroundAppenderTest, ADeeperQueueTakesSeveralPiecesWhileTheDiskIsStalled) {
  GatedFile file;
  BackgroundAppender appender(&file, /*depth=*/3);
  const std::string a = Piece(1 << 20, 'a'), b = Piece(1 << 20, 'b'), c = Piece(1 << 20, 'c');
  ASSERT_TRUE(appender.Submit(AsBytes(a)).ok());
  ASSERT_TRUE(appender.Submit(AsBytes(b)).ok());  // neither waits for the stalled append
  ASSERT_TRUE(appender.Submit(AsBytes(c)).ok());
  ASSERT_TRUE(file.WaitStarted(1));
  EXPECT_EQ(file.content(), "");
  file.Open();
  ASSERT_TRUE(appender.Wait().ok());
  EXPECT_TRUE(file.content() == a + b + c);
}

TEST(BackgroundAppenderTest, WithADeeperQueueNothingIsAppendedAfterAFailedAppend) {
  GatedFile file(/*fail_at=*/1);
  BackgroundAppender appender(&file, /*depth=*/3);
  const std::string a = Piece(1 << 20, 'a'), b = Piece(1 << 20, 'b'), c = Piece(1 << 20, 'c');
  ASSERT_TRUE(appender.Submit(AsBytes(a)).ok());
  ASSERT_TRUE(appender.Submit(AsBytes(b)).ok());  // fails once the gate opens
  ASSERT_TRUE(appender.Submit(AsBytes(c)).ok());  // queued behind it, before it failed
  file.Open();
  EXPECT_EQ(appender.Wait().reason(), "disk_full");
  EXPECT_EQ(appender.Submit(AsBytes(c)).reason(), "disk_full");
  EXPECT_EQ(appender.Submit(AsBytes("x")).reason(), "disk_full");
  EXPECT_TRUE(file.content() == a);
}

}  // namespace
}  // namespace cardvault
