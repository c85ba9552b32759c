// MigratePg: versioned, idempotent schema migrations of one component in PostgreSQL.
#ifndef CARDVAULT_STORAGE_PG_MIGRATIONS_H_
#define CARDVAULT_STORAGE_PG_MIGRATIONS_H_

#include <span>
#include <string_view>

#include "core/status.h"
#include "storage/pg_pool.h"

namespace cardvault {

// Brings `component`'s schema up to migrations.size(): migrations[i] moves version i to
// i+1. Runs in one transaction under an advisory lock, recording each version applied in
// cv_schema_migrations (component, version), so servers starting at once apply each
// migration exactly once and a second run changes nothing. A schema newer than the code
// is kUnsupported ("schema_too_new") and left untouched. Migrations MUST never be edited
// or reordered once released: only appended.
Status MigratePg(PgPool& pool, std::string_view component,
                 std::span<const std::string_view> migrations);

}  // namespace cardvault

#endif  // CARDVAULT_STORAGE_PG_MIGRATIONS_H_
