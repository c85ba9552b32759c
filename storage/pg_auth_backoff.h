// PgAuthBackoff: AuthBackoff in PostgreSQL, so failures count across server instances.
#ifndef CARDVAULT_STORAGE_PG_AUTH_BACKOFF_H_
#define CARDVAULT_STORAGE_PG_AUTH_BACKOFF_H_

#include <memory>
#include <string>

#include "storage/auth_backoff.h"
#include "storage/pg_pool.h"

namespace cardvault {

// Tables cv_auth_failures (address, at: failures within the window) and cv_auth_blocks
// (address, blocked_until), migrated by MigratePg (component "auth"). RecordFailure runs
// in one transaction under a per-address advisory lock, so failures arriving at several
// instances at once are all counted. Size: an address keeps fewer than max_failures rows
// (they are dropped when it is blocked) and one block; every RecordFailure also removes up
// to 100 rows of any address whose failures are older than the window or whose block is
// over, so stale rows never outgrow the stream of new failures. Blocked is one indexed read.
class PgAuthBackoff final : public AuthBackoff {
 public:
  // `conninfo` is never logged.
  static StatusOr<std::unique_ptr<PgAuthBackoff>> Open(const std::string& conninfo,
                                                       AuthBackoffPolicy policy,
                                                       size_t pool_size = 2);

  StatusOr<int64_t> Blocked(std::string_view address, int64_t now_seconds) override;
  Status RecordFailure(std::string_view address, int64_t now_seconds) override;

 private:
  PgAuthBackoff(std::unique_ptr<PgPool> pool, AuthBackoffPolicy policy)
      : pool_(std::move(pool)), policy_(policy) {}
  // The statements of RecordFailure inside its transaction.
  Status Record(PgConn& conn, std::string_view address, int64_t now_seconds);

  std::unique_ptr<PgPool> pool_;
  AuthBackoffPolicy policy_;
};

}  // namespace cardvault

#endif  // CARDVAULT_STORAGE_PG_AUTH_BACKOFF_H_
