// Tests for LowerThreadPriority: the calling thread and the threads it starts run at the low
// priority; other threads and an already lower priority are left alone.
#include "agent/sync/process_priority.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

namespace cardvault {
namespace {

constexpr long kBestEffort = 2;
constexpr long kIdle = 3;

int ThreadNice() { return ::getpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid))); }
long ThreadIoPriority() { return ::syscall(SYS_ioprio_get, 1, ::syscall(SYS_gettid)); }
long IoClass(long io) { return io >> 13; }
long IoLevel(long io) { return io & 0x1fff; }

TEST(ProcessPriorityTest, LowersTheThreadAndWhatItStarts) {
  const int main_nice = ThreadNice();
  const long main_io = ThreadIoPriority();
  // Run at normal priority, the thread goes to exactly the low one; a test run that is
  // already nicer keeps its own.
  const int want_nice = std::max(main_nice, kLowPriorityNice);
  const bool io_lower_already =
      IoClass(main_io) == kIdle ||
      (IoClass(main_io) == kBestEffort && IoLevel(main_io) >= kLowPriorityIoLevel);
  int nice_after = 0, child_nice = 0;
  long io_after = 0, child_io = 0;
  std::thread t([&] {
    ASSERT_TRUE(LowerThreadPriority().ok());
    nice_after = ThreadNice();
    io_after = ThreadIoPriority();
    std::thread child([&] {
      child_nice = ThreadNice();
      child_io = ThreadIoPriority();
    });
    child.join();
  });
  t.join();
  EXPECT_EQ(nice_after, want_nice);
  if (io_lower_already) {
    EXPECT_EQ(io_after, main_io);
  } else {
    EXPECT_EQ(IoClass(io_after), kBestEffort);
    EXPECT_EQ(IoLevel(io_after), kLowPriorityIoLevel);
  }
  EXPECT_EQ(child_nice, want_nice);
  EXPECT_EQ(child_io, io_after);
  EXPECT_EQ(ThreadNice(), main_nice);  // other threads keep theirs
}

TEST(ProcessPriorityTest, NeverRaisesAPriority) {
  int nice_after = 0;
  long io_after = 0;
  std::thread t([&] {
    ASSERT_EQ(::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), 19), 0);
    ASSERT_EQ(::syscall(SYS_ioprio_set, 1, ::syscall(SYS_gettid), kIdle << 13), 0);
    ASSERT_TRUE(LowerThreadPriority().ok());
    nice_after = ThreadNice();
    io_after = ThreadIoPriority();
  });
  t.join();
  EXPECT_EQ(nice_after, 19);
  EXPECT_EQ(IoClass(io_after), kIdle);
}

}  // namespace
}  // namespace cardvault
