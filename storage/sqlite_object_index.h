// SqliteObjectIndex: ObjectIndex in one SQLite database (index.db: WAL, synchronous=FULL).
#ifndef CARDVAULT_STORAGE_SQLITE_OBJECT_INDEX_H_
#define CARDVAULT_STORAGE_SQLITE_OBJECT_INDEX_H_

#include <memory>
#include <mutex>
#include <string>

#include "storage/object_index.h"
#include "storage/sqlite_db.h"

namespace cardvault {

// Table `objects` (one row per version: seq, user, id, kind, size, sha256, created,
// deleted, file, data, damaged, origin) and table `usage` (live and retained bytes and the own
// quota per user, kept by triggers in the same transactions as the rows). The schema is
// the one every release since the first wrote, migrated in place (never edited, only
// appended to). One connection behind a mutex: WriteBatch is one transaction, one fsync
// of the WAL, and its steps are savepoints.
class SqliteObjectIndex final : public ObjectIndex {
 public:
  // Opens (creating it 0600 if missing) and migrates the database at `path`.
  static StatusOr<std::unique_ptr<SqliteObjectIndex>> Open(const std::string& path);

  Status Probe() override;
  Status WriteBatch(std::span<const IndexStep* const> steps, std::span<Status> results) override;
  StatusOr<IndexedVersion> FindLive(std::string_view user, std::string_view id,
                                    bool with_data) override;
  StatusOr<UserUsage> Usage(std::string_view user) override;
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
  explicit SqliteObjectIndex(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}
  StatusOr<std::optional<IndexedVersion>> FindLiveLocked(std::string_view user, std::string_view id,
                                                         bool with_data);
  StatusOr<UserUsage> UsageLocked(std::string_view user);
  StatusOr<std::optional<IndexedVersion>> FindImportedLocked(std::string_view user, int64_t origin);
  StatusOr<ImportResult> ImportLocked(const IndexedVersion& v);

  std::mutex mu_;  // guards db_ (one connection, multi-statement transactions)
  std::unique_ptr<SqliteDb> db_;
};

}  // namespace cardvault

#endif  // CARDVAULT_STORAGE_SQLITE_OBJECT_INDEX_H_
