// PgJobLock: JobLock over PostgreSQL session advisory locks, shared by every server
// instance on one database.
#ifndef CARDVAULT_STORAGE_PG_JOB_LOCK_H_
#define CARDVAULT_STORAGE_PG_JOB_LOCK_H_

#include <memory>
#include <string>

#include "storage/job_lock.h"
#include "storage/pg_pool.h"

namespace cardvault {

// A job runs while its connection holds pg_try_advisory_lock on the job's key (the name
// hashed under a "cardvault-job:" prefix, which no user name's per-user lock can equal).
// An instance that dies or loses its connection releases the lock with its session, so
// another instance's next attempt runs the job. A job whose connection breaks while it
// runs may overlap with one on another instance: jobs MUST stay correct if that happens
// (the purge and the sweep do: each deletes what it checked, idempotently), the lock only
// spares the database and the byte store the doubled work.
class PgJobLock final : public JobLock {
 public:
  // Two connections of its own (one per job running at once in this process), opened at
  // once. `conninfo` is never logged.
  static StatusOr<std::unique_ptr<PgJobLock>> Open(const std::string& conninfo);

  StatusOr<bool> RunExclusive(std::string_view name, const std::function<Status()>& job) override;

 private:
  explicit PgJobLock(std::unique_ptr<PgPool> pool) : pool_(std::move(pool)) {}
  std::unique_ptr<PgPool> pool_;
};

}  // namespace cardvault

#endif  // CARDVAULT_STORAGE_PG_JOB_LOCK_H_
