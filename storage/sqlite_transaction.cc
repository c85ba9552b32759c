// Transaction implementation: BEGIN IMMEDIATE, COMMIT, rollback on destruction.
#include "storage/sqlite_transaction.h"

#include <sqlite3.h>

#include <utility>

namespace cardvault {

StatusOr<Transaction> Transaction::Begin(SqliteDb& db) {
  // Inside another transaction of this connection: a savepoint, which commits with it.
  const bool nested = sqlite3_get_autocommit(db.handle()) == 0;
  CV_RETURN_IF_ERROR(db.Exec(nested ? "SAVEPOINT cv_nested" : "BEGIN IMMEDIATE"));
  return Transaction(&db, nested);
}

Transaction::Transaction(Transaction&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), nested_(other.nested_) {}

Transaction::~Transaction() {
  if (db_ == nullptr) return;
  db_->Exec(nested_ ? "ROLLBACK TO cv_nested; RELEASE cv_nested" : "ROLLBACK").IgnoreError();
}

Status Transaction::Commit() {
  if (db_ == nullptr) return FailedPreconditionError("transaction already finished");
  Status status = db_->Exec(nested_ ? "RELEASE cv_nested" : "COMMIT");
  if (status.ok()) db_ = nullptr;
  return status;
}

}  // namespace cardvault
