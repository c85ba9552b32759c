// PgPool implementation over libpq: text results, bytea parameters in binary.
#include "storage/pg_pool.h"

#include <libpq-fe.h>

#include <charconv>
#include <chrono>

namespace cardvault {
namespace {

constexpr std::chrono::seconds kAcquireTimeout{30};

Status PgError(pg_conn* conn, const pg_result* result, std::string_view what) {
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  std::string message = result != nullptr ? PQresultErrorMessage(result) : PQerrorMessage(conn);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  std::string reason = state != nullptr ? "pg_" + std::string(state) : "pg_error";
  if (reason == "pg_40001" || reason == "pg_40P01") {
    return UnavailableError(std::string(what) + ": " + message, reason);
  }
  if (reason == "pg_23505") return AlreadyExistsError(std::string(what) + ": " + message, reason);
  if (PQstatus(conn) != CONNECTION_OK) {
    return UnavailableError(std::string(what) + ": the connection to PostgreSQL broke (" + message +
                                "); check that the server runs",
                            "index_unavailable");
  }
  return IoError(std::string(what) + ": " + message, reason);
}

// Statement parameters as libpq takes them: text, or bytea in binary; NULL as a null pointer.
struct ParamArrays {
  explicit ParamArrays(const std::vector<PgParam>& params)
      : values(params.size()), lengths(params.size()), formats(params.size()) {
    for (size_t i = 0; i < params.size(); ++i) {
      const PgParam& p = params[i];
      if (p.type == PgParam::Type::kNull) continue;
      if (p.type == PgParam::Type::kBytes) {
        values[i] = reinterpret_cast<const char*>(p.bytes->data());
        lengths[i] = static_cast<int>(p.bytes->size());
        formats[i] = 1;  // binary
      } else {
        values[i] = p.text.c_str();
      }
    }
  }
  int count() const { return static_cast<int>(values.size()); }
  std::vector<const char*> values;
  std::vector<int> lengths, formats;
};

bool Succeeded(const PgRows& rows) {
  const ExecStatusType status = PQresultStatus(rows.result_for_status());
  return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

}  // namespace

PgRows::PgRows(pg_result* result) : result_(result) {}
PgRows::~PgRows() {
  if (result_ != nullptr) PQclear(result_);
}
PgRows::PgRows(PgRows&& other) noexcept : result_(other.result_) { other.result_ = nullptr; }
int PgRows::size() const { return PQntuples(result_); }
bool PgRows::IsNull(int row, int col) const { return PQgetisnull(result_, row, col) != 0; }
std::string PgRows::Text(int row, int col) const {
  return std::string(PQgetvalue(result_, row, col), PQgetlength(result_, row, col));
}
int64_t PgRows::Int(int row, int col) const {
  const char* v = PQgetvalue(result_, row, col);
  int64_t out = 0;
  std::from_chars(v, v + PQgetlength(result_, row, col), out);
  return out;
}
Bytes PgRows::Blob(int row, int col) const {
  size_t n = 0;
  unsigned char* raw =
      PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(result_, row, col)), &n);
  if (raw == nullptr) return Bytes();
  Bytes out(raw, raw + n);
  PQfreemem(raw);
  return out;
}
int PgRows::affected() const {
  const char* n = PQcmdTuples(result_);
  return n == nullptr || *n == '\0' ? 0 : std::atoi(n);
}

PgConn::~PgConn() { pool_->Release(slot_); }

StatusOr<std::string> PgConn::Prepared(std::string_view sql) {
  PgPool::Slot& slot = pool_->slots_[slot_];
  auto [it, fresh] = slot.prepared.try_emplace(std::string(sql), "");
  if (!fresh) return it->second;
  it->second = "s" + std::to_string(slot.prepared.size());
  pool_->round_trips_.fetch_add(1, std::memory_order_relaxed);
  PgRows prepared(PQprepare(slot.conn, it->second.c_str(), it->first.c_str(), 0, nullptr));
  if (PQresultStatus(prepared.result_for_status()) != PGRES_COMMAND_OK) {
    Status error = PgError(slot.conn, prepared.result_for_status(), "prepare");
    slot.prepared.erase(it);
    return error;
  }
  return it->second;
}

StatusOr<PgRows> PgConn::Run(std::string_view sql, const std::vector<PgParam>& params) {
  pg_conn* conn = pool_->slots_[slot_].conn;
  CV_ASSIGN_OR_RETURN(std::string name, Prepared(sql));
  const ParamArrays a(params);
  pool_->round_trips_.fetch_add(1, std::memory_order_relaxed);
  PgRows rows(PQexecPrepared(conn, name.c_str(), a.count(), a.values.data(), a.lengths.data(),
                             a.formats.data(), 0));
  if (!Succeeded(rows)) return PgError(conn, rows.result_for_status(), "query");
  return rows;
}

StatusOr<std::vector<PgRows>> PgConn::RunPipeline(std::span<const PgStatement> statements) {
  pg_conn* conn = pool_->slots_[slot_].conn;
  std::vector<std::string> names;
  for (const PgStatement& s : statements) {
    CV_ASSIGN_OR_RETURN(std::string name, Prepared(s.sql));
    names.push_back(std::move(name));
  }
  if (PQenterPipelineMode(conn) != 1) return PgError(conn, nullptr, "pipeline");
  for (size_t i = 0; i < statements.size(); ++i) {
    const ParamArrays a(statements[i].params);
    if (PQsendQueryPrepared(conn, names[i].c_str(), a.count(), a.values.data(), a.lengths.data(),
                            a.formats.data(), 0) != 1) {
      Status error = PgError(conn, nullptr, "pipeline");
      AbandonPipeline();
      return error;
    }
  }
  pool_->round_trips_.fetch_add(1, std::memory_order_relaxed);
  if (PQpipelineSync(conn) != 1) {
    Status error = PgError(conn, nullptr, "pipeline");
    AbandonPipeline();
    return error;
  }
  // Each statement's result, then a null one; after a failure the later statements answer
  // PGRES_PIPELINE_ABORTED (not run); then the sync point (PGRES_PIPELINE_SYNC).
  std::vector<PgRows> out;
  for (size_t i = 0; i < statements.size(); ++i) {
    PgRows rows(PQgetResult(conn));
    if (rows.result_for_status() == nullptr || !Succeeded(rows)) {
      Status error = PgError(conn, rows.result_for_status(), "query");
      AbandonPipeline();
      return error;
    }
    PgRows end(PQgetResult(conn));  // the null that ends this statement's results
    out.push_back(std::move(rows));
  }
  PgRows sync(PQgetResult(conn));
  const bool synced = PQresultStatus(sync.result_for_status()) == PGRES_PIPELINE_SYNC;
  if (!synced || PQexitPipelineMode(conn) != 1) {
    AbandonPipeline();
    return PgError(conn, nullptr, "pipeline");
  }
  return out;
}

void PgConn::AbandonPipeline() {
  pg_conn* conn = pool_->slots_[slot_].conn;
  // Bounded: each statement's results and its null, then the sync point; a broken
  // connection answers null at once, and Acquire reconnects one still in pipeline mode.
  for (int i = 0; i < 256 && PQpipelineStatus(conn) != PQ_PIPELINE_OFF; ++i) {
    PgRows rows(PQgetResult(conn));
    if (rows.result_for_status() != nullptr) continue;
    if (PQexitPipelineMode(conn) == 1 || PQstatus(conn) != CONNECTION_OK) return;
  }
}

Status PgConn::Exec(std::string_view sql) {
  pg_conn* conn = pool_->slots_[slot_].conn;
  pool_->round_trips_.fetch_add(1, std::memory_order_relaxed);
  // With several statements PQexec stops at the first that fails and returns its error;
  // otherwise the last statement's result.
  PgRows rows(PQexec(conn, std::string(sql).c_str()));
  if (!Succeeded(rows)) return PgError(conn, rows.result_for_status(), "statement");
  return Status::Ok();
}

StatusOr<std::unique_ptr<PgPool>> PgPool::Create(const std::string& conninfo, size_t size) {
  std::unique_ptr<PgPool> pool(new PgPool(conninfo));
  pool->slots_.resize(std::max<size_t>(size, 1));
  for (size_t i = 0; i < pool->slots_.size(); ++i) {
    CV_RETURN_IF_ERROR(pool->Connect(pool->slots_[i]));
    pool->free_.push_back(i);
  }
  return pool;
}

Status PgPool::CheckConnInfo(const std::string& conninfo) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  if (options == nullptr) {
    std::string message = error != nullptr ? error : "out of memory";
    if (error != nullptr) PQfreemem(error);
    while (!message.empty() && message.back() == '\n') message.pop_back();
    return InvalidArgumentError("the PostgreSQL connection string cannot be parsed: " + message,
                                "bad_index");
  }
  bool password = false;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (std::string_view(o->keyword) == "password" && o->val != nullptr && *o->val != '\0') {
      password = true;
    }
  }
  PQconninfoFree(options);
  if (password) {
    return InvalidArgumentError(
        "the PostgreSQL connection string holds a password: remove it and put it in a passfile "
        "(~/.pgpass of the server's user, or passfile=PATH; mode 0600)",
        "password_in_config");
  }
  return Status::Ok();
}

PgPool::~PgPool() {
  for (Slot& slot : slots_) {
    if (slot.conn != nullptr) PQfinish(slot.conn);
  }
}

Status PgPool::Connect(Slot& slot) {
  if (slot.conn != nullptr) PQfinish(slot.conn);
  slot.prepared.clear();
  slot.conn = PQconnectdb(conninfo_.c_str());
  if (PQstatus(slot.conn) == CONNECTION_OK) {
    // NOTICEs ("relation already exists, skipping") are not errors: not printed.
    PQsetNoticeProcessor(
        slot.conn, [](void*, const char*) {}, nullptr);
  }
  if (PQstatus(slot.conn) != CONNECTION_OK) {
    std::string message = PQerrorMessage(slot.conn);
    while (!message.empty() && message.back() == '\n') message.pop_back();
    PQfinish(slot.conn);
    slot.conn = nullptr;
    // The connection string may hold a password: only libpq's message, never the string.
    return UnavailableError("cannot connect to PostgreSQL: " + message +
                                "; check the index connection settings and that the server runs",
                            "index_unavailable");
  }
  return Status::Ok();
}

StatusOr<std::unique_ptr<PgConn>> PgPool::Acquire() {
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, kAcquireTimeout, [&] { return !free_.empty(); })) {
    return UnavailableError("every PostgreSQL connection of the pool stayed busy for " +
                                std::to_string(kAcquireTimeout.count()) +
                                " s; raise the pool size or check the database",
                            "index_busy");
  }
  const size_t slot = free_.back();
  free_.pop_back();
  lock.unlock();
  // A connection left in pipeline mode (AbandonPipeline could not end it) is opened anew.
  pg_conn* conn = slots_[slot].conn;
  if (conn == nullptr || PQstatus(conn) != CONNECTION_OK ||
      PQpipelineStatus(conn) != PQ_PIPELINE_OFF) {
    if (Status connected = Connect(slots_[slot]); !connected.ok()) {
      Release(slot);
      return connected;
    }
  }
  return std::make_unique<PgConn>(this, slot);
}

void PgPool::Release(size_t slot) {
  {
    std::lock_guard lock(mu_);
    free_.push_back(slot);
  }
  cv_.notify_one();
}

}  // namespace cardvault
