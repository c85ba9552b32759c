// PgJobLock implementation: pg_try_advisory_lock around the job, on a connection held for it.
#include "storage/pg_job_lock.h"

namespace cardvault {
namespace {

constexpr std::string_view kKey = "hashtextextended('cardvault-job:' || $1, 0)";

}  // namespace

StatusOr<std::unique_ptr<PgJobLock>> PgJobLock::Open(const std::string& conninfo) {
  CV_ASSIGN_OR_RETURN(auto pool, PgPool::Create(conninfo, 2));
  return std::unique_ptr<PgJobLock>(new PgJobLock(std::move(pool)));
}

StatusOr<bool> PgJobLock::RunExclusive(std::string_view name, const std::function<Status()>& job) {
  // The connection stays borrowed while the job runs: the lock lives in its session.
  CV_ASSIGN_OR_RETURN(auto conn, pool_->Acquire());
  static const std::string kLock = "SELECT pg_try_advisory_lock(" + std::string(kKey) + ")";
  static const std::string kUnlock = "SELECT pg_advisory_unlock(" + std::string(kKey) + ")";
  CV_ASSIGN_OR_RETURN(PgRows locked, conn->Run(kLock, {PgParam::Of(name)}));
  if (locked.Text(0, 0) != "t") return false;
  Status status = job();
  // A broken connection already dropped the lock; the next Acquire reconnects.
  conn->Run(kUnlock, {PgParam::Of(name)}).status().IgnoreError();
  CV_RETURN_IF_ERROR(status);
  return true;
}

}  // namespace cardvault
