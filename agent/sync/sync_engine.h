// SyncEngine: the agent's pipeline from a changed file to a confirmed upload:
// detect -> hash -> encrypt to the spool -> upload -> confirm -> clean the spool, each
// step committed in the StateDb before the next begins. A large file is uploaded while it is
// encrypted, and its upload completes only after its encrypted step is committed.
#ifndef CARDVAULT_AGENT_SYNC_SYNC_ENGINE_H_
#define CARDVAULT_AGENT_SYNC_SYNC_ENGINE_H_

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/sync/state_db.h"
#include "agent/watch/ignore_rules.h"
#include "api/object_client.h"
#include "core/recipient.h"
#include "core/x25519_recipient.h"

namespace cardvault {

struct SyncEngineOptions {
  std::string vault_dir;  // absolute
  std::string spool_dir;  // encrypted files waiting for upload (same file system as state)
  // The card recipients every epoch key object is wrapped to (primary card, backups,
  // recovery key), and their text forms, which identify the set: a change starts an epoch.
  std::vector<std::shared_ptr<Recipient>> card_recipients;
  std::vector<std::string> recipient_strings;
  IgnoreRules ignore;
  Env* env = nullptr;  // Env::Default() when null
  // Back-off for retryable upload errors: base * 2^attempts, capped, with +-25% jitter.
  int64_t retry_base_ns = 1'000'000'000;
  int64_t retry_max_ns = 300'000'000'000;
  // A file at least this large is streamed: written as a format v2 blob into the spool and,
  // at the same time, to the server, which publishes it only once the spool file is durable
  // and recorded (the upload's last byte is held back until then). Smaller files are
  // encrypted in batches first (format v1) and then uploaded over every connection.
  uint64_t stream_from_bytes = 8 << 20;
  // A file at most this large (and every deletion record) is spooled in the state database,
  // committed with its encrypted step, instead of in a spool file of its own: a file per
  // small blob costs more in file creation and deletion than its encryption and upload.
  uint64_t spool_in_db_up_to = 64 << 10;
};

// Something that happened, for the control channel and the logs.
struct SyncEvent {
  std::string type;  // "file_queued", "file_uploaded", "file_failed", "file_retry", "skipped"
  std::string path;
  std::string detail;
};

// Object ids on the server: a version's blob gets a random id chosen when it is encrypted
// (recorded before the upload, so retries reuse it and create-only makes them idempotent).
// An epoch's key object gets hex(epoch id) followed by 48 hex digits of
// SHA-256("cardvault key object" || epoch public key), so a restore reads the epoch id off
// the listing.
std::string KeyObjectId(const X25519Recipient& epoch);

class SyncEngine {
 public:
  using EventSink = std::function<void(const SyncEvent&)>;

  // `db` and `client` MUST outlive the engine. Not thread-safe: one caller at a time.
  static StatusOr<std::unique_ptr<SyncEngine>> New(StateDb* db, ObjectClient* client,
                                                   SyncEngineOptions options);

  void set_event_sink(EventSink sink) { sink_ = std::move(sink); }
  // When set and true, ProcessDue returns once the uploads in flight finish (a clean stop).
  void set_stop_flag(const std::atomic<bool>* stop) { stop_ = stop; }
  // More connections to the same server: ProcessDue uploads a batch over all of them at
  // once. They MUST outlive the engine and MUST NOT be used by anyone else meanwhile.
  void AddUploadClient(ObjectClient* client) { upload_clients_.push_back(client); }

  // Guards against a second copy of a vault. A state database that may not upload yet
  // (StateDb::MayUpload: a new one, e.g. the state directory was deleted or replaced) asks
  // the server once for its key objects: none, and it passes for good (recorded in the
  // database); some, which another state database wrote, and nothing may be recorded,
  // encrypted or uploaded (every file would be stored a second time): kFailedPrecondition
  // "vault_already_on_server", saying what happened and to run `cardvault adopt` (which
  // records the files that match the server, after which this passes); what a scan recorded
  // meanwhile is forgotten. A refusal is asked again after kVaultRecheckNs. ProcessDue fails
  // with a refusal (a retryable error makes what is due wait for a retry, as a failed upload
  // would); Detect and Rescan too, and go on when the server cannot be asked.
  Status CheckVaultOnServer();

  // Looks at one path (relative to the vault): queues a new version if its content or
  // mode changed, a deletion if it is gone, nothing if it is unchanged. A directory is
  // recorded by DetectDirectory. `force` re-hashes
  // even when size, mtime and inode match.
  Status Detect(const std::string& path, bool force = false);
  // Queues a version of the directory `path` (its mode) if it is new or its mode changed.
  Status DetectDirectory(const std::string& path, const FileInfo& info);
  // Records the deletion of a path, or of every file and directory under a directory.
  Status DetectRemoved(const std::string& path, bool is_directory);
  // Scans the whole vault: Detect for every file and directory, DetectRemoved for every
  // recorded one no longer there (catches changes made while the agent was stopped).
  Status Rescan();
  // Queues again the files whose latest version failed with a permanent error (after the
  // cause was fixed: `cardvault sync`, `sync --once`). Returns how many.
  StatusOr<int> RetryFailed();

  struct PassResult {
    int uploaded = 0;
    int retrying = 0;  // waiting for a retry after a retryable error
    int failed = 0;    // permanent errors recorded this pass
  };
  // Works through every version due by now, in batches of kBatchSize: stream the large
  // queued files one by one (StreamOne); encrypt the other queued ones into the spool, make
  // the batch durable with one file system flush, record it, upload the epoch key objects
  // it needs, then its blobs over every connection at once while the next batch is
  // encrypted, and record each outcome. Returns when none is due (versions waiting for a
  // retry are left for a later pass).
  StatusOr<PassResult> ProcessDue();

  // Since when (wall clock, ns) the server has not been reached: set by an upload that
  // failed without an answer (reason "network"), cleared by one that succeeds or by a probe.
  std::optional<int64_t> unreachable_since() const { return unreachable_since_ns_; }
  // A cheap request that tells whether the server answers (GET /v1/health); without one,
  // ProbeServer never reports the server back.
  void set_health_probe(std::function<Status()> probe) { health_probe_ = std::move(probe); }
  // While the server is unreachable, the back-off of the waiting uploads may grow to
  // minutes: callers probe it every kProbeIntervalNs instead. When it answers, every
  // waiting version is due at once (its back-off starts afresh) and this returns true.
  static constexpr int64_t kProbeIntervalNs = 10'000'000'000;
  StatusOr<bool> ProbeServer();

  // When the next retry is due, if any version waits for one.
  StatusOr<std::optional<int64_t>> NextRetryTime() { return db_->NextRetryTime(); }

 private:
  SyncEngine(StateDb* db, ObjectClient* client, SyncEngineOptions options);
  static constexpr size_t kBatchSize = 64;
  static constexpr long kSyncEachUpTo = 4;  // batches this small fsync each file instead
  // Encrypts a queued version into a new spool file without fsync, or for a small one into
  // v.spool_blob (spool path kSpoolInStateDb), and fills in its object id, epoch, spool
  // path, blob hash and size; the spool path stays empty when the version was superseded or
  // the file changed or vanished (re-detected instead).
  // With `sync_each`, the spool file is fsynced by itself (a batch of a few files, or every
  // batch where the file system cannot be flushed at once, as on Windows).
  Status Spool(VersionRecord& v, bool sync_each);
  // Fsyncs a written spool file and the spool directory. On failure removes the file and
  // returns kSpoolNotDurable (disk full: kResourceExhausted): the caller MUST stop the pass
  // with nothing of it recorded, as for a failed flush of a batch, not fail the vault file.
  Status SyncSpoolFile(const std::string& spool, uint64_t size);
  static constexpr std::string_view kSpoolNotDurable = "spool_not_durable";
  // Removes a version's spool file; nothing for one spooled in the state database (its blob
  // goes with its state) or none.
  void RemoveSpoolFile(const std::string& spool_path);
  // Encrypts a queued large file into the spool (format v2) while the first connection
  // uploads the same bytes; fsyncs the spool file and records the version as encrypted, and
  // only then lets the upload finish (its last byte is held back: a crash before leaves
  // nothing on the server), then records the outcome. A file that changed or vanished is
  // detected again instead. Needs no upload in flight on the first connection.
  Status StreamOne(VersionRecord& v, PassResult& result);
  // The epoch of this engine's recipients (created on first use).
  Status LoadEpoch();
  // A fresh random object id for a version's blob.
  StatusOr<std::string> NewObjectId();
  // Whether an encryption of `v`'s file got the version Detect recorded (same size, mode
  // and content; a file not hashed before MUST also still have Detect's size and mtime, and
  // then takes the encryption's hash). If not, the file changed: detect it again.
  bool StillAsDetected(VersionRecord& v, const format::Metadata& encrypted);
  // Flushes the spool's file system once (unless each file was fsynced already), then
  // records every spooled version as encrypted. On failure the unrecorded spool files are
  // removed.
  Status RecordSpooled(std::vector<VersionRecord*>& spooled, bool synced_each);
  // Uploads one encrypted version over `client` from its spool file or v.spool_blob; on
  // success v.blob_sha256 holds the blob's SHA-256, computed while sending. Thread-safe:
  // touches only `v` and no engine state.
  Status PutBlob(ObjectClient& client, VersionRecord& v);
  // Records the outcome of an upload: uploaded, retry later, requeue or failed.
  Status FinishUpload(VersionRecord& v, const Status& s, PassResult& result);
  struct UploadJob;
  // Uploads the epoch key objects the versions need (on this thread), then starts their
  // blobs on a thread per connection.
  void StartUploads(std::vector<VersionRecord> encrypted, std::unique_ptr<UploadJob>& job);
  // Waits for `job` (if any) and records each outcome in one transaction.
  Status FinishUploads(std::unique_ptr<UploadJob>& job, PassResult& result);
  bool Stopping() const;
  StatusOr<EpochRecord> CurrentEpoch();
  Status EnsureEpochUploaded(const Bytes& epoch_id);
  void Emit(const std::string& type, const std::string& path, const std::string& detail = {});

  static constexpr int64_t kVaultRecheckNs = 30'000'000'000;
  // CheckVaultOnServer, but a server that cannot be asked now does not stop the recording.
  Status CheckVaultBeforeRecording();
  enum class VaultCheck { kNotYet, kPassed, kRefused };
  VaultCheck vault_check_ = VaultCheck::kNotYet;
  Status vault_refusal_;
  int64_t vault_checked_ns_ = 0;

  std::optional<int64_t> unreachable_since_ns_;
  std::function<Status()> health_probe_;

  StateDb* db_;
  ObjectClient* client_;
  std::vector<ObjectClient*> upload_clients_;
  std::optional<std::pair<EpochRecord, X25519Recipient>> epoch_;  // set by the first Spool
  SyncEngineOptions options_;
  Env* env_;
  std::string recipients_hash_;
  EventSink sink_;
  // Env::CanSyncFileSystem of the spool: when false, each spool file is fsynced by itself.
  bool sync_file_system_ = true;
  const std::atomic<bool>* stop_ = nullptr;
};

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_SYNC_SYNC_ENGINE_H_
