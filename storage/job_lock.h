// JobLock: runs a server's background jobs (retention purge, orphan sweep) on one instance
// at a time.
#ifndef CARDVAULT_STORAGE_JOB_LOCK_H_
#define CARDVAULT_STORAGE_JOB_LOCK_H_

#include <functional>
#include <memory>
#include <string_view>

#include "core/status.h"
#include "core/status_or.h"

namespace cardvault {

// Implementations MUST be thread-safe, and MUST NOT run two jobs of one name at once among
// every holder of the lock they share (one process for NewLocalJobLock; every instance on
// one PostgreSQL database for PgJobLock). A holder that dies releases its jobs.
class JobLock {
 public:
  virtual ~JobLock() = default;
  // Runs `job` unless a job of the same `name` runs elsewhere right now, without waiting:
  // returns true if it ran (and `job` returned OK), false if it was skipped. `job`'s error
  // is returned as is. `name` is [a-z-] only.
  virtual StatusOr<bool> RunExclusive(std::string_view name,
                                      const std::function<Status()>& job) = 0;
};

// The lock of a single server: jobs of one name never overlap inside this process.
std::unique_ptr<JobLock> NewLocalJobLock();

}  // namespace cardvault

#endif  // CARDVAULT_STORAGE_JOB_LOCK_H_
