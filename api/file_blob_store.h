// FileBlobStore: BlobStore with one file per object version and an SQLite (WAL) index.
#ifndef CARDVAULT_API_FILE_BLOB_STORE_H_
#define CARDVAULT_API_FILE_BLOB_STORE_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/blob_store.h"
#include "core/env.h"
#include "storage/sqlite_db.h"

namespace cardvault {

// Layout under the data directory:
//   index.db            the object index (SQLite, WAL, synchronous=FULL)
//   tmp/<random>.part   uploads in progress (removed at Open: they were never visible)
//   blobs/xx/<random>   committed versions, named by the server (never by the client)
//   quarantine/         damaged objects' bytes moved aside by Check (never read again)
// Objects up to inline_max_bytes are kept in the index row itself: their put is durable
// when the index transaction commits. A larger put writes tmp, fsyncs it, renames it into blobs/,
// fsyncs that directory and only then inserts the index row, so a crash at any point leaves either
// the old state or the new one; a crash between rename and index commit leaves an unlisted orphan
// file (removed later by SweepOrphans). Replaced and deleted versions stay on disk for
// `retention_seconds` (PurgeExpired). Thread-safe. The store MUST outlive every PendingPut and
// BlobReader it returned.
//
// Damage: an object whose stored bytes do not match its index row (a file shorter or longer
// than the row's size, a missing file, an inline row whose bytes differ in length, or one
// marked damaged by Check) is never read as if whole: Open fails with kCorrupt
// "object_damaged" (the message names the id and the sizes, never a path), and a file
// that shrinks while it is read fails its ReadAt the same way.
class FileBlobStore final : public BlobStore {
 public:
  struct Options {
    uint64_t max_object_bytes = uint64_t{4} << 30;  // 4 GiB
    uint64_t quota_bytes = uint64_t{100} << 30;     // per user, live bytes
    // Live bytes plus the bytes of deleted and replaced versions not yet purged may reach
    // the quota plus this percentage of it, per user; beyond: 507
    // "retained_quota_exceeded". So no sequence of puts and deletes puts more than
    // (100 + retained_quota_percent)% of a user's quota on disk.
    uint64_t retained_quota_percent = 100;
    int64_t retention_seconds = 7 * 24 * 3600;
    // Objects of at most this many bytes are stored inside the index (one WAL append,
    // committed with others in a group) instead of as files. SQLite reads blobs below
    // about 100 KB faster from the database than from separate files.
    uint64_t inline_max_bytes = 64 * 1024;
  };

  // Creates the directories if missing, opens and migrates the index and removes
  // leftover temporary files. `env` MUST outlive the store.
  static StatusOr<std::unique_ptr<FileBlobStore>> Open(Env* env, const std::string& data_dir,
                                                       Options options);

  StatusOr<std::unique_ptr<PendingPut>> BeginPut(std::string_view user, std::string_view id,
                                                 const PutOptions& options) override;
  StatusOr<std::unique_ptr<BlobReader>> Open(std::string_view user, std::string_view id) override;
  StatusOr<std::unique_ptr<BlobReader>> OpenPrefix(std::string_view user, std::string_view id,
                                                   uint64_t end) override;
  StatusOr<ObjectInfo> Head(std::string_view user, std::string_view id) override;
  Status Delete(std::string_view user, std::string_view id) override;
  StatusOr<ListPage> List(std::string_view user, const ListOptions& options) override;
  StatusOr<uint64_t> UsedBytes(std::string_view user) override;
  StatusOr<uint64_t> QuotaBytes(std::string_view user) override;

  // Gives `user` a quota of their own (nullopt: back to Options::quota_bytes), in the index
  // under `data_dir`. Safe while a server runs on that directory: it opens only the index,
  // and the next upload sees the new quota.
  static Status SetUserQuota(const std::string& data_dir, std::string_view user,
                             std::optional<uint64_t> quota_bytes);

  // Removes the files and index rows of versions deleted or replaced more than
  // retention_seconds ago (relative to `now_unix`). Returns how many were purged.
  StatusOr<size_t> PurgeExpired(int64_t now_unix);

  // Removes files under blobs/ that no index row names and that were last written more
  // than `min_age_seconds` before `now_unix` (younger ones may belong to a put between
  // its rename and its index commit). Such orphans are left by a crash in that window.
  // Returns how many were removed.
  StatusOr<size_t> SweepOrphans(int64_t now_unix, int64_t min_age_seconds = 3600);

  // One damaged live object found by Check.
  struct DamagedObject {
    std::string user;
    std::string id;
    // "missing" (no file), "size" (stored length differs from the index), "sha256" (same
    // length, other content) or "quarantined" (marked damaged by an earlier check).
    std::string problem;
    std::string detail;            // what was expected and found, for people
    bool quarantined_now = false;  // moved aside by this check (CheckOptions::quarantine)
  };
  struct CheckOptions {
    // Moves each damaged object's bytes to quarantine/ and marks its index row damaged:
    // the row stays (listed, counted in the quota), Open answers "object_damaged".
    bool quarantine = false;
  };
  struct CheckSummary {
    uint64_t objects = 0;  // live objects checked
    uint64_t bytes = 0;    // bytes hashed
    std::vector<DamagedObject> damaged;
  };
  // Verifies every live object under `data_dir` against its index row: size, then SHA-256,
  // hashing each file as a stream (memory does not grow with object size). Opens only the
  // index, so it MAY run while a server serves the directory (rows are read in short
  // transactions; a quarantine is one index update the server sees at its next request).
  // `on_damaged`, if set, is called for each damaged object as it is found. Not OK only if
  // the check itself could not run (the index, or an I/O error other than a missing file).
  static StatusOr<CheckSummary> Check(
      Env* env, const std::string& data_dir, const CheckOptions& options,
      const std::function<void(const DamagedObject&)>& on_damaged = {});

  const Options& options() const { return options_; }

 private:
  class Pending;
  class Checker;  // Check's walk over the index (file_blob_store_check.cc)
  struct Row {
    ObjectInfo info;
    std::string file;        // empty for an inline object
    bool is_inline = false;  // the bytes are in the row's data column
    Bytes data;              // those bytes, when asked for
    std::string damaged;     // non-empty: marked damaged by Check (what was wrong)
  };
  struct Usage {
    uint64_t used;      // live bytes
    uint64_t quota;     // the user's own quota, or Options::quota_bytes
    uint64_t retained;  // bytes of deleted and replaced versions not purged yet
  };
  // Live plus retained bytes allowed for a user with `quota` (see Options).
  uint64_t StorageLimit(uint64_t quota) const;

  FileBlobStore(Env* env, std::string data_dir, Options options, std::unique_ptr<SqliteDb> db)
      : env_(env), data_dir_(std::move(data_dir)), options_(options), db_(std::move(db)) {}

  // Finishes a put whose bytes are complete in `tmp_path`; see PendingPut::Commit.
  StatusOr<ObjectInfo> CommitPut(const std::string& user, const std::string& id,
                                 const PutOptions& options, const std::string& tmp_path);
  // One put waiting for its index row to be committed (group commit, see CommitPut).
  struct IndexWrite {
    const std::string* user;
    const std::string* id;
    const PutOptions* options;
    std::string file;             // the blob's file name under blobs/ (empty if inline)
    const Bytes* data = nullptr;  // the object's bytes for an inline object
    StatusOr<ObjectInfo> result = InternalError("not committed");
    bool done = false;
    std::condition_variable cv;
  };
  // Commits `w` together with every other write queued meanwhile: one transaction, one
  // fsync of the index for the whole group. Each write keeps its own checks and result.
  StatusOr<ObjectInfo> CommitIndexWrite(IndexWrite& w);
  // The checks and row changes of one write, inside the group's transaction; mu_ held.
  StatusOr<ObjectInfo> ApplyIndexWriteLocked(const IndexWrite& w, int64_t now);
  StatusOr<Row> FindLiveLocked(std::string_view user, std::string_view id, bool with_data = false);
  StatusOr<Usage> UsageLocked(std::string_view user);
  // The checks of a put (create-only, quota with the replaced version's bytes freed);
  // returns the live version it would replace, if any.
  StatusOr<std::optional<Row>> CheckPutLocked(std::string_view user, std::string_view id,
                                              const PutOptions& options);
  // The index under `data_dir`, opened and migrated.
  static StatusOr<std::unique_ptr<SqliteDb>> OpenIndex(const std::string& data_dir);
  static std::string BlobPathIn(const std::string& data_dir, const std::string& file);
  std::string BlobPath(const std::string& file) const { return BlobPathIn(data_dir_, file); }
  int64_t NowUnix() { return env_->NowUnixNanos() / 1000000000; }

  Env* env_;
  std::string data_dir_;
  Options options_;
  std::mutex mu_;  // guards db_ (one connection, multi-statement transactions)
  std::unique_ptr<SqliteDb> db_;
  std::mutex queue_mu_;                  // guards write_queue_
  std::deque<IndexWrite*> write_queue_;  // front: the group leader
};

}  // namespace cardvault

#endif  // CARDVAULT_API_FILE_BLOB_STORE_H_
