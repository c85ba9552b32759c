// IndexedBlobStore: BlobStore composed from an ObjectIndex and a ByteStore.
#ifndef CARDVAULT_STORAGE_INDEXED_BLOB_STORE_H_
#define CARDVAULT_STORAGE_INDEXED_BLOB_STORE_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/env.h"
#include "storage/blob_store.h"
#include "storage/byte_store.h"
#include "storage/object_index.h"

namespace cardvault {

// What every backend gets once, whatever its index and byte store:
// - the checks of BlobStore (ids, digests, sizes, create-only, quota and storage limit),
//   made before an upload's first byte and again inside the index transaction that
//   publishes it;
// - publish after durable: an object of more than inline_max_bytes is written to the byte
//   store and committed there (durable) before the index records it; a crash in between
//   leaves an unlisted orphan that SweepOrphans removes, never a listed object without its
//   bytes. A smaller one is kept in the index row: durable when the index commits;
// - group commit: puts and deletes that arrive while the index is busy share one index
//   transaction (ObjectIndex::WriteBatch), each with its own checks and result;
// - soft deletes and retention: replaced and deleted versions stay for retention_seconds
//   and count against the storage limit until PurgeExpired removes them;
// - damage: an object whose stored bytes do not match its index row (another size, missing
//   bytes, marked damaged by Check) is never read as if whole: Open fails with kCorrupt
//   "object_damaged" (the message names the id and the sizes, never a key or path), and
//   bytes that end early while read fail ReadAt the same way.
// Thread-safe. The index and the byte store MUST outlive the store's PendingPuts and
// BlobReaders (the store owns them).
class IndexedBlobStore : public BlobStore {
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
    // Objects of at most this many bytes are kept inside the index (committed with others
    // in a group) instead of in the byte store. SQLite reads blobs below about 100 KB
    // faster from the database than from separate files.
    uint64_t inline_max_bytes = 64 * 1024;
  };

  // `env` (clock) MUST outlive the store.
  IndexedBlobStore(Env* env, std::unique_ptr<ObjectIndex> index, std::unique_ptr<ByteStore> bytes,
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
  // The index's probe, then the byte store's.
  Status Probe() override;

  // Removes the bytes and then the index records of versions deleted or replaced more than
  // retention_seconds before `now_unix`. Returns how many were purged.
  StatusOr<size_t> PurgeExpired(int64_t now_unix);

  // Removes stored bytes that no index record names and that were last written more than
  // `min_age_seconds` before `now_unix` (younger ones may belong to a put between its byte
  // commit and its index commit). Returns how many were removed.
  StatusOr<size_t> SweepOrphans(int64_t now_unix, int64_t min_age_seconds = 3600);

  // One damaged live object found by Check.
  struct DamagedObject {
    std::string user;
    std::string id;
    // "missing" (no bytes), "size" (stored length differs from the index), "sha256" (same
    // length, other content) or "quarantined" (marked damaged by an earlier check).
    std::string problem;
    std::string detail;            // what was expected and found, for people
    bool quarantined_now = false;  // moved aside by this check (CheckOptions::quarantine)
  };
  struct CheckOptions {
    // Moves each damaged object's bytes aside (ByteStore::Quarantine) and marks its index
    // record damaged: it stays (listed, counted in the quota), Open answers "object_damaged".
    bool quarantine = false;
  };
  struct CheckSummary {
    uint64_t objects = 0;  // live objects checked
    uint64_t bytes = 0;    // bytes hashed
    std::vector<DamagedObject> damaged;
  };
  // Verifies every live object of `index` against its bytes in `bytes`: size, then SHA-256,
  // hashing each as a stream (memory does not grow with object size). Reads the index a
  // page at a time, so it MAY run beside a server on the same index and byte store.
  // `on_damaged`, if set, is called for each damaged object as it is found. Not OK only if
  // the check itself could not run.
  static StatusOr<CheckSummary> Check(
      ObjectIndex& index, ByteStore& bytes, const CheckOptions& options,
      const std::function<void(const DamagedObject&)>& on_damaged = {});

  const Options& options() const { return options_; }

 private:
  class Pending;
  class Checker;  // Check's walk over the index (blob_store_check.cc)
  // One write waiting for the index (group commit, see CommitInGroup).
  struct QueuedWrite {
    const IndexStep* step;
    Status result = InternalError("not committed");
    bool done = false;
    std::condition_variable cv;
  };

  // Runs `step` in an index transaction shared with every other write queued meanwhile:
  // one transaction, one flush of the index for the whole group.
  Status CommitInGroup(const IndexStep& step);
  // Records a complete, checked upload (its bytes inline in `data`, or committed to the
  // byte store under `byte_key`) as the live version; see PendingPut::Commit.
  StatusOr<ObjectInfo> Publish(const std::string& user, const std::string& id,
                               const PutOptions& options, const std::string& byte_key,
                               const Bytes* data);
  // The checks of a put against the live version it would replace and the user's usage.
  Status CheckPut(const std::optional<IndexedVersion>& existing, const UserUsage& usage,
                  const PutOptions& options) const;
  // Live plus retained bytes allowed for a user with `quota` (see Options).
  uint64_t StorageLimit(uint64_t quota) const;
  // Opens a reader of the first `end` bytes of `v` (its whole size for Open).
  StatusOr<std::unique_ptr<BlobReader>> OpenVersion(IndexedVersion v, uint64_t end);
  int64_t NowUnix() { return env_->NowUnixNanos() / 1000000000; }

  Env* env_;
  std::unique_ptr<ObjectIndex> index_;
  std::unique_ptr<ByteStore> bytes_;
  Options options_;
  std::mutex queue_mu_;                   // guards write_queue_
  std::deque<QueuedWrite*> write_queue_;  // front: the group leader
};

}  // namespace cardvault

#endif  // CARDVAULT_STORAGE_INDEXED_BLOB_STORE_H_
