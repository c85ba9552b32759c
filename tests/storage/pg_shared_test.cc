// What several server instances on one PostgreSQL database share besides the index and the
// tokens: the auth back-off counts (PgAuthBackoff) and the job lock (PgJobLock). Each
// "instance" is its own object with its own connections, as in two processes.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "storage/pg_auth_backoff.h"
#include "storage/pg_job_lock.h"
#include "tests/storage/auth_backoff_conformance.h"
#include "tests/storage/pg_database_test.h"

namespace cardvault {
namespace {

class PgSharedTest : public PgDatabaseTest {
 protected:
  void SetUp() override {
    PgDatabaseTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
  }
  std::unique_ptr<PgAuthBackoff> Backoff() {
    auto b = PgAuthBackoff::Open(conninfo_, ConformancePolicy());
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    return b.ok() ? std::move(*b) : nullptr;
  }
  int64_t Count(const std::string& sql) {
    auto pool = PgPool::Create(conninfo_, 1);
    EXPECT_TRUE(pool.ok());
    auto conn = (*pool)->Acquire();
    auto rows = (*conn)->Run(sql);
    EXPECT_TRUE(rows.ok()) << rows.status().ToString();
    return rows.ok() ? rows->Int(0, 0) : -1;
  }
};

TEST_F(PgSharedTest, AuthBackoffKeepsTheContract) {
  auto b = Backoff();
  ASSERT_NE(b, nullptr);
  ExpectBackoffContract(*b);
}

// Failures seen by two instances add up: 3 failures, split over two, block the address on
// both; and failures arriving at both at once are all counted.
TEST_F(PgSharedTest, AuthBackoffCountsFailuresAcrossInstances) {
  auto a = Backoff(), b = Backoff();
  ASSERT_TRUE(a && b);
  Fail(*a, "10.0.0.1", 100);
  Fail(*b, "10.0.0.1", 101);
  EXPECT_EQ(BlockedFor(*a, "10.0.0.1", 101), 0);
  Fail(*a, "10.0.0.1", 102);
  EXPECT_EQ(BlockedFor(*b, "10.0.0.1", 102), 30) << "blocked on the instance that saw 1 of 3";
  EXPECT_EQ(BlockedFor(*a, "10.0.0.1", 102), 30);

  // 2 x 10 failures at once from one address, all within a window: 20 failures make 6 blocks
  // (each drops the 3 counted), leaving 2 counted; none lost to a race.
  std::thread ta([&] {
    for (int i = 0; i < 10; ++i) Fail(*a, "10.0.0.2", 200);
  });
  std::thread tb([&] {
    for (int i = 0; i < 10; ++i) Fail(*b, "10.0.0.2", 200);
  });
  ta.join();
  tb.join();
  EXPECT_EQ(Count("SELECT count(*) FROM cv_auth_failures WHERE address = '10.0.0.2'"), 2);
  EXPECT_EQ(BlockedFor(*a, "10.0.0.2", 200), 30);
}

// Rows of addresses that stopped failing go as new failures arrive: the tables do not grow
// with every address ever seen.
TEST_F(PgSharedTest, AuthBackoffDropsStaleRows) {
  auto b = Backoff();
  ASSERT_NE(b, nullptr);
  for (int i = 0; i < 150; ++i) Fail(*b, "192.0.2." + std::to_string(i), 1000);
  for (int i = 0; i < 3; ++i) Fail(*b, "198.51.100.1", 1000);  // blocked until 1030
  EXPECT_EQ(Count("SELECT count(*) FROM cv_auth_failures"), 150);
  EXPECT_EQ(Count("SELECT count(*) FROM cv_auth_blocks"), 1);
  // Past the window and the block: two more failures clean up to 2 x 100 stale rows.
  Fail(*b, "203.0.113.1", 2000);
  Fail(*b, "203.0.113.2", 2000);
  EXPECT_EQ(Count("SELECT count(*) FROM cv_auth_failures"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM cv_auth_blocks"), 0);
}

// A job runs on one instance at a time: while A runs it, B skips it without waiting (and
// may run another job); once A is done, B runs it.
TEST_F(PgSharedTest, JobLockRunsAJobOnOneInstanceAtATime) {
  auto a = PgJobLock::Open(conninfo_);
  auto b = PgJobLock::Open(conninfo_);
  ASSERT_TRUE(a.ok() && b.ok());
  std::mutex mu;
  std::condition_variable cv;
  bool a_running = false, b_tried = false;
  std::thread holder([&] {
    auto ran = (*a)->RunExclusive("retention-purge", [&] {
      std::unique_lock lock(mu);
      a_running = true;
      cv.notify_all();
      cv.wait_for(lock, std::chrono::seconds(20), [&] { return b_tried; });
      return Status::Ok();
    });
    EXPECT_TRUE(ran.ok() && *ran);
  });
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(20), [&] { return a_running; }));
  }
  int b_runs = 0;
  auto skipped = (*b)->RunExclusive("retention-purge", [&] {
    ++b_runs;
    return Status::Ok();
  });
  auto other = (*b)->RunExclusive("orphan-sweep", [&] { return Status::Ok(); });
  {
    std::lock_guard lock(mu);
    b_tried = true;
  }
  cv.notify_all();
  holder.join();
  ASSERT_TRUE(skipped.ok()) << skipped.status().ToString();
  EXPECT_FALSE(*skipped);
  EXPECT_EQ(b_runs, 0);
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(*other) << "another job is not held back";
  auto after = (*b)->RunExclusive("retention-purge", [&] {
    ++b_runs;
    return Status::Ok();
  });
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(*after);
  EXPECT_EQ(b_runs, 1);
  // A job's error comes back as is; the lock is released all the same.
  auto failed = (*a)->RunExclusive("retention-purge", [] { return IoError("disk on fire"); });
  EXPECT_EQ(failed.status().code(), StatusCode::kIoError);
  EXPECT_TRUE(*(*b)->RunExclusive("retention-purge", [] { return Status::Ok(); }));
}

// An instance that dies (its session ends) releases the job: here a session that took the
// job's lock as PgJobLock does, then went away without unlocking.
TEST_F(PgSharedTest, JobLockIsReleasedWhenItsInstanceGoes) {
  auto b = PgJobLock::Open(conninfo_);
  ASSERT_TRUE(b.ok());
  {
    auto pool = PgPool::Create(conninfo_, 1);
    ASSERT_TRUE(pool.ok());
    auto conn = (*pool)->Acquire();
    ASSERT_TRUE(conn.ok());
    auto locked = (*conn)->Run(
        "SELECT pg_try_advisory_lock(hashtextextended('cardvault-job:' || 'orphan-sweep', 0))");
    ASSERT_TRUE(locked.ok()) << locked.status().ToString();
    EXPECT_FALSE(*(*b)->RunExclusive("orphan-sweep", [] { return Status::Ok(); }));
  }
  // The server ends the closed connection's session (and its lock) a moment after libpq
  // closes it: asked again for at most 5 s.
  bool ran = false;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!ran && std::chrono::steady_clock::now() < until) {
    ran = *(*b)->RunExclusive("orphan-sweep", [] { return Status::Ok(); });
    if (!ran) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(ran);
}

}  // namespace
}  // namespace cardvault
