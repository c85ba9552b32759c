// MigratePg implementation.
#include "storage/pg_migrations.h"

#include <string>

namespace cardvault {
namespace {

// Held while migrations run (any component): one migrating server at a time.
constexpr std::string_view kMigrationLock = "SELECT pg_advisory_xact_lock(7343164501)";

Status Apply(PgConn& conn, std::string_view component,
             std::span<const std::string_view> migrations) {
  CV_RETURN_IF_ERROR(conn.Exec(kMigrationLock));
  CV_RETURN_IF_ERROR(
      conn.Exec("CREATE TABLE IF NOT EXISTS cv_schema_migrations (component TEXT NOT NULL, "
                "version INTEGER NOT NULL, PRIMARY KEY (component, version))"));
  CV_ASSIGN_OR_RETURN(PgRows rows, conn.Run("SELECT COALESCE(MAX(version), 0) FROM "
                                            "cv_schema_migrations WHERE component = $1",
                                            {PgParam::Of(component)}));
  const int64_t current = rows.Int(0, 0);
  const int64_t target = static_cast<int64_t>(migrations.size());
  if (current > target) {
    return UnsupportedError("the " + std::string(component) + " schema in PostgreSQL (version " +
                                std::to_string(current) +
                                ") is newer than this server's; run the newer server",
                            "schema_too_new");
  }
  for (int64_t v = current; v < target; ++v) {
    CV_RETURN_IF_ERROR(conn.Exec(migrations[static_cast<size_t>(v)]));
    CV_RETURN_IF_ERROR(
        conn.Run("INSERT INTO cv_schema_migrations (component, version) VALUES ($1, $2)",
                 {PgParam::Of(component), PgParam::Of(v + 1)})
            .status());
  }
  return Status::Ok();
}

}  // namespace

Status MigratePg(PgPool& pool, std::string_view component,
                 std::span<const std::string_view> migrations) {
  CV_ASSIGN_OR_RETURN(auto conn, pool.Acquire());
  CV_RETURN_IF_ERROR(conn->Exec("BEGIN"));
  Status status = Apply(*conn, component, migrations);
  if (status.ok()) status = conn->Exec("COMMIT");
  if (!status.ok()) conn->Exec("ROLLBACK").IgnoreError();
  return status;
}

}  // namespace cardvault
