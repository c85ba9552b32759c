// StateDb implementation: schema migrations and one statement or transaction per step.
#include "agent/sync/state_db.h"

#include "storage/sqlite_transaction.h"

namespace cardvault {

FileRecord DirectoryFileRecord(const std::string& path, const FileInfo& info) {
  return FileRecord{DirectoryRecordPath(path), 0,          info.mtime_ns, info.inode,
                    info.mode & 07777,         Sha256({}), false};
}

namespace {

// Append-only: never edit a released migration.
constexpr std::string_view kMigrations[] = {
    R"sql(
CREATE TABLE files (
  path TEXT PRIMARY KEY,
  size INTEGER NOT NULL,
  mtime_ns INTEGER NOT NULL,
  inode INTEGER NOT NULL,
  mode INTEGER NOT NULL,
  sha256 BLOB NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE versions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  path TEXT NOT NULL,
  kind INTEGER NOT NULL,
  sha256 BLOB NOT NULL,
  size INTEGER NOT NULL,
  mtime_ns INTEGER NOT NULL,
  mode INTEGER NOT NULL,
  state INTEGER NOT NULL,
  object_id TEXT UNIQUE,
  epoch_id BLOB,
  spool_path TEXT,
  blob_sha256 TEXT,
  blob_size INTEGER NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_ns INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  created_ns INTEGER NOT NULL,
  uploaded_ns INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX versions_by_state ON versions(state, next_attempt_ns);
CREATE INDEX versions_by_path ON versions(path);
CREATE TABLE epochs (
  epoch_id BLOB PRIMARY KEY,
  recipient TEXT NOT NULL,
  object_id TEXT NOT NULL UNIQUE,
  key_object BLOB NOT NULL,
  recipients_hash TEXT NOT NULL,
  created_ns INTEGER NOT NULL,
  uploaded INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
)sql",
    // Version 2: small blobs are spooled in the database itself. A blob exists exactly while
    // its version is encrypted: the trigger drops it when the version moves on.
    R"sql(
CREATE TABLE spool (
  version_id INTEGER PRIMARY KEY REFERENCES versions(id),
  blob BLOB NOT NULL
);
CREATE TRIGGER spool_only_while_encrypted AFTER UPDATE OF state ON versions
WHEN NEW.state != 1 BEGIN
  DELETE FROM spool WHERE version_id = NEW.id;
END;
)sql",
};

constexpr char kVersionColumns[] =
    "id, path, kind, sha256, size, mtime_ns, mode, state, object_id, epoch_id, spool_path, "
    "blob_sha256, blob_size, attempts, next_attempt_ns, last_error, created_ns, uploaded_ns";

Sha256Digest ToDigest(const Bytes& b) {
  Sha256Digest d = {};
  if (b.size() == d.size()) std::copy(b.begin(), b.end(), d.begin());
  return d;
}

VersionRecord ReadVersion(const Statement& s) {
  VersionRecord v;
  v.id = s.ColumnInt64(0);
  v.path = s.ColumnText(1);
  v.kind = static_cast<format::Kind>(s.ColumnInt64(2));
  v.sha256 = ToDigest(s.ColumnBlob(3));
  v.size = static_cast<uint64_t>(s.ColumnInt64(4));
  v.mtime_ns = s.ColumnInt64(5);
  v.mode = static_cast<uint32_t>(s.ColumnInt64(6));
  v.state = static_cast<VersionState>(s.ColumnInt64(7));
  v.object_id = s.ColumnIsNull(8) ? "" : s.ColumnText(8);
  v.epoch_id = s.ColumnIsNull(9) ? Bytes() : s.ColumnBlob(9);
  v.spool_path = s.ColumnIsNull(10) ? "" : s.ColumnText(10);
  v.blob_sha256 = s.ColumnIsNull(11) ? "" : s.ColumnText(11);
  v.blob_size = static_cast<uint64_t>(s.ColumnInt64(12));
  v.attempts = static_cast<int>(s.ColumnInt64(13));
  v.next_attempt_ns = s.ColumnInt64(14);
  v.last_error = s.ColumnIsNull(15) ? "" : s.ColumnText(15);
  v.created_ns = s.ColumnInt64(16);
  v.uploaded_ns = s.ColumnInt64(17);
  return v;
}

EpochRecord ReadEpoch(const Statement& s) {
  EpochRecord e;
  e.epoch_id = s.ColumnBlob(0);
  e.recipient = s.ColumnText(1);
  e.object_id = s.ColumnText(2);
  e.key_object = s.ColumnBlob(3);
  e.recipients_hash = s.ColumnText(4);
  e.created_ns = s.ColumnInt64(5);
  e.uploaded = s.ColumnInt64(6) != 0;
  return e;
}

constexpr char kFileColumns[] = "path, size, mtime_ns, inode, mode, sha256, deleted";

FileRecord ReadFile(const Statement& s) {
  FileRecord f;
  f.path = s.ColumnText(0);
  f.size = static_cast<uint64_t>(s.ColumnInt64(1));
  f.mtime_ns = s.ColumnInt64(2);
  f.inode = static_cast<uint64_t>(s.ColumnInt64(3));
  f.mode = static_cast<uint32_t>(s.ColumnInt64(4));
  f.sha256 = ToDigest(s.ColumnBlob(5));
  f.deleted = s.ColumnInt64(6) != 0;
  return f;
}

constexpr char kEpochColumns[] =
    "epoch_id, recipient, object_id, key_object, recipients_hash, created_ns, uploaded";

}  // namespace

std::string_view VersionStateName(VersionState s) {
  switch (s) {
    case VersionState::kQueued:
      return "queued";
    case VersionState::kEncrypted:
      return "encrypted";
    case VersionState::kUploaded:
      return "uploaded";
    case VersionState::kFailed:
      return "failed";
    case VersionState::kSuperseded:
      return "superseded";
  }
  return "unknown";
}

namespace {

// The state only records what the folder looked like and what the server already holds,
// so a damaged one is rebuilt from the server, never repaired.
Status DamagedStateError(const std::string& path, const Status& cause) {
  const std::string dir = DirName(path);
  return CorruptError("the state database " + path + " is damaged (" + cause.message() +
                          "). Move its directory aside (mv " + dir + " " + dir +
                          ".damaged), then rebuild the state from the server: cardvault adopt "
                          "(the card and its PIN once: it records every file that matches "
                          "the server), then cardvault run",
                      "state_db_corrupt");
}

StatusOr<std::unique_ptr<SqliteDb>> OpenAndCheck(const std::string& path) {
  SqliteDb::Options options;
  options.synchronous_full = false;  // WAL + NORMAL: a crash loses at most the last commits,
                                     // never consistency; every step is idempotent.
  CV_ASSIGN_OR_RETURN(auto db, SqliteDb::Open(path, options));
  CV_RETURN_IF_ERROR(db->QuickCheck(StateDb::kQuickCheckBudget));
  CV_RETURN_IF_ERROR(db->Migrate(kMigrations));
  return db;
}

}  // namespace

StatusOr<std::unique_ptr<StateDb>> StateDb::Open(const std::string& path) {
  StatusOr<std::unique_ptr<SqliteDb>> db = OpenAndCheck(path);
  if (!db.ok() && db.status().code() == StatusCode::kCorrupt) {
    return DamagedStateError(path, db.status());
  }
  CV_RETURN_IF_ERROR(db.status());
  return std::unique_ptr<StateDb>(new StateDb(std::move(*db)));
}

StatusOr<std::optional<FileRecord>> StateDb::GetFile(const std::string& path) {
  CV_ASSIGN_OR_RETURN(Statement s, db_->Prepare(std::string("SELECT ") + kFileColumns +
                                                " FROM files WHERE path = ?"));
  CV_RETURN_IF_ERROR(s.BindText(1, path));
  CV_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<FileRecord>();
  return std::optional<FileRecord>(ReadFile(s));
}

StatusOr<std::vector<FileRecord>> StateDb::ListLiveFiles() {
  CV_ASSIGN_OR_RETURN(Statement s, db_->Prepare(std::string("SELECT ") + kFileColumns +
                                                " FROM files WHERE deleted = 0 ORDER BY path"));
  std::vector<FileRecord> out;
  while (true) {
    CV_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back(ReadFile(s));
  }
  return out;
}

StatusOr<std::vector<std::string>> StateDb::RecordFile(
    const FileRecord& file, const std::optional<VersionRecord>& version) {
  CV_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db_));
  {
    CV_ASSIGN_OR_RETURN(
        Statement s,
        db_->Prepare("INSERT INTO files (path, size, mtime_ns, inode, mode, sha256, deleted) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(path) DO UPDATE SET "
                     "size = excluded.size, mtime_ns = excluded.mtime_ns, inode = "
                     "excluded.inode, mode = excluded.mode, sha256 = excluded.sha256, "
                     "deleted = excluded.deleted"));
    CV_RETURN_IF_ERROR(s.BindText(1, file.path));
    CV_RETURN_IF_ERROR(s.BindInt64(2, static_cast<int64_t>(file.size)));
    CV_RETURN_IF_ERROR(s.BindInt64(3, file.mtime_ns));
    CV_RETURN_IF_ERROR(s.BindInt64(4, static_cast<int64_t>(file.inode)));
    CV_RETURN_IF_ERROR(s.BindInt64(5, file.mode));
    CV_RETURN_IF_ERROR(s.BindBlob(6, file.sha256));
    CV_RETURN_IF_ERROR(s.BindInt64(7, file.deleted ? 1 : 0));
    CV_RETURN_IF_ERROR(s.Run());
  }
  std::vector<std::string> stale_spool;
  if (version) {
    {
      CV_ASSIGN_OR_RETURN(Statement s, db_->Prepare("SELECT spool_path FROM versions WHERE "
                                                    "path = ? AND state IN (0, 1, 3)"));
      CV_RETURN_IF_ERROR(s.BindText(1, file.path));
      while (true) {
        CV_ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) break;
        if (!s.ColumnIsNull(0) && s.ColumnText(0) != kSpoolInStateDb) {
          stale_spool.push_back(s.ColumnText(0));  // a blob in the database goes by trigger
        }
      }
    }
    {
      CV_ASSIGN_OR_RETURN(Statement s,
                          db_->Prepare("UPDATE versions SET state = 4, spool_path "
                                       "= NULL WHERE path = ? AND state IN (0, 1, 3)"));
      CV_RETURN_IF_ERROR(s.BindText(1, file.path));
      CV_RETURN_IF_ERROR(s.Run());
    }
    CV_ASSIGN_OR_RETURN(Statement s,
                        db_->Prepare("INSERT INTO versions (path, kind, sha256, size, mtime_ns, "
                                     "mode, state, created_ns) VALUES (?, ?, ?, ?, ?, ?, 0, ?)"));
    CV_RETURN_IF_ERROR(s.BindText(1, version->path));
    CV_RETURN_IF_ERROR(s.BindInt64(2, static_cast<int64_t>(version->kind)));
    CV_RETURN_IF_ERROR(s.BindBlob(3, version->sha256));
    CV_RETURN_IF_ERROR(s.BindInt64(4, static_cast<int64_t>(version->size)));
    CV_RETURN_IF_ERROR(s.BindInt64(5, version->mtime_ns));
    CV_RETURN_IF_ERROR(s.BindInt64(6, version->mode));
    CV_RETURN_IF_ERROR(s.BindInt64(7, version->created_ns));
    CV_RETURN_IF_ERROR(s.Run());
  }
  CV_RETURN_IF_ERROR(tx.Commit());
  return stale_spool;
}

StatusOr<std::vector<VersionRecord>> StateDb::DueVersions(int64_t now_ns, size_t limit) {
  CV_ASSIGN_OR_RETURN(Statement s, db_->Prepare(std::string("SELECT ") + kVersionColumns +
                                                " FROM versions WHERE state IN (0, 1) AND "
                                                "next_attempt_ns <= ? ORDER BY id LIMIT ?"));
  CV_RETURN_IF_ERROR(s.BindInt64(1, now_ns));
  CV_RETURN_IF_ERROR(s.BindInt64(2, static_cast<int64_t>(limit)));
  std::vector<VersionRecord> out;
  while (true) {
    CV_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back(ReadVersion(s));
  }
  return out;
}

StatusOr<std::optional<int64_t>> StateDb::NextRetryTime() {
  CV_ASSIGN_OR_RETURN(Statement s, db_->Prepare("SELECT MIN(next_attempt_ns) FROM versions "
                                                "WHERE state IN (0, 1)"));
  CV_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row || s.ColumnIsNull(0)) return std::optional<int64_t>();
  return std::optional<int64_t>(s.ColumnInt64(0));
}

StatusOr<VersionRecord> StateDb::GetVersion(int64_t id) {
  CV_ASSIGN_OR_RETURN(Statement s, db_->Prepare(std::string("SELECT ") + kVersionColumns +
                                                " FROM versions WHERE id = ?"));
  CV_RETURN_IF_ERROR(s.BindInt64(1, id));
  CV_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return NotFoundError("no version " + std::to_string(id));
  return ReadVersion(s);
}

StatusOr<std::vector<VersionRecord>> StateDb::ListVersions(std::optional<VersionState> state) {
  std::string sql = std::string("SELECT ") + kVersionColumns + " FROM versions";
  if (state) sql += " WHERE state = " + std::to_string(static_cast<int>(*state));
  sql += " ORDER BY id";
  CV_ASSIGN_OR_RETURN(Statement s, db_->Prepare(sql));
  std::vector<VersionRecord> out;
  while (true) {
    CV_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back(ReadVersion(s));
  }
  return out;
}

Status StateDb::MarkEncrypted(const VersionRecord& v) {
  CV_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db_));
  {
    CV_ASSIGN_OR_RETURN(Statement s,
                        db_->Prepare("UPDATE versions SET state = 1, object_id = ?, epoch_id = ?, "
                                     "spool_path = ?, blob_sha256 = ?, blob_size = ?, sha256 = ? "
                                     "WHERE id = ? AND state = 0"));
    CV_RETURN_IF_ERROR(s.BindText(1, v.object_id));
    CV_RETURN_IF_ERROR(s.BindBlob(2, v.epoch_id));
    CV_RETURN_IF_ERROR(s.BindText(3, v.spool_path));
    CV_RETURN_IF_ERROR(s.BindText(4, v.blob_sha256));
    CV_RETURN_IF_ERROR(s.BindInt64(5, static_cast<int64_t>(v.blob_size)));
    CV_RETURN_IF_ERROR(s.BindBlob(6, v.sha256));
    CV_RETURN_IF_ERROR(s.BindInt64(7, v.id));
    CV_RETURN_IF_ERROR(s.Run());
    if (db_->Changes() != 1) {
      return FailedPreconditionError("version " + std::to_string(v.id) + " is no longer queued",
                                     "superseded");
    }
  }
  if (v.spool_path == kSpoolInStateDb) {
    if (v.spool_blob.empty()) return InternalError("no blob to spool in the state database");
    CV_ASSIGN_OR_RETURN(Statement s, db_->Prepare("INSERT OR REPLACE INTO spool (version_id, "
                                                  "blob) VALUES (?, ?)"));
    CV_RETURN_IF_ERROR(s.BindInt64(1, v.id));
    CV_RETURN_IF_ERROR(s.BindBlob(2, v.spool_blob));
    CV_RETURN_IF_ERROR(s.Run());
  }
  {
    CV_ASSIGN_OR_RETURN(Statement s,
                        db_->Prepare("UPDATE files SET sha256 = ? WHERE path = ? AND sha256 = ? "
                                     "AND size = ? AND mtime_ns = ? AND deleted = 0"));
    CV_RETURN_IF_ERROR(s.BindBlob(1, v.sha256));
    CV_RETURN_IF_ERROR(s.BindText(2, v.path));
    CV_RETURN_IF_ERROR(s.BindBlob(3, kNotHashed));
    CV_RETURN_IF_ERROR(s.BindInt64(4, static_cast<int64_t>(v.size)));
    CV_RETURN_IF_ERROR(s.BindInt64(5, v.mtime_ns));
    CV_RETURN_IF_ERROR(s.Run());
  }
  return tx.Commit();
}

StatusOr<Bytes> StateDb::SpooledBlob(int64_t version_id) {
  CV_ASSIGN_OR_RETURN(Statement s, db_->Prepare("SELECT blob FROM spool WHERE version_id = ?"));
  CV_RETURN_IF_ERROR(s.BindInt64(1, version_id));
  CV_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) {
    return NotFoundError("the spooled blob of version " + std::to_string(version_id) +
                         " is not in the " + kSpoolInStateDb);
  }
  return s.ColumnBlob(0);
}

StatusOr<int64_t> StateDb::SpooledBlobCount() {
  CV_ASSIGN_OR_RETURN(Statement s, db_->Prepare("SELECT COUNT(*) FROM spool"));
  CV_ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? s.ColumnInt64(0) : 0;
}

Status StateDb::MarkUploaded(int64_t id, int64_t now_ns, const std::string& blob_sha256) {
  CV_ASSIGN_OR_RETURN(Statement s,
                      db_->Prepare("UPDATE versions SET state = 2, spool_path = NULL, "
                                   "uploaded_ns = ?, last_error = NULL, blob_sha256 = ? WHERE "
                                   "id = ?"));
  CV_RETURN_IF_ERROR(s.BindInt64(1, now_ns));
  CV_RETURN_IF_ERROR(s.BindText(2, blob_sha256));
  CV_RETURN_IF_ERROR(s.BindInt64(3, id));
  CV_RETURN_IF_ERROR(s.Run());
  return SetMeta("last_success_ns", std::to_string(now_ns));
}

Status StateDb::MarkRetry(int64_t id, const std::string& error, int64_t next_attempt_ns) {
  CV_ASSIGN_OR_RETURN(Statement s, db_->Prepare("UPDATE versions SET attempts = attempts + 1, "
                                                "last_error = ?, next_attempt_ns = ? WHERE id "
                                                "= ?"));
  CV_RETURN_IF_ERROR(s.BindText(1, error));
  CV_RETURN_IF_ERROR(s.BindInt64(2, next_attempt_ns));
  CV_RETURN_IF_ERROR(s.BindInt64(3, id));
  return s.Run();
}

Status StateDb::MarkFailed(int64_t id, const std::string& error) {
  CV_ASSIGN_OR_RETURN(Statement s, db_->Prepare("UPDATE versions SET state = 3, attempts = "
                                                "attempts + 1, last_error = ? WHERE id = ?"));
  CV_RETURN_IF_ERROR(s.BindText(1, error));
  CV_RETURN_IF_ERROR(s.BindInt64(2, id));
  return s.Run();
}

Status StateDb::Requeue(int64_t id) {
  CV_ASSIGN_OR_RETURN(Statement s, db_->Prepare("UPDATE versions SET state = 0, object_id = "
                                                "NULL, spool_path = NULL, blob_sha256 = NULL "
                                                "WHERE id = ? AND state IN (0, 1)"));
  CV_RETURN_IF_ERROR(s.BindInt64(1, id));
  return s.Run();
}

StatusOr<std::vector<VersionRecord>> StateDb::RequeueFailed() {
  CV_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db_));
  std::vector<VersionRecord> out;
  {
    CV_ASSIGN_OR_RETURN(
        Statement s,
        db_->Prepare(std::string("SELECT ") + kVersionColumns +
                     " FROM versions AS v WHERE state = 3 AND id = (SELECT MAX(id) FROM "
                     "versions WHERE path = v.path) ORDER BY id"));
    while (true) {
      CV_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      out.push_back(ReadVersion(s));
    }
  }
  for (const VersionRecord& v : out) {
    CV_ASSIGN_OR_RETURN(Statement s, db_->Prepare("UPDATE versions SET state = 0, object_id = "
                                                  "NULL, spool_path = NULL, blob_sha256 = NULL, "
                                                  "next_attempt_ns = 0 WHERE id = ?"));
    CV_RETURN_IF_ERROR(s.BindInt64(1, v.id));
    CV_RETURN_IF_ERROR(s.Run());
  }
  CV_RETURN_IF_ERROR(tx.Commit());
  return out;
}

StatusOr<std::optional<EpochRecord>> StateDb::CurrentEpoch(const std::string& recipients_hash) {
  CV_ASSIGN_OR_RETURN(Statement s, db_->Prepare(std::string("SELECT ") + kEpochColumns +
                                                " FROM epochs WHERE recipients_hash = ? ORDER BY "
                                                "created_ns DESC LIMIT 1"));
  CV_RETURN_IF_ERROR(s.BindText(1, recipients_hash));
  CV_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<EpochRecord>();
  return std::optional<EpochRecord>(ReadEpoch(s));
}

StatusOr<std::optional<EpochRecord>> StateDb::GetEpoch(const Bytes& epoch_id) {
  CV_ASSIGN_OR_RETURN(Statement s, db_->Prepare(std::string("SELECT ") + kEpochColumns +
                                                " FROM epochs WHERE epoch_id = ?"));
  CV_RETURN_IF_ERROR(s.BindBlob(1, epoch_id));
  CV_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<EpochRecord>();
  return std::optional<EpochRecord>(ReadEpoch(s));
}

Status StateDb::AddEpoch(const EpochRecord& e) {
  CV_ASSIGN_OR_RETURN(Statement s, db_->Prepare(std::string("INSERT INTO epochs (") +
                                                kEpochColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?)"));
  CV_RETURN_IF_ERROR(s.BindBlob(1, e.epoch_id));
  CV_RETURN_IF_ERROR(s.BindText(2, e.recipient));
  CV_RETURN_IF_ERROR(s.BindText(3, e.object_id));
  CV_RETURN_IF_ERROR(s.BindBlob(4, e.key_object));
  CV_RETURN_IF_ERROR(s.BindText(5, e.recipients_hash));
  CV_RETURN_IF_ERROR(s.BindInt64(6, e.created_ns));
  CV_RETURN_IF_ERROR(s.BindInt64(7, e.uploaded ? 1 : 0));
  return s.Run();
}

Status StateDb::MarkEpochUploaded(const Bytes& epoch_id) {
  CV_ASSIGN_OR_RETURN(Statement s, db_->Prepare("UPDATE epochs SET uploaded = 1 WHERE "
                                                "epoch_id = ?"));
  CV_RETURN_IF_ERROR(s.BindBlob(1, epoch_id));
  return s.Run();
}

StatusOr<bool> StateDb::MayUpload() {
  CV_ASSIGN_OR_RETURN(
      Statement s,
      db_->Prepare("SELECT EXISTS (SELECT 1 FROM meta WHERE key = 'vault_check' AND value = "
                   "'passed') OR EXISTS (SELECT 1 FROM epochs) OR EXISTS (SELECT 1 FROM files "
                   "f WHERE NOT EXISTS (SELECT 1 FROM versions v WHERE v.path = f.path))"));
  CV_ASSIGN_OR_RETURN(bool row, s.Step());
  return row && s.ColumnInt64(0) != 0;
}

StatusOr<int> StateDb::MakeRetriesDue() {
  CV_RETURN_IF_ERROR(
      db_->Exec("UPDATE versions SET next_attempt_ns = 0, attempts = 0 WHERE "
                "state IN (0, 1) AND next_attempt_ns > 0"));
  return db_->Changes();
}

Status StateDb::ForgetUnsynced() {
  CV_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db_));
  CV_ASSIGN_OR_RETURN(bool may, MayUpload());
  if (may) return FailedPreconditionError("this state database has synced or was adopted");
  CV_RETURN_IF_ERROR(db_->Exec("DELETE FROM versions; DELETE FROM files"));
  return tx.Commit();
}

StatusOr<StateCounts> StateDb::Counts() {
  CV_ASSIGN_OR_RETURN(Statement s, db_->Prepare("SELECT state, COUNT(*) FROM versions GROUP BY "
                                                "state"));
  StateCounts c;
  while (true) {
    CV_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    int64_t n = s.ColumnInt64(1);
    switch (static_cast<VersionState>(s.ColumnInt64(0))) {
      case VersionState::kQueued:
        c.queued = n;
        break;
      case VersionState::kEncrypted:
        c.encrypted = n;
        break;
      case VersionState::kUploaded:
        c.uploaded = n;
        break;
      case VersionState::kFailed:
        c.failed = n;
        break;
      case VersionState::kSuperseded:
        break;
    }
  }
  return c;
}

StatusOr<int64_t> StateDb::PageCount() {
  CV_ASSIGN_OR_RETURN(Statement s, db_->Prepare("PRAGMA page_count"));
  CV_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return InternalError("PRAGMA page_count returned nothing");
  return s.ColumnInt64(0);
}

Status StateDb::LimitPages(int64_t pages) {
  return db_->Exec("PRAGMA max_page_count = " + std::to_string(pages));
}

Status StateDb::SetMeta(const std::string& key, const std::string& value) {
  CV_ASSIGN_OR_RETURN(Statement s, db_->Prepare("INSERT INTO meta (key, value) VALUES (?, ?) "
                                                "ON CONFLICT(key) DO UPDATE SET value = "
                                                "excluded.value"));
  CV_RETURN_IF_ERROR(s.BindText(1, key));
  CV_RETURN_IF_ERROR(s.BindText(2, value));
  return s.Run();
}

StatusOr<std::string> StateDb::GetMeta(const std::string& key) {
  CV_ASSIGN_OR_RETURN(Statement s, db_->Prepare("SELECT value FROM meta WHERE key = ?"));
  CV_RETURN_IF_ERROR(s.BindText(1, key));
  CV_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return NotFoundError("no meta value " + key);
  return s.ColumnText(0);
}

}  // namespace cardvault
