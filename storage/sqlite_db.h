// SqliteDb: one RAII SQLite connection with WAL, a busy timeout and ordered migrations.
#ifndef CARDVAULT_STORAGE_SQLITE_DB_H_
#define CARDVAULT_STORAGE_SQLITE_DB_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/status.h"
#include "core/status_or.h"
#include "storage/sqlite_statement.h"

struct sqlite3;

namespace cardvault {

// An open SQLite database. Opened in serialized (full-mutex) mode, so calls from several
// threads are safe one at a time; a multi-statement transaction still MUST be confined to
// one thread (callers serialize with their own lock). Statements and transactions created
// from it MUST be destroyed before it.
class SqliteDb {
 public:
  struct Options {
    bool create = true;            // create the file if missing (else kNotFound)
    bool wal = true;               // journal_mode=WAL
    bool synchronous_full = true;  // FULL: a committed transaction survives power loss
    int busy_timeout_ms = 5000;    // wait this long for another connection's lock
    // Read only (SQLITE_OPEN_READONLY): nothing is created, changed or set up (no journal mode
    // or synchronous pragma); `create` and `wal` are ignored.
    bool read_only = false;
  };

  // Opens (and by default creates) the database at `path`, enables foreign keys, sets the
  // journal mode, synchronous level and busy timeout. No step of it fails with
  // "sqlite_busy" before the busy timeout, the switch to WAL included.
  static StatusOr<std::unique_ptr<SqliteDb>> Open(const std::string& path, Options options);
  static StatusOr<std::unique_ptr<SqliteDb>> Open(const std::string& path) {
    return Open(path, Options());
  }
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  // Runs one or more SQL statements that return no rows.
  Status Exec(std::string_view sql);
  // Prepares one statement. Prepared statements are cached by their SQL text: preparing the
  // same SQL again reuses an idle one (SQLite re-prepares it itself if the schema changed).
  StatusOr<Statement> Prepare(std::string_view sql);

  // PRAGMA user_version: the schema version, 0 for a new database.
  StatusOr<int> UserVersion();
  // Brings the schema up to migrations.size(): migrations[i] moves version i to i+1 and
  // runs, with the version bump, in one transaction (all or nothing per step). A
  // database newer than the code (version > migrations.size()) is kUnsupported
  // ("schema_too_new") and left untouched. Migrations MUST never be edited or reordered
  // once released: only appended.
  Status Migrate(std::span<const std::string_view> migrations);

  // PRAGMA quick_check (every page and index entry well formed; no cross-check of indexes
  // against tables), stopped after `budget` so a huge database does not hold up its
  // opener: OK when it passes or runs out of time, kCorrupt ("sqlite_corrupt") with
  // SQLite's first findings when it fails.
  Status QuickCheck(std::chrono::milliseconds budget);

  int64_t LastInsertRowId() const;
  // Rows changed by the most recent INSERT/UPDATE/DELETE.
  int Changes() const;

  const std::string& path() const { return path_; }
  sqlite3* handle() const { return db_; }

 private:
  friend class Statement;
  SqliteDb(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  // PRAGMA journal_mode=WAL. Switching a database still in rollback mode (a new one)
  // upgrades this connection's read lock to an exclusive lock, and SQLite answers
  // SQLITE_BUSY at once, without the busy handler (which could deadlock), when another
  // connection reads the file meanwhile: so the switch is retried for up to the busy timeout.
  Status EnableWal(int busy_timeout_ms);
  // Takes back a statement from Prepare: reset, bindings cleared, kept for the next
  // Prepare of the same SQL (one idle statement per SQL text; extras are finalized).
  void ReturnStatement(sqlite3_stmt* stmt);

  sqlite3* db_;
  std::string path_;
  std::mutex cache_mu_;                                   // guards cache_
  std::unordered_map<std::string, sqlite3_stmt*> cache_;  // SQL text -> idle statement
};

}  // namespace cardvault

#endif  // CARDVAULT_STORAGE_SQLITE_DB_H_
