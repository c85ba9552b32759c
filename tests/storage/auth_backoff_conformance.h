// The AuthBackoff contract as one scenario, run against every implementation (the in-memory
// AuthLimiter, PgAuthBackoff). Header-only: gtest assertions over the interface.
#ifndef CARDVAULT_TESTS_STORAGE_AUTH_BACKOFF_CONFORMANCE_H_
#define CARDVAULT_TESTS_STORAGE_AUTH_BACKOFF_CONFORMANCE_H_

#include <gtest/gtest.h>

#include "storage/auth_backoff.h"

namespace cardvault {

// The policy ExpectBackoffContract assumes: 3 failures within 60 s block for 30 s.
inline AuthBackoffPolicy ConformancePolicy() { return AuthBackoffPolicy{3, 60, 30}; }

inline int64_t BlockedFor(AuthBackoff& b, std::string_view address, int64_t now) {
  StatusOr<int64_t> wait = b.Blocked(address, now);
  EXPECT_TRUE(wait.ok()) << wait.status().ToString();
  return wait.ok() ? *wait : -1;
}

inline void Fail(AuthBackoff& b, std::string_view address, int64_t now) {
  Status s = b.RecordFailure(address, now);
  EXPECT_TRUE(s.ok()) << s.ToString();
}

// `b` MUST be new and use ConformancePolicy().
inline void ExpectBackoffContract(AuthBackoff& b) {
  Fail(b, "a", 100);
  Fail(b, "a", 101);
  EXPECT_EQ(BlockedFor(b, "a", 101), 0);
  Fail(b, "a", 102);
  EXPECT_EQ(BlockedFor(b, "a", 102), 30);
  EXPECT_EQ(BlockedFor(b, "b", 102), 0);
  EXPECT_EQ(BlockedFor(b, "a", 131), 1);
  EXPECT_EQ(BlockedFor(b, "a", 132), 0);
  // Failures spread beyond the window do not add up.
  Fail(b, "c", 0);
  Fail(b, "c", 61);
  Fail(b, "c", 122);
  EXPECT_EQ(BlockedFor(b, "c", 122), 0);
  // The window slides: failures at the end of one minute and the start of the next add up
  // (a window fixed at the first failure would have started again at 60).
  Fail(b, "d", 0);
  Fail(b, "d", 59);
  Fail(b, "d", 60);
  EXPECT_EQ(BlockedFor(b, "d", 60), 0);
  Fail(b, "d", 61);
  EXPECT_EQ(BlockedFor(b, "d", 61), 30);
}

}  // namespace cardvault

#endif  // CARDVAULT_TESTS_STORAGE_AUTH_BACKOFF_CONFORMANCE_H_
