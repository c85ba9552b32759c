// SqliteObjectIndex implementation: the SQL of the server's index (schema unchanged since
// the releases that kept it inside FileBlobStore).
#include "storage/sqlite_object_index.h"

#include <array>
#include <limits>
#include <string_view>

#include "storage/private_files.h"
#include "storage/sqlite_transaction.h"

namespace cardvault {
namespace {

constexpr std::array<std::string_view, 9> kMigrations = {
    R"sql(
CREATE TABLE objects (
  seq INTEGER PRIMARY KEY,
  user TEXT NOT NULL,
  id TEXT NOT NULL,
  kind INTEGER NOT NULL,
  size INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  created INTEGER NOT NULL,
  deleted INTEGER,
  file TEXT NOT NULL
);
CREATE UNIQUE INDEX objects_live ON objects(user, id) WHERE deleted IS NULL;
CREATE INDEX objects_deleted ON objects(deleted) WHERE deleted IS NOT NULL;
)sql",
    // Quota checks sum the live sizes of one user from the index alone.
    "CREATE INDEX objects_usage ON objects(user, size) WHERE deleted IS NULL;",
    // SweepOrphans looks files up by name.
    "CREATE INDEX objects_file ON objects(file);",
    // Small objects live in the index itself (`file` is then empty): one WAL append instead
    // of a file, two fsyncs and a rename.
    "ALTER TABLE objects ADD COLUMN data BLOB;",
    // Live bytes per user, kept by triggers in the same transactions as the rows, so a
    // quota check reads one row instead of summing every object of the user.
    R"sql(
CREATE TABLE usage (user TEXT PRIMARY KEY, live_bytes INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO usage SELECT user, SUM(size) FROM objects WHERE deleted IS NULL GROUP BY user;
CREATE TRIGGER usage_insert AFTER INSERT ON objects WHEN NEW.deleted IS NULL BEGIN
  INSERT INTO usage VALUES (NEW.user, NEW.size)
    ON CONFLICT(user) DO UPDATE SET live_bytes = live_bytes + NEW.size;
END;
CREATE TRIGGER usage_retire AFTER UPDATE OF deleted ON objects
    WHEN OLD.deleted IS NULL AND NEW.deleted IS NOT NULL BEGIN
  UPDATE usage SET live_bytes = live_bytes - OLD.size WHERE user = OLD.user;
END;
CREATE TRIGGER usage_delete AFTER DELETE ON objects WHEN OLD.deleted IS NULL BEGIN
  UPDATE usage SET live_bytes = live_bytes - OLD.size WHERE user = OLD.user;
END;
)sql",
    // A user's own quota (NULL: the server's default); the insert trigger names its columns.
    R"sql(
ALTER TABLE usage ADD COLUMN quota_bytes INTEGER;
DROP TRIGGER usage_insert;
CREATE TRIGGER usage_insert AFTER INSERT ON objects WHEN NEW.deleted IS NULL BEGIN
  INSERT INTO usage (user, live_bytes) VALUES (NEW.user, NEW.size)
    ON CONFLICT(user) DO UPDATE SET live_bytes = live_bytes + NEW.size;
END;
)sql",
    // A row whose bytes `cardvault-server check --quarantine` moved aside: what was wrong.
    // The row stays live (listed, counted), and reading it answers "object_damaged".
    "ALTER TABLE objects ADD COLUMN damaged TEXT;",
    // Bytes of deleted and replaced versions still on disk (until PurgeExpired), per user:
    // they count against the storage limit, so deleting or overwriting cannot fill the disk.
    R"sql(
ALTER TABLE usage ADD COLUMN retained_bytes INTEGER NOT NULL DEFAULT 0;
UPDATE usage SET retained_bytes = (SELECT COALESCE(SUM(size), 0) FROM objects
                                   WHERE objects.user = usage.user AND deleted IS NOT NULL);
DROP TRIGGER usage_retire;
CREATE TRIGGER usage_retire AFTER UPDATE OF deleted ON objects
    WHEN OLD.deleted IS NULL AND NEW.deleted IS NOT NULL BEGIN
  UPDATE usage SET live_bytes = live_bytes - OLD.size, retained_bytes = retained_bytes + OLD.size
    WHERE user = OLD.user;
END;
CREATE TRIGGER usage_purge AFTER DELETE ON objects WHEN OLD.deleted IS NOT NULL BEGIN
  UPDATE usage SET retained_bytes = retained_bytes - OLD.size WHERE user = OLD.user;
END;
)sql",
    // A version imported from another index (`cardvault-server migrate`): its number there.
    R"sql(
ALTER TABLE objects ADD COLUMN origin INTEGER;
CREATE UNIQUE INDEX objects_origin ON objects(user, origin) WHERE origin IS NOT NULL;
)sql",
};

constexpr std::string_view kVersionColumns =
    "seq, user, id, kind, size, sha256, created, file, data IS NOT NULL, IFNULL(damaged, ''), "
    "deleted";
constexpr int kFirstExtraColumn = 11;

// A version from a row whose first columns are kVersionColumns.
IndexedVersion ReadVersion(Statement& stmt) {
  IndexedVersion v;
  v.version = stmt.ColumnInt64(0);
  v.user = stmt.ColumnText(1);
  v.info.id = stmt.ColumnText(2);
  v.info.kind = static_cast<ObjectKind>(stmt.ColumnInt64(3));
  v.info.size = static_cast<uint64_t>(stmt.ColumnInt64(4));
  v.info.sha256 = stmt.ColumnText(5);
  v.info.created_unix = stmt.ColumnInt64(6);
  v.byte_key = stmt.ColumnText(7);
  v.is_inline = stmt.ColumnInt64(8) != 0;
  v.damaged = stmt.ColumnText(9);
  if (!stmt.ColumnIsNull(10)) v.retired_unix = stmt.ColumnInt64(10);
  return v;
}

std::string Select(std::string_view extra_columns, std::string_view rest) {
  std::string sql = "SELECT " + std::string(kVersionColumns);
  if (!extra_columns.empty()) sql += ", " + std::string(extra_columns);
  return sql + " FROM objects " + std::string(rest);
}

}  // namespace

// The steps of one WriteBatch; the index's mutex is held throughout.
class SqliteObjectIndex::Txn final : public IndexTransaction {
 public:
  explicit Txn(SqliteObjectIndex& index) : index_(index) {}

  StatusOr<std::optional<IndexedVersion>> FindLive(std::string_view user,
                                                   std::string_view id) override {
    return index_.FindLiveLocked(user, id, /*with_data=*/false);
  }
  StatusOr<UserUsage> Usage(std::string_view user) override { return index_.UsageLocked(user); }

  StatusOr<bool> RetireLive(std::string_view user, std::string_view id, int64_t now_unix) override {
    SqliteDb& db = *index_.db_;
    CV_ASSIGN_OR_RETURN(Statement retire,
                        db.Prepare("UPDATE objects SET deleted = ?3 "
                                   "WHERE user = ?1 AND id = ?2 AND deleted IS NULL"));
    CV_RETURN_IF_ERROR(retire.BindText(1, user));
    CV_RETURN_IF_ERROR(retire.BindText(2, id));
    CV_RETURN_IF_ERROR(retire.BindInt64(3, now_unix));
    CV_RETURN_IF_ERROR(retire.Run());
    return db.Changes() > 0;
  }

  Status Insert(const NewVersion& v, int64_t now_unix) override {
    CV_ASSIGN_OR_RETURN(Statement insert,
                        index_.db_->Prepare("INSERT INTO objects (user, id, kind, size, sha256, "
                                            "created, file, data) "
                                            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"));
    CV_RETURN_IF_ERROR(insert.BindText(1, v.user));
    CV_RETURN_IF_ERROR(insert.BindText(2, v.id));
    CV_RETURN_IF_ERROR(insert.BindInt64(3, static_cast<int64_t>(v.kind)));
    CV_RETURN_IF_ERROR(insert.BindInt64(4, static_cast<int64_t>(v.size)));
    CV_RETURN_IF_ERROR(insert.BindText(5, v.sha256));
    CV_RETURN_IF_ERROR(insert.BindInt64(6, now_unix));
    CV_RETURN_IF_ERROR(insert.BindText(7, v.byte_key));
    if (v.data != nullptr) {
      CV_RETURN_IF_ERROR(insert.BindBlob(8, *v.data));
    } else {
      CV_RETURN_IF_ERROR(insert.BindNull(8));
    }
    return insert.Run();
  }

 private:
  SqliteObjectIndex& index_;
};

StatusOr<std::unique_ptr<SqliteObjectIndex>> SqliteObjectIndex::Open(const std::string& path) {
  CV_RETURN_IF_ERROR(MakeDatabaseFilePrivate(path));
  CV_ASSIGN_OR_RETURN(auto db, SqliteDb::Open(path));
  CV_RETURN_IF_ERROR(db->Migrate(kMigrations));
  return std::unique_ptr<SqliteObjectIndex>(new SqliteObjectIndex(std::move(db)));
}

Status SqliteObjectIndex::Probe() {
  std::lock_guard lock(mu_);
  StatusOr<Statement> stmt = db_->Prepare("SELECT count(*) FROM usage WHERE 0");
  Status s = stmt.ok() ? stmt->Step().status() : stmt.status();
  if (s.ok()) return s;
  return UnavailableError("the index database does not answer: " + s.ToString(),
                          "index_unavailable");
}

Status SqliteObjectIndex::WriteBatch(std::span<const IndexStep* const> steps,
                                     std::span<Status> results) {
  if (steps.size() != results.size()) return InvalidArgumentError("one result per step");
  std::lock_guard lock(mu_);
  Txn txn(*this);
  StatusOr<Transaction> transaction = Transaction::Begin(*db_);
  Status commit = transaction.status();
  for (size_t i = 0; commit.ok() && i < steps.size(); ++i) {
    // A savepoint per step: one that fails halfway leaves no trace in the batch.
    commit = db_->Exec("SAVEPOINT step");
    if (!commit.ok()) break;
    results[i] = (*steps[i])(txn);
    if (!results[i].ok()) commit = db_->Exec("ROLLBACK TO step");
    if (commit.ok()) commit = db_->Exec("RELEASE step");
  }
  if (commit.ok()) commit = transaction->Commit();
  if (!commit.ok()) {
    for (Status& result : results) result = commit;
  }
  return commit;
}

StatusOr<std::optional<IndexedVersion>> SqliteObjectIndex::FindLiveLocked(std::string_view user,
                                                                          std::string_view id,
                                                                          bool with_data) {
  // Without the data, only whether there is any: Head and the put checks need no bytes.
  static const std::string kWith =
      Select("data", "WHERE user = ?1 AND id = ?2 AND deleted IS NULL");
  static const std::string kWithout = Select("", "WHERE user = ?1 AND id = ?2 AND deleted IS NULL");
  CV_ASSIGN_OR_RETURN(Statement stmt, db_->Prepare(with_data ? kWith : kWithout));
  CV_RETURN_IF_ERROR(stmt.BindText(1, user));
  CV_RETURN_IF_ERROR(stmt.BindText(2, id));
  CV_ASSIGN_OR_RETURN(bool found, stmt.Step());
  if (!found) return std::optional<IndexedVersion>();
  IndexedVersion v = ReadVersion(stmt);
  if (with_data && v.is_inline) v.data = stmt.ColumnBlob(kFirstExtraColumn);
  return std::optional<IndexedVersion>(std::move(v));
}

StatusOr<UserUsage> SqliteObjectIndex::UsageLocked(std::string_view user) {
  CV_ASSIGN_OR_RETURN(Statement stmt,
                      db_->Prepare("SELECT live_bytes, quota_bytes, retained_bytes FROM usage "
                                   "WHERE user = ?1"));
  CV_RETURN_IF_ERROR(stmt.BindText(1, user));
  CV_ASSIGN_OR_RETURN(bool row, stmt.Step());
  UserUsage usage;
  if (!row) return usage;
  usage.live_bytes = static_cast<uint64_t>(stmt.ColumnInt64(0));
  if (!stmt.ColumnIsNull(1)) usage.quota_bytes = static_cast<uint64_t>(stmt.ColumnInt64(1));
  usage.retained_bytes = static_cast<uint64_t>(stmt.ColumnInt64(2));
  return usage;
}

StatusOr<IndexedVersion> SqliteObjectIndex::FindLive(std::string_view user, std::string_view id,
                                                     bool with_data) {
  std::lock_guard lock(mu_);
  CV_ASSIGN_OR_RETURN(std::optional<IndexedVersion> found, FindLiveLocked(user, id, with_data));
  if (!found.has_value()) return NotFoundError("no such object", "no_such_object");
  return std::move(*found);
}

StatusOr<UserUsage> SqliteObjectIndex::Usage(std::string_view user) {
  std::lock_guard lock(mu_);
  return UsageLocked(user);
}

Status SqliteObjectIndex::SetQuota(std::string_view user, std::optional<uint64_t> quota_bytes) {
  if (quota_bytes.has_value() &&
      *quota_bytes > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return InvalidArgumentError("quota too large");
  }
  std::lock_guard lock(mu_);
  CV_ASSIGN_OR_RETURN(Statement stmt,
                      db_->Prepare("INSERT INTO usage (user, live_bytes, quota_bytes) "
                                   "VALUES (?1, 0, ?2) ON CONFLICT(user) DO UPDATE SET "
                                   "quota_bytes = excluded.quota_bytes"));
  CV_RETURN_IF_ERROR(stmt.BindText(1, user));
  if (quota_bytes.has_value()) {
    CV_RETURN_IF_ERROR(stmt.BindInt64(2, static_cast<int64_t>(*quota_bytes)));
  } else {
    CV_RETURN_IF_ERROR(stmt.BindNull(2));
  }
  return stmt.Run();
}

StatusOr<ListPage> SqliteObjectIndex::List(std::string_view user, const ListOptions& options) {
  std::lock_guard lock(mu_);
  CV_ASSIGN_OR_RETURN(
      Statement stmt,
      db_->Prepare("SELECT id, kind, size, sha256, created FROM objects "
                   "WHERE user = ?1 AND deleted IS NULL AND id > ?2 AND id >= ?3 AND id < ?4 "
                   "AND (?5 < 0 OR kind = ?5) ORDER BY id LIMIT ?6"));
  CV_RETURN_IF_ERROR(stmt.BindText(1, user));
  CV_RETURN_IF_ERROR(stmt.BindText(2, options.after));
  CV_RETURN_IF_ERROR(stmt.BindText(3, options.prefix));
  // 'g' sorts after every hex digit, so prefix + "g" bounds the ids with that prefix.
  CV_RETURN_IF_ERROR(stmt.BindText(4, options.prefix + "g"));
  CV_RETURN_IF_ERROR(
      stmt.BindInt64(5, options.kind.has_value() ? static_cast<int64_t>(*options.kind) : -1));
  CV_RETURN_IF_ERROR(stmt.BindInt64(6, static_cast<int64_t>(options.limit + 1)));
  ListPage page;
  while (true) {
    CV_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    if (page.objects.size() == options.limit) {
      page.truncated = true;
      break;
    }
    ObjectInfo info;
    info.id = stmt.ColumnText(0);
    info.kind = static_cast<ObjectKind>(stmt.ColumnInt64(1));
    info.size = static_cast<uint64_t>(stmt.ColumnInt64(2));
    info.sha256 = stmt.ColumnText(3);
    info.created_unix = stmt.ColumnInt64(4);
    page.objects.push_back(std::move(info));
  }
  return page;
}

StatusOr<std::vector<IndexedVersion>> SqliteObjectIndex::Expired(int64_t retired_at_or_before_unix,
                                                                 size_t limit) {
  static const std::string kSql =
      Select("", "WHERE deleted IS NOT NULL AND deleted <= ?1 LIMIT ?2");
  std::lock_guard lock(mu_);
  CV_ASSIGN_OR_RETURN(Statement stmt, db_->Prepare(kSql));
  CV_RETURN_IF_ERROR(stmt.BindInt64(1, retired_at_or_before_unix));
  CV_RETURN_IF_ERROR(stmt.BindInt64(2, static_cast<int64_t>(limit)));
  std::vector<IndexedVersion> expired;
  while (true) {
    CV_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return expired;
    expired.push_back(ReadVersion(stmt));
  }
}

Status SqliteObjectIndex::Forget(int64_t version) {
  std::lock_guard lock(mu_);
  CV_ASSIGN_OR_RETURN(Statement del,
                      db_->Prepare("DELETE FROM objects WHERE seq = ?1 AND deleted IS NOT NULL"));
  CV_RETURN_IF_ERROR(del.BindInt64(1, version));
  return del.Run();
}

StatusOr<bool> SqliteObjectIndex::References(std::string_view byte_key) {
  std::lock_guard lock(mu_);
  CV_ASSIGN_OR_RETURN(Statement stmt, db_->Prepare("SELECT 1 FROM objects WHERE file = ?1"));
  CV_RETURN_IF_ERROR(stmt.BindText(1, byte_key));
  return stmt.Step();
}

StatusOr<std::vector<IndexedVersion>> SqliteObjectIndex::LivePage(int64_t after_version,
                                                                  size_t limit) {
  static const std::string kSql =
      Select("", "WHERE deleted IS NULL AND seq > ?1 ORDER BY seq LIMIT ?2");
  std::lock_guard lock(mu_);
  CV_ASSIGN_OR_RETURN(Statement stmt, db_->Prepare(kSql));
  CV_RETURN_IF_ERROR(stmt.BindInt64(1, after_version));
  CV_RETURN_IF_ERROR(stmt.BindInt64(2, static_cast<int64_t>(limit)));
  std::vector<IndexedVersion> page;
  while (true) {
    CV_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return page;
    page.push_back(ReadVersion(stmt));
  }
}

StatusOr<std::optional<Bytes>> SqliteObjectIndex::InlineData(int64_t version) {
  std::lock_guard lock(mu_);
  CV_ASSIGN_OR_RETURN(Statement stmt, db_->Prepare("SELECT data FROM objects WHERE seq = ?1"));
  CV_RETURN_IF_ERROR(stmt.BindInt64(1, version));
  CV_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row || stmt.ColumnIsNull(0)) return std::optional<Bytes>();
  return std::optional<Bytes>(stmt.ColumnBlob(0));
}

StatusOr<bool> SqliteObjectIndex::MarkDamaged(int64_t version, std::string_view what,
                                              bool drop_data) {
  std::lock_guard lock(mu_);
  CV_ASSIGN_OR_RETURN(
      Statement stmt,
      db_->Prepare(drop_data
                       ? "UPDATE objects SET damaged = ?2, data = NULL "
                         "WHERE seq = ?1 AND deleted IS NULL"
                       : "UPDATE objects SET damaged = ?2 WHERE seq = ?1 AND deleted IS NULL"));
  CV_RETURN_IF_ERROR(stmt.BindInt64(1, version));
  CV_RETURN_IF_ERROR(stmt.BindText(2, what));
  CV_RETURN_IF_ERROR(stmt.Run());
  return db_->Changes() > 0;
}

StatusOr<std::vector<IndexedVersion>> SqliteObjectIndex::VersionPage(int64_t after_version,
                                                                     size_t limit, bool with_data) {
  static const std::string kWith = Select("data", "WHERE seq > ?1 ORDER BY seq LIMIT ?2");
  static const std::string kWithout = Select("", "WHERE seq > ?1 ORDER BY seq LIMIT ?2");
  std::lock_guard lock(mu_);
  CV_ASSIGN_OR_RETURN(Statement stmt, db_->Prepare(with_data ? kWith : kWithout));
  CV_RETURN_IF_ERROR(stmt.BindInt64(1, after_version));
  CV_RETURN_IF_ERROR(stmt.BindInt64(2, static_cast<int64_t>(limit)));
  std::vector<IndexedVersion> page;
  while (true) {
    CV_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return page;
    page.push_back(ReadVersion(stmt));
    if (with_data && page.back().is_inline) page.back().data = stmt.ColumnBlob(kFirstExtraColumn);
  }
}

StatusOr<std::vector<std::pair<std::string, uint64_t>>> SqliteObjectIndex::OwnQuotas() {
  std::lock_guard lock(mu_);
  CV_ASSIGN_OR_RETURN(Statement stmt, db_->Prepare("SELECT user, quota_bytes FROM usage WHERE "
                                                   "quota_bytes IS NOT NULL ORDER BY user"));
  std::vector<std::pair<std::string, uint64_t>> quotas;
  while (true) {
    CV_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return quotas;
    quotas.emplace_back(stmt.ColumnText(0), static_cast<uint64_t>(stmt.ColumnInt64(1)));
  }
}

StatusOr<VersionCounts> SqliteObjectIndex::CountVersions(std::string_view user) {
  std::lock_guard lock(mu_);
  CV_ASSIGN_OR_RETURN(Statement stmt,
                      db_->Prepare("SELECT COUNT(*), COUNT(origin) FROM objects WHERE user = ?1"));
  CV_RETURN_IF_ERROR(stmt.BindText(1, user));
  CV_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return InternalError("COUNT returned no row");
  return VersionCounts{static_cast<uint64_t>(stmt.ColumnInt64(0)),
                       static_cast<uint64_t>(stmt.ColumnInt64(1))};
}

StatusOr<std::optional<IndexedVersion>> SqliteObjectIndex::FindImportedLocked(std::string_view user,
                                                                              int64_t origin) {
  static const std::string kSql = Select("", "WHERE user = ?1 AND origin = ?2");
  CV_ASSIGN_OR_RETURN(Statement stmt, db_->Prepare(kSql));
  CV_RETURN_IF_ERROR(stmt.BindText(1, user));
  CV_RETURN_IF_ERROR(stmt.BindInt64(2, origin));
  CV_ASSIGN_OR_RETURN(bool found, stmt.Step());
  if (!found) return std::optional<IndexedVersion>();
  return std::optional<IndexedVersion>(ReadVersion(stmt));
}

StatusOr<std::optional<IndexedVersion>> SqliteObjectIndex::FindImported(std::string_view user,
                                                                        int64_t origin) {
  std::lock_guard lock(mu_);
  return FindImportedLocked(user, origin);
}

StatusOr<ImportResult> SqliteObjectIndex::ImportLocked(const IndexedVersion& v) {
  if (v.version <= 0) return InvalidArgumentError("an imported version needs its origin number");
  CV_ASSIGN_OR_RETURN(std::optional<IndexedVersion> before, FindImportedLocked(v.user, v.version));
  if (before.has_value()) return ImportResult{std::move(*before), false};
  if (!v.retired_unix.has_value()) {
    CV_ASSIGN_OR_RETURN(auto live, FindLiveLocked(v.user, v.info.id, false));
    if (live.has_value()) return AlreadyExistsError("object exists", "object_exists");
  }
  CV_ASSIGN_OR_RETURN(Statement insert,
                      db_->Prepare("INSERT INTO objects (user, id, kind, size, sha256, created, "
                                   "deleted, file, data, damaged, origin) "
                                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"));
  CV_RETURN_IF_ERROR(insert.BindText(1, v.user));
  CV_RETURN_IF_ERROR(insert.BindText(2, v.info.id));
  CV_RETURN_IF_ERROR(insert.BindInt64(3, static_cast<int64_t>(v.info.kind)));
  CV_RETURN_IF_ERROR(insert.BindInt64(4, static_cast<int64_t>(v.info.size)));
  CV_RETURN_IF_ERROR(insert.BindText(5, v.info.sha256));
  CV_RETURN_IF_ERROR(insert.BindInt64(6, v.info.created_unix));
  CV_RETURN_IF_ERROR(v.retired_unix ? insert.BindInt64(7, *v.retired_unix) : insert.BindNull(7));
  CV_RETURN_IF_ERROR(insert.BindText(8, v.byte_key));
  CV_RETURN_IF_ERROR(v.is_inline ? insert.BindBlob(9, v.data) : insert.BindNull(9));
  CV_RETURN_IF_ERROR(v.damaged.empty() ? insert.BindNull(10) : insert.BindText(10, v.damaged));
  CV_RETURN_IF_ERROR(insert.BindInt64(11, v.version));
  CV_RETURN_IF_ERROR(insert.Run());
  ImportResult result{v, true};
  result.version.version = db_->LastInsertRowId();
  result.version.data.clear();
  if (v.retired_unix.has_value()) {  // the triggers count live rows and retirements only
    CV_ASSIGN_OR_RETURN(Statement usage,
                        db_->Prepare("INSERT INTO usage (user, live_bytes, retained_bytes) "
                                     "VALUES (?1, 0, ?2) ON CONFLICT(user) DO UPDATE SET "
                                     "retained_bytes = retained_bytes + excluded.retained_bytes"));
    CV_RETURN_IF_ERROR(usage.BindText(1, v.user));
    CV_RETURN_IF_ERROR(usage.BindInt64(2, static_cast<int64_t>(v.info.size)));
    CV_RETURN_IF_ERROR(usage.Run());
  }
  return result;
}

StatusOr<std::vector<ImportResult>> SqliteObjectIndex::Import(
    std::span<const IndexedVersion> versions) {
  std::lock_guard lock(mu_);
  CV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(*db_));
  std::vector<ImportResult> results;
  results.reserve(versions.size());
  for (const IndexedVersion& v : versions) {
    CV_ASSIGN_OR_RETURN(ImportResult r, ImportLocked(v));
    results.push_back(std::move(r));
  }
  CV_RETURN_IF_ERROR(txn.Commit());
  return results;
}

}  // namespace cardvault
