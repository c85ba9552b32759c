// Statement implementation and the SQLite-to-Status error mapping.
#include "storage/sqlite_statement.h"

#include <sqlite3.h>

#include <utility>

#include "storage/sqlite_db.h"

namespace cardvault {

Status SqliteError(int rc, std::string_view what, sqlite3* db) {
  int primary = rc & 0xff;
  std::string message = std::string(what) + ": " + sqlite3_errstr(rc);
  if (db != nullptr && sqlite3_errcode(db) == rc) {
    message += " (" + std::string(sqlite3_errmsg(db)) + ")";
  }
  switch (primary) {
    case SQLITE_BUSY:
      return UnavailableError(std::move(message), "sqlite_busy");
    case SQLITE_LOCKED:
      return UnavailableError(std::move(message), "sqlite_locked");
    case SQLITE_FULL:
      return ResourceExhaustedError(std::move(message), "sqlite_full");
    case SQLITE_CORRUPT:
      return CorruptError(std::move(message), "sqlite_corrupt");
    case SQLITE_NOTADB:
      return CorruptError(std::move(message), "sqlite_notadb");
    case SQLITE_CONSTRAINT:
      return AlreadyExistsError(std::move(message), "sqlite_constraint");
    case SQLITE_IOERR:
      return IoError(std::move(message), "sqlite_ioerr");
    case SQLITE_CANTOPEN:
      return IoError(std::move(message), "sqlite_cantopen");
    case SQLITE_READONLY:
      return PermissionDeniedError(std::move(message), "sqlite_readonly");
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return PermissionDeniedError(std::move(message), "sqlite_perm");
    default:
      return InternalError(std::move(message), "sqlite_error");
  }
}

Statement::~Statement() { Release(); }

void Statement::Release() {
  if (stmt_ == nullptr) return;
  if (owner_ != nullptr) {
    owner_->ReturnStatement(stmt_);
  } else {
    sqlite3_finalize(stmt_);
  }
  stmt_ = nullptr;
}

Statement::Statement(Statement&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)),
      stmt_(std::exchange(other.stmt_, nullptr)),
      owner_(std::exchange(other.owner_, nullptr)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    Release();
    db_ = std::exchange(other.db_, nullptr);
    stmt_ = std::exchange(other.stmt_, nullptr);
    owner_ = std::exchange(other.owner_, nullptr);
  }
  return *this;
}

Status Statement::BindInt64(int index, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK) return SqliteError(rc, "bind", db_);
  return Status::Ok();
}

Status Statement::BindText(int index, std::string_view value) {
  int rc =
      sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) return SqliteError(rc, "bind", db_);
  return Status::Ok();
}

Status Statement::BindBlob(int index, ByteView value) {
  // A zero-length blob with a null pointer would bind NULL; use a static byte instead.
  static const uint8_t kEmpty = 0;
  const void* data = value.empty() ? &kEmpty : value.data();
  int rc = sqlite3_bind_blob64(stmt_, index, data, value.size(), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) return SqliteError(rc, "bind", db_);
  return Status::Ok();
}

Status Statement::BindNull(int index) {
  int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK) return SqliteError(rc, "bind", db_);
  return Status::Ok();
}

StatusOr<bool> Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteError(rc, "step", db_);
}

Status Statement::Run() {
  while (true) {
    CV_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return Status::Ok();
  }
}

Status Statement::Reset() {
  int rc = sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  if (rc != SQLITE_OK) return SqliteError(rc, "reset", db_);
  return Status::Ok();
}

int64_t Statement::ColumnInt64(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string Statement::ColumnText(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  int size = sqlite3_column_bytes(stmt_, column);
  if (text == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(size));
}

Bytes Statement::ColumnBlob(int column) const {
  const void* blob = sqlite3_column_blob(stmt_, column);
  int size = sqlite3_column_bytes(stmt_, column);
  if (blob == nullptr) return {};
  const auto* p = static_cast<const uint8_t*>(blob);
  return Bytes(p, p + size);
}

bool Statement::ColumnIsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

}  // namespace cardvault
