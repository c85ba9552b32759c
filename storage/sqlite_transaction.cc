// Transaction implementation: BEGIN IMMEDIATE, COMMIT, rollback on destruction.
#include "storage/sqlite_transaction.h"

#include <utility>

namespace cardvault {

StatusOr<Transaction> Transaction::Begin(SqliteDb& db) {
  CV_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  return Transaction(&db);
}

Transaction::Transaction(Transaction&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}

Transaction::~Transaction() {
  if (db_ != nullptr) db_->Exec("ROLLBACK").IgnoreError();
}

Status Transaction::Commit() {
  if (db_ == nullptr) return FailedPreconditionError("transaction already finished");
  Status status = db_->Exec("COMMIT");
  if (status.ok()) db_ = nullptr;
  return status;
}

}  // namespace cardvault
