// Statement: a prepared SQLite statement with typed bind, step and column access.
#ifndef CARDVAULT_STORAGE_SQLITE_STATEMENT_H_
#define CARDVAULT_STORAGE_SQLITE_STATEMENT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "core/bytes.h"
#include "core/status.h"
#include "core/status_or.h"

struct sqlite3;
struct sqlite3_stmt;

namespace cardvault {

class SqliteDb;

// Maps an SQLite result code to a Status: BUSY/LOCKED -> kUnavailable, FULL ->
// kResourceExhausted, CORRUPT/NOTADB -> kCorrupt, CONSTRAINT -> kAlreadyExists,
// IOERR/CANTOPEN -> kIoError, READONLY/PERM/AUTH -> kPermissionDenied, else kInternal.
// The reason is "sqlite_<name>", e.g. "sqlite_busy".
Status SqliteError(int rc, std::string_view what, sqlite3* db);

// A prepared statement. Created by SqliteDb::Prepare; MUST NOT outlive its SqliteDb.
// Move-only and not thread-safe: use it from one thread at a time (the database
// connection's own lock is not enough to share a statement). Bind indexes start at 1,
// column indexes at 0, as in SQLite.
class Statement {
 public:
  Statement() = default;
  // With an `owner`, the statement goes back to the owner's cache when destroyed (reset,
  // bindings cleared) instead of being finalized.
  Statement(sqlite3* db, sqlite3_stmt* stmt, SqliteDb* owner = nullptr)
      : db_(db), stmt_(stmt), owner_(owner) {}
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Status BindInt64(int index, int64_t value);
  // The text and blob are copied (SQLITE_TRANSIENT): the caller's buffer may go away.
  Status BindText(int index, std::string_view value);
  Status BindBlob(int index, ByteView value);
  Status BindNull(int index);

  // Advances: true when a row is available, false when the statement is done.
  StatusOr<bool> Step();
  // Steps until done, for statements that return no rows.
  Status Run();
  // Rewinds so the statement can run again and clears the bindings.
  Status Reset();

  // Valid only after Step() returned true.
  int64_t ColumnInt64(int column) const;
  std::string ColumnText(int column) const;
  Bytes ColumnBlob(int column) const;
  bool ColumnIsNull(int column) const;

 private:
  void Release();

  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
  SqliteDb* owner_ = nullptr;
};

}  // namespace cardvault

#endif  // CARDVAULT_STORAGE_SQLITE_STATEMENT_H_
