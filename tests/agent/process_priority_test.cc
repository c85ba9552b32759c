// Tests for LowerThreadPriority: the calling thread and the threads it starts run at the low
// priority; other threads and an already lower priority are left alone.
#include "agent/process_priority.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

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
  ASSERT_LT(main_nice, kLowPriorityNice) << "run the test at normal priority";
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
  EXPECT_EQ(nice_after, kLowPriorityNice);
  EXPECT_EQ(IoClass(io_after), kBestEffort);
  EXPECT_EQ(IoLevel(io_after), kLowPriorityIoLevel);
  EXPECT_EQ(child_nice, kLowPriorityNice);
  EXPECT_EQ(child_io, io_after);
  EXPECT_EQ(ThreadNice(), main_nice);  // other threads keep theirs
}

TEST(ProcessPriorityTest, NeverRaisesAPriority) {
  int nice_after = 0;
  long io_after = 0;
  std::thread t([&] {
    ASSERT_EQ(::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), 15), 0);
    ASSERT_EQ(::syscall(SYS_ioprio_set, 1, ::syscall(SYS_gettid), kIdle << 13), 0);
    ASSERT_TRUE(LowerThreadPriority().ok());
    nice_after = ThreadNice();
    io_after = ThreadIoPriority();
  });
  t.join();
  EXPECT_EQ(nice_after, 15);
  EXPECT_EQ(IoClass(io_after), kIdle);
}

}  // namespace
}  // namespace cardvault
