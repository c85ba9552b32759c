// PgObjectIndex: ObjectIndex in PostgreSQL, shared by any number of server instances.
#ifndef CARDVAULT_STORAGE_PG_OBJECT_INDEX_H_
#define CARDVAULT_STORAGE_PG_OBJECT_INDEX_H_

#include <memory>
#include <string>

#include "storage/object_index.h"
#include "storage/pg_pool.h"

namespace cardvault {

// Tables `objects` (one row per version, as SqliteObjectIndex's) and `usage` (live and
// retained bytes and the own quota per user, kept in the same transactions as the rows),
// migrated by MigratePg (component "index": versioned, applied once at Open even by
// instances starting at once).
//
// Isolation: every step of a WriteBatch first takes a per-user transaction lock
// (pg_advisory_xact_lock), so steps on one user, on any instance, run one after the other
// and what a step read (its user's rows and usage) does not change before its commit.
// A batch that meets a deadlock or serialization failure is run again from the start (at
// most 5 times). Statements are prepared once per pooled connection.
//
// Round trips: a step's first touch of a user sends the lock and its reads in one pipeline
// (PgConn::RunPipeline), each write is one statement, and the savepoint statements between
// steps share one PQexec: a step that inserts a new version costs 4 with BEGIN and COMMIT
// (tests/storage/pg_round_trip_test.cc).
class PgObjectIndex final : public ObjectIndex {
 public:
  struct Options {
    size_t pool_size = 8;  // connections held open
  };
  // `conninfo`: a libpq connection string or postgresql:// URI (never logged).
  static StatusOr<std::unique_ptr<PgObjectIndex>> Open(const std::string& conninfo,
                                                       Options options);

  Status Probe() override;
  // Round trips to PostgreSQL so far (PgPool::round_trips), for tests and measurements.
  uint64_t round_trips() const { return pool_->round_trips(); }
  Status WriteBatch(std::span<const IndexStep* const> steps, std::span<Status> results) override;
  StatusOr<IndexedVersion> FindLive(std::string_view user, std::string_view id,
                                    bool with_data) override;
  StatusOr<UserUsage> Usage(std::string_view user) override;
  // One round trip (a pipeline: one implicit transaction, so one snapshot for both).
  StatusOr<LiveAndUsage> FindLiveAndUsage(std::string_view user, std::string_view id) override;
  Status SetQuota(std::string_view user, std::optional<uint64_t> quota_bytes) override;
  StatusOr<ListPage> List(std::string_view user, const ListOptions& options) override;
  StatusOr<std::vector<IndexedVersion>> Expired(int64_t retired_at_or_before_unix,
                                                size_t limit) override;
  Status Forget(int64_t version) override;
  StatusOr<bool> References(std::string_view byte_key) override;
  StatusOr<std::vector<IndexedVersion>> LivePage(int64_t after_version, size_t limit) override;
  StatusOr<std::optional<Bytes>> InlineData(int64_t version) override;
  StatusOr<bool> MarkDamaged(int64_t version, std::string_view what, bool drop_data) override;
  StatusOr<std::vector<IndexedVersion>> VersionPage(int64_t after_version, size_t limit,
                                                    bool with_data) override;
  StatusOr<std::vector<std::pair<std::string, uint64_t>>> OwnQuotas() override;
  StatusOr<VersionCounts> CountVersions(std::string_view user) override;
  StatusOr<std::vector<ImportResult>> Import(std::span<const IndexedVersion> versions) override;
  StatusOr<std::optional<IndexedVersion>> FindImported(std::string_view user,
                                                       int64_t origin) override;

 private:
  class Txn;
  explicit PgObjectIndex(std::unique_ptr<PgPool> pool) : pool_(std::move(pool)) {}
  // One attempt at a batch on `conn`: BEGIN, a savepoint per step, COMMIT.
  Status TryBatch(PgConn& conn, std::span<const IndexStep* const> steps, std::span<Status> results);

  std::unique_ptr<PgPool> pool_;
};

}  // namespace cardvault

#endif  // CARDVAULT_STORAGE_PG_OBJECT_INDEX_H_
