// Tests for WorkerThread: jobs run in order, at most `depth` are unfinished (a further
// Submit waits), Wait waits for all, and the destructor finishes the jobs already queued.
#include "core/worker_thread.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace cardvault {
namespace {

// Jobs that wait until the test lets them go, and note the order they ran in.
class Gate {
 public:
  std::function<void()> Job(int id) {
    return [this, id] {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(10), [&] { return open_; });
      ran_.push_back(id);
    };
  }
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  std::vector<int> ran() {
    std::lock_guard lock(mu_);
    return ran_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  std::vector<int> ran_;
};

TEST(WorkerThreadTest, AtMostDepthJobsAreUnfinishedAndTheyRunInOrder) {
  Gate gate;
  WorkerThread worker(3);
  for (int i = 0; i < 3; ++i) worker.Submit(gate.Job(i));  // none of these waits
  std::atomic<bool> fourth_queued = false;
  std::thread producer([&] {
    worker.Submit(gate.Job(3));  // waits: three jobs are unfinished
    fourth_queued = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(fourth_queued);
  gate.Open();
  producer.join();
  EXPECT_TRUE(fourth_queued);
  worker.Wait();
  EXPECT_EQ(gate.ran(), (std::vector<int>{0, 1, 2, 3}));
}

TEST(WorkerThreadTest, DepthOneWaitsForThePreviousJob) {
  Gate gate;
  WorkerThread worker;
  worker.Submit(gate.Job(0));
  std::atomic<bool> second_queued = false;
  std::thread producer([&] {
    worker.Submit(gate.Job(1));
    second_queued = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(second_queued);
  gate.Open();
  producer.join();
  worker.Wait();
  EXPECT_EQ(gate.ran(), (std::vector<int>{0, 1}));
}

TEST(WorkerThreadTest, TheDestructorFinishesTheQueuedJobs) {
  Gate gate;
  {
    WorkerThread worker(4);
    for (int i = 0; i < 4; ++i) worker.Submit(gate.Job(i));
    gate.Open();
  }
  EXPECT_EQ(gate.ran(), (std::vector<int>{0, 1, 2, 3}));
}

}  // namespace
}  // namespace cardvault
