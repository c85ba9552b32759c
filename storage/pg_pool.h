// PgPool: a fixed pool of PostgreSQL connections (libpq) with statements prepared once per
// connection, and PgConn, one borrowed connection.
#ifndef CARDVAULT_STORAGE_PG_POOL_H_
#define CARDVAULT_STORAGE_PG_POOL_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/bytes.h"
#include "core/status.h"
#include "core/status_or.h"

struct pg_conn;
struct pg_result;

namespace cardvault {

// One statement's result rows, as text (NULL is nullopt; bytea columns decoded by Bytes()).
class PgRows {
 public:
  explicit PgRows(pg_result* result);
  ~PgRows();
  PgRows(PgRows&& other) noexcept;
  PgRows& operator=(PgRows&&) = delete;

  int size() const;
  bool IsNull(int row, int col) const;
  std::string Text(int row, int col) const;
  int64_t Int(int row, int col) const;
  Bytes Blob(int row, int col) const;  // a bytea column
  int affected() const;                // rows changed by an INSERT/UPDATE/DELETE
  pg_result* result_for_status() const { return result_; }

 private:
  pg_result* result_;
};

// A statement parameter: text, a 64-bit integer, bytes (bytea) or NULL.
struct PgParam {
  enum class Type { kNull, kText, kInt, kBytes } type = Type::kNull;
  std::string text;
  const Bytes* bytes = nullptr;
  static PgParam Null() { return {}; }
  static PgParam Of(std::string_view s) { return {Type::kText, std::string(s), nullptr}; }
  static PgParam Of(int64_t v) { return {Type::kInt, std::to_string(v), nullptr}; }
  static PgParam Of(const Bytes* b) { return b == nullptr ? Null() : PgParam{Type::kBytes, "", b}; }
};

// One statement of a pipeline (PgConn::RunPipeline).
struct PgStatement {
  std::string_view sql;
  std::vector<PgParam> params;
};

class PgPool;

// A connection borrowed from a PgPool, returned when destroyed. One thread at a time.
class PgConn {
 public:
  PgConn(PgPool* pool, size_t slot) : pool_(pool), slot_(slot) {}
  ~PgConn();
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;

  // Runs `sql` (prepared on this connection the first time it is seen) with `params`.
  // Errors carry the SQLSTATE as the reason ("pg_" + code, e.g. "pg_40001").
  StatusOr<PgRows> Run(std::string_view sql, const std::vector<PgParam>& params = {});
  // Runs `statements` in one round trip (libpq pipeline mode, each prepared on this
  // connection first), one after the other in the order given, and returns their rows in
  // that order. The connection MUST be idle (no pipeline open). The first statement that
  // fails is the error (with its SQLSTATE reason, as Run's); the ones after it are not run.
  // Outside a transaction the pipeline is one implicit transaction; inside one, a failure
  // aborts it (roll back to a savepoint, or roll back).
  StatusOr<std::vector<PgRows>> RunPipeline(std::span<const PgStatement> statements);
  // Runs one or more statements without parameters (BEGIN, SAVEPOINT, DDL) in one round
  // trip. Several statements stop at the first that fails, and that failure is the error.
  Status Exec(std::string_view sql);

 private:
  // The name `sql` is prepared under on this connection (prepared now the first time).
  StatusOr<std::string> Prepared(std::string_view sql);
  // Drains a pipeline after a failure to its sync point and leaves pipeline mode.
  void AbandonPipeline();

  PgPool* pool_;
  size_t slot_;
};

// Connections to one database, opened at Create. Thread-safe; Acquire waits for a free one.
class PgPool {
 public:
  static StatusOr<std::unique_ptr<PgPool>> Create(const std::string& conninfo, size_t size);
  // Parses `conninfo` as libpq does, without connecting: kInvalidArgument "bad_index" if it
  // cannot be parsed, "password_in_config" if it holds a password (which belongs in a
  // passfile). The string itself is never in the message.
  static Status CheckConnInfo(const std::string& conninfo);
  ~PgPool();
  // Borrows a connection, waiting at most 30 s for a free one (kUnavailable "index_busy");
  // a broken one is reconnected first.
  StatusOr<std::unique_ptr<PgConn>> Acquire();
  // Round trips to the server so far on every connection of the pool: each PQexec,
  // PQprepare, PQexecPrepared and each pipeline (RunPipeline) counts one.
  uint64_t round_trips() const { return round_trips_.load(std::memory_order_relaxed); }

 private:
  friend class PgConn;
  struct Slot {
    pg_conn* conn = nullptr;
    std::unordered_map<std::string, std::string> prepared;  // SQL -> statement name
  };
  explicit PgPool(std::string conninfo) : conninfo_(std::move(conninfo)) {}
  Status Connect(Slot& slot);
  void Release(size_t slot);

  std::string conninfo_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Slot> slots_;
  std::vector<size_t> free_;
  std::atomic<uint64_t> round_trips_{0};
};

}  // namespace cardvault

#endif  // CARDVAULT_STORAGE_PG_POOL_H_
