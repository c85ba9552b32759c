// Transaction: RAII BEGIN IMMEDIATE / COMMIT that rolls back unless committed.
#ifndef CARDVAULT_STORAGE_SQLITE_TRANSACTION_H_
#define CARDVAULT_STORAGE_SQLITE_TRANSACTION_H_

#include "core/status.h"
#include "core/status_or.h"
#include "storage/sqlite_db.h"

namespace cardvault {

// A write transaction (BEGIN IMMEDIATE, so lock conflicts show up at Begin, not at
// COMMIT). If Commit() was not called or failed, the destructor rolls back. MUST NOT
// outlive its SqliteDb. Begun inside another transaction of the same connection, it is a
// savepoint: its rollback undoes only its own changes, its commit becomes durable with the
// outer transaction's (the caller MUST hold the connection for the whole outer one).
class Transaction {
 public:
  static StatusOr<Transaction> Begin(SqliteDb& db);
  ~Transaction();
  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  Status Commit();

 private:
  Transaction(SqliteDb* db, bool nested) : db_(db), nested_(nested) {}
  SqliteDb* db_;  // null once committed or moved from
  bool nested_;
};

}  // namespace cardvault

#endif  // CARDVAULT_STORAGE_SQLITE_TRANSACTION_H_
