// StateDb: the agent's local state in SQLite (WAL): what each file looked like when last
// seen, every version queued or uploaded, and the key epochs. Each pipeline step is one
// committed transaction, so an agent killed at any point resumes without loss.
#ifndef CARDVAULT_AGENT_SYNC_STATE_DB_H_
#define CARDVAULT_AGENT_SYNC_STATE_DB_H_

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/crypto.h"
#include "core/env.h"
#include "core/format.h"
#include "storage/sqlite_db.h"
#include "storage/sqlite_transaction.h"

namespace cardvault {

struct FileRecord {
  std::string path;  // a directory's ends with '/' (DirectoryRecordPath)
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t inode = 0;
  uint32_t mode = 0;
  Sha256Digest sha256 = {};  // kNotHashed until its version is encrypted
  bool deleted = false;
};

// The record path of the directory `path` (files and versions keyed by path keep a
// directory apart from a file of the same name), and back to the path in blob metadata.
inline std::string DirectoryRecordPath(const std::string& path) { return path + "/"; }
inline std::string MetadataPath(const std::string& record_path) {
  return !record_path.empty() && record_path.back() == '/'
             ? record_path.substr(0, record_path.size() - 1)
             : record_path;
}
// The record of the directory `path` as `info` shows it: its mode, no content (size 0 and
// the empty content's hash).
FileRecord DirectoryFileRecord(const std::string& path, const FileInfo& info);

// A version moves queued -> encrypted -> uploaded; or to failed (a permanent error), or to
// superseded (a newer version of the path came first and this one never needs uploading).
enum class VersionState { kQueued, kEncrypted, kUploaded, kFailed, kSuperseded };
std::string_view VersionStateName(VersionState s);

// The plaintext hash of a file or version not hashed yet: a new file, or one whose size
// changed, is hashed by its encryption instead of by a read of its own (MarkEncrypted
// records it). No content hashes to all zeros.
inline constexpr Sha256Digest kNotHashed = {};

// The spool_path of a version whose blob waits in the state database (a small file's:
// SyncEngineOptions::spool_in_db_up_to) instead of a spool file. Never a file name.
inline constexpr char kSpoolInStateDb[] = "state database";

struct VersionRecord {
  int64_t id = 0;
  std::string path;
  format::Kind kind = format::Kind::kFile;
  Sha256Digest sha256 = {};  // plaintext (files); kNotHashed until encrypted
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint32_t mode = 0;
  VersionState state = VersionState::kQueued;
  std::string object_id;  // set when encrypted
  Bytes epoch_id;
  std::string spool_path;  // a spool file, or kSpoolInStateDb
  // The blob, when it is spooled in the database: set by the encryption and written by
  // MarkEncrypted; not read back by the queries (StateDb::SpooledBlob).
  Bytes spool_blob;
  std::string blob_sha256;
  uint64_t blob_size = 0;
  int attempts = 0;
  int64_t next_attempt_ns = 0;
  std::string last_error;
  int64_t created_ns = 0;
  int64_t uploaded_ns = 0;
};

struct EpochRecord {
  Bytes epoch_id;
  std::string recipient;  // cv-x25519-... (the epoch public key)
  std::string object_id;  // the key object's id on the server
  Bytes key_object;
  std::string recipients_hash;  // identifies the card recipients it was wrapped to
  int64_t created_ns = 0;
  bool uploaded = false;
};

struct StateCounts {
  int64_t queued = 0, encrypted = 0, uploaded = 0, failed = 0;
};

class StateDb {
 public:
  // How long Open's integrity check may take at most (a larger database is checked in part).
  static constexpr std::chrono::milliseconds kQuickCheckBudget{2000};

  // Opens or creates the database at `path`, checks it (SQLite's quick_check, bounded by
  // kQuickCheckBudget) and migrates its schema. A damaged file (not a database, or a bad
  // page) is kCorrupt "state_db_corrupt", with a message that names the file and says how
  // to rebuild the state (move it aside, `cardvault adopt`).
  static StatusOr<std::unique_ptr<StateDb>> Open(const std::string& path);

  // Groups the writes that follow into one transaction (one commit for a batch of steps);
  // each method's own transaction nests inside it. Not committed = rolled back.
  StatusOr<Transaction> BeginBatch() { return Transaction::Begin(*db_); }

  StatusOr<std::optional<FileRecord>> GetFile(const std::string& path);
  StatusOr<std::vector<FileRecord>> ListLiveFiles();

  // Records `file` as seen and, when `version` is given, queues it in the same transaction,
  // superseding older versions of the path that are not uploaded yet, failed ones included
  // (their spool files are returned for deletion).
  StatusOr<std::vector<std::string>> RecordFile(const FileRecord& file,
                                                const std::optional<VersionRecord>& version);

  // Versions to work on: queued or encrypted, due by `now_ns`, oldest first.
  StatusOr<std::vector<VersionRecord>> DueVersions(int64_t now_ns, size_t limit);
  StatusOr<std::optional<int64_t>> NextRetryTime();
  StatusOr<VersionRecord> GetVersion(int64_t id);
  StatusOr<std::vector<VersionRecord>> ListVersions(std::optional<VersionState> state);

  // Step commits.
  // Also records the version's plaintext hash, and the file's when it was kNotHashed and
  // its record still has the version's size and mtime; and, for a spool_path of
  // kSpoolInStateDb, the blob itself (spool_blob), in the same transaction. A blob spooled
  // in the database stays exactly as long as its version is encrypted (a trigger drops it
  // when the state changes: uploaded, requeued, failed, superseded).
  Status MarkEncrypted(const VersionRecord& v);
  // The blob MarkEncrypted spooled for an encrypted version; kNotFound otherwise.
  StatusOr<Bytes> SpooledBlob(int64_t version_id);
  StatusOr<int64_t> SpooledBlobCount();
  Status MarkUploaded(int64_t id, int64_t now_ns, const std::string& blob_sha256);
  Status MarkRetry(int64_t id, const std::string& error, int64_t next_attempt_ns);
  Status MarkFailed(int64_t id, const std::string& error);
  // Every version waiting for a retry is due now, its back-off started afresh (the server
  // is back). Returns how many.
  StatusOr<int> MakeRetriesDue();
  // Back to queued (e.g. the file changed during encryption, or the spool file was lost).
  Status Requeue(int64_t id);
  // Queues again every failed version that is still its path's latest (an older one stays
  // failed: uploading it now would put it after a newer version), with a fresh object id to
  // come and no back-off. Returns them as they were (path, spool_path, last_error).
  StatusOr<std::vector<VersionRecord>> RequeueFailed();

  StatusOr<std::optional<EpochRecord>> CurrentEpoch(const std::string& recipients_hash);
  StatusOr<std::optional<EpochRecord>> GetEpoch(const Bytes& epoch_id);
  Status AddEpoch(const EpochRecord& epoch);
  Status MarkEpochUploaded(const Bytes& epoch_id);

  StatusOr<StateCounts> Counts();
  // Whether this database may upload without asking the server first: it passed that check
  // before (meta "vault_check" = "passed"), or it has an epoch (it encrypted, so it checked
  // or predates the check), or it holds a file recorded without any version (what
  // `cardvault adopt` records). False for a new database.
  StatusOr<bool> MayUpload();
  // Drops every file and version recorded by a database for which MayUpload is false: it
  // never encrypted anything (no epoch), so nothing is lost; the next scan records all again.
  Status ForgetUnsynced();
  const std::string& path() const { return db_->path(); }
  // The database's size in pages, and a cap on it (SQLite's max_page_count, for this
  // connection): a write that would grow the database past the cap fails as on a full disk
  // (kResourceExhausted "sqlite_full"). For fault tests.
  StatusOr<int64_t> PageCount();
  Status LimitPages(int64_t pages);
  Status SetMeta(const std::string& key, const std::string& value);
  StatusOr<std::string> GetMeta(const std::string& key);

 private:
  explicit StateDb(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}
  std::unique_ptr<SqliteDb> db_;
};

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_SYNC_STATE_DB_H_
