// PgAuthBackoff implementation: a sliding window of failure rows per address.
#include "storage/pg_auth_backoff.h"

#include <algorithm>
#include <array>

#include "storage/pg_migrations.h"

namespace cardvault {
namespace {

constexpr std::array<std::string_view, 1> kMigrations = {
    R"sql(
CREATE TABLE cv_auth_failures (address TEXT NOT NULL, at BIGINT NOT NULL);
CREATE INDEX cv_auth_failures_address ON cv_auth_failures (address, at);
CREATE INDEX cv_auth_failures_at ON cv_auth_failures (at);
CREATE TABLE cv_auth_blocks (address TEXT PRIMARY KEY, blocked_until BIGINT NOT NULL);
CREATE INDEX cv_auth_blocks_until ON cv_auth_blocks (blocked_until);
)sql",
};

// Stale rows removed per recorded failure (see the class comment).
constexpr int64_t kCleanPerFailure = 100;

}  // namespace

StatusOr<std::unique_ptr<PgAuthBackoff>> PgAuthBackoff::Open(const std::string& conninfo,
                                                             AuthBackoffPolicy policy,
                                                             size_t pool_size) {
  CV_ASSIGN_OR_RETURN(auto pool, PgPool::Create(conninfo, pool_size));
  CV_RETURN_IF_ERROR(MigratePg(*pool, "auth", kMigrations));
  return std::unique_ptr<PgAuthBackoff>(new PgAuthBackoff(std::move(pool), policy));
}

StatusOr<int64_t> PgAuthBackoff::Blocked(std::string_view address, int64_t now_seconds) {
  CV_ASSIGN_OR_RETURN(auto conn, pool_->Acquire());
  CV_ASSIGN_OR_RETURN(PgRows rows, conn->Run("SELECT blocked_until FROM cv_auth_blocks WHERE "
                                             "address = $1 AND blocked_until > $2",
                                             {PgParam::Of(address), PgParam::Of(now_seconds)}));
  return rows.size() == 0 ? int64_t{0} : rows.Int(0, 0) - now_seconds;
}

Status PgAuthBackoff::RecordFailure(std::string_view address, int64_t now_seconds) {
  CV_ASSIGN_OR_RETURN(auto conn, pool_->Acquire());
  CV_RETURN_IF_ERROR(conn->Exec("BEGIN"));
  Status status = Record(*conn, address, now_seconds);
  if (status.ok()) status = conn->Exec("COMMIT");
  if (!status.ok()) conn->Exec("ROLLBACK").IgnoreError();
  return status;
}

Status PgAuthBackoff::Record(PgConn& conn, std::string_view address, int64_t now_seconds) {
  const PgParam addr = PgParam::Of(address);
  const PgParam expired = PgParam::Of(now_seconds - policy_.window_seconds);
  // One address's failures, on any instance, are counted one after the other.
  CV_RETURN_IF_ERROR(
      conn.Run("SELECT pg_advisory_xact_lock(hashtextextended('cardvault-auth:' || $1, 0))", {addr})
          .status());
  CV_RETURN_IF_ERROR(
      conn.Run("DELETE FROM cv_auth_failures WHERE address = $1 AND at <= $2", {addr, expired})
          .status());
  CV_RETURN_IF_ERROR(conn.Run("INSERT INTO cv_auth_failures (address, at) VALUES ($1, $2)",
                              {addr, PgParam::Of(now_seconds)})
                         .status());
  CV_ASSIGN_OR_RETURN(PgRows count, conn.Run("SELECT count(*) FROM cv_auth_failures WHERE "
                                             "address = $1",
                                             {addr}));
  if (count.Int(0, 0) >= std::max(policy_.max_failures, 1)) {
    CV_RETURN_IF_ERROR(
        conn.Run("INSERT INTO cv_auth_blocks (address, blocked_until) VALUES ($1, $2) "
                 "ON CONFLICT (address) DO UPDATE SET blocked_until = EXCLUDED.blocked_until",
                 {addr, PgParam::Of(now_seconds + policy_.backoff_seconds)})
            .status());
    CV_RETURN_IF_ERROR(
        conn.Run("DELETE FROM cv_auth_failures WHERE address = $1", {addr}).status());
  }
  // What other addresses left behind (bounded size, see the class comment). Rows another
  // transaction holds are skipped, never waited for: no deadlock between two cleanups.
  const PgParam limit = PgParam::Of(kCleanPerFailure);
  CV_RETURN_IF_ERROR(conn.Run("DELETE FROM cv_auth_failures WHERE ctid IN (SELECT ctid FROM "
                              "cv_auth_failures WHERE at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
                              {expired, limit})
                         .status());
  return conn
      .Run(
          "DELETE FROM cv_auth_blocks WHERE ctid IN (SELECT ctid FROM cv_auth_blocks WHERE "
          "blocked_until <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
          {PgParam::Of(now_seconds), limit})
      .status();
}

}  // namespace cardvault
