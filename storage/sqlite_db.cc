// SqliteDb implementation: open with pragmas, Exec/Prepare and schema migrations.
#include "storage/sqlite_db.h"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "storage/sqlite_transaction.h"

namespace cardvault {

StatusOr<std::unique_ptr<SqliteDb>> SqliteDb::Open(const std::string& path, Options options) {
  sqlite3* raw = nullptr;
  if (options.read_only) options.create = false;
  int flags =
      (options.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_FULLMUTEX;
  if (options.create) flags |= SQLITE_OPEN_CREATE;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    Status status = (rc == SQLITE_CANTOPEN && !options.create)
                        ? NotFoundError("cannot open database " + path, "sqlite_cantopen")
                        : SqliteError(rc, "open " + path, raw);
    sqlite3_close_v2(raw);
    return status;
  }
  std::unique_ptr<SqliteDb> db(new SqliteDb(raw, path));
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, options.busy_timeout_ms);
  if (options.read_only) return db;
  CV_RETURN_IF_ERROR(db->Exec("PRAGMA foreign_keys=ON"));
  if (options.wal) CV_RETURN_IF_ERROR(db->EnableWal(options.busy_timeout_ms));
  CV_RETURN_IF_ERROR(
      db->Exec(options.synchronous_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"));
  return db;
}

Status SqliteDb::EnableWal(int busy_timeout_ms) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(busy_timeout_ms);
  for (int delay_ms = 1;; delay_ms = std::min(delay_ms * 2, 20)) {
    StatusOr<std::string> mode = [&]() -> StatusOr<std::string> {
      CV_ASSIGN_OR_RETURN(Statement pragma, Prepare("PRAGMA journal_mode=WAL"));
      CV_ASSIGN_OR_RETURN(bool row, pragma.Step());
      return row ? pragma.ColumnText(0) : std::string();
    }();
    if (mode.ok()) {
      if (*mode != "wal") return IoError("cannot enable WAL on " + path_, "sqlite_no_wal");
      return Status::Ok();
    }
    if (mode.status().reason() != "sqlite_busy" || std::chrono::steady_clock::now() >= deadline) {
      return mode.status();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
  }
}

SqliteDb::~SqliteDb() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

Status SqliteDb::Exec(std::string_view sql) {
  std::string text(sql);
  char* error = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &error);
  if (rc != SQLITE_OK) {
    Status status = SqliteError(rc, "exec", db_);
    sqlite3_free(error);
    return status;
  }
  return Status::Ok();
}

StatusOr<Statement> SqliteDb::Prepare(std::string_view sql) {
  {
    std::lock_guard lock(cache_mu_);
    auto it = cache_.find(std::string(sql));
    if (it != cache_.end()) {
      sqlite3_stmt* cached = it->second;
      cache_.erase(it);
      return Statement(db_, cached, this);
    }
  }
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) return SqliteError(rc, "prepare", db_);
  if (stmt == nullptr) return InvalidArgumentError("empty SQL statement", "sqlite_empty");
  return Statement(db_, stmt, this);
}

void SqliteDb::ReturnStatement(sqlite3_stmt* stmt) {
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  std::lock_guard lock(cache_mu_);
  if (!cache_.emplace(sqlite3_sql(stmt), stmt).second) sqlite3_finalize(stmt);
}

StatusOr<int> SqliteDb::UserVersion() {
  CV_ASSIGN_OR_RETURN(Statement stmt, Prepare("PRAGMA user_version"));
  CV_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return InternalError("PRAGMA user_version returned no row");
  return static_cast<int>(stmt.ColumnInt64(0));
}

Status SqliteDb::Migrate(std::span<const std::string_view> migrations) {
  while (true) {
    CV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(*this));
    CV_ASSIGN_OR_RETURN(int version, UserVersion());
    if (version < 0 || static_cast<size_t>(version) > migrations.size()) {
      return UnsupportedError("database " + path_ + " has schema version " +
                                  std::to_string(version) + ", newer than this program knows (" +
                                  std::to_string(migrations.size()) + ")",
                              "schema_too_new");
    }
    if (static_cast<size_t>(version) == migrations.size()) return Status::Ok();
    CV_RETURN_IF_ERROR(Exec(migrations[static_cast<size_t>(version)])
                           .WithContext("migration to version " + std::to_string(version + 1)));
    CV_RETURN_IF_ERROR(Exec("PRAGMA user_version=" + std::to_string(version + 1)));
    CV_RETURN_IF_ERROR(txn.Commit());
  }
}

Status SqliteDb::QuickCheck(std::chrono::milliseconds budget) {
  using Clock = std::chrono::steady_clock;
  Clock::time_point deadline = Clock::now() + budget;
  sqlite3_progress_handler(
      db_, 1000,
      [](void* at) -> int { return Clock::now() >= *static_cast<Clock::time_point*>(at) ? 1 : 0; },
      &deadline);
  std::string findings;
  Status status = [&]() -> Status {
    CV_ASSIGN_OR_RETURN(Statement check, Prepare("PRAGMA quick_check(3)"));
    while (true) {
      CV_ASSIGN_OR_RETURN(bool row, check.Step());
      if (!row) return Status::Ok();
      const std::string line = check.ColumnText(0);
      if (line != "ok") findings += (findings.empty() ? "" : "; ") + line;
    }
  }();
  sqlite3_progress_handler(db_, 0, nullptr, nullptr);
  if (!status.ok() && sqlite3_errcode(db_) == SQLITE_INTERRUPT) return Status::Ok();  // no time
  CV_RETURN_IF_ERROR(status);
  if (!findings.empty()) return CorruptError("quick_check: " + findings, "sqlite_corrupt");
  return Status::Ok();
}

int64_t SqliteDb::LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }

int SqliteDb::Changes() const { return sqlite3_changes(db_); }

}  // namespace cardvault
