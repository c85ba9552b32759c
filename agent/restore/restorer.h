// Restorer: rebuilds a vault folder from the server alone plus the card: lists the key
// objects and blobs, decrypts every blob's metadata, and restores chosen versions.
#ifndef CARDVAULT_AGENT_RESTORE_RESTORER_H_
#define CARDVAULT_AGENT_RESTORE_RESTORER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/object_client.h"
#include "core/env.h"
#include "core/format.h"
#include "core/identity.h"
#include "core/key_epoch.h"

namespace cardvault {

// One version of one path on the server (a file's content or a deletion marker).
struct RemoteVersion {
  std::string object_id;
  format::Metadata metadata;
  int64_t uploaded_unix = 0;  // the server's creation time
  uint64_t blob_size = 0;
  // Not ok when the object is damaged or unreadable on the server (cut short, a failed
  // trailer or chunk, missing bytes): its path and times come from its intact header, but
  // its content cannot be restored. Select() still picks it as the path's version, so an
  // older version is never placed in its stead unless the caller asks (allow_older).
  Status damage;
  bool damaged() const { return !damage.ok(); }
};

enum class ConflictPolicy {
  kKeepBoth,   // restore beside it as "NAME (restored YYYY-MM-DD).EXT"
  kOverwrite,  // replace the local file
  kSkip,       // leave the local file, restore nothing
};

struct RestoreOptions {
  std::string target_dir;          // created if missing
  std::vector<std::string> globs;  // fnmatch(3) on the relative path (or a directory prefix)
  std::optional<int64_t> at_ns;    // the state as of this time (versions recorded by then)
  bool include_deleted = false;    // paths whose latest version is a deletion: last content
  std::string version_id;          // a prefix of one version's object id: only that version
  ConflictPolicy conflict = ConflictPolicy::kKeepBoth;
  // A path whose chosen version is damaged gets the newest intact version before it
  // instead of a failure. Off by default: an older secret is never restored silently.
  bool allow_older = false;
};

struct RestoreFailure {
  std::string what;  // the path, or the object id when even the metadata is unreadable
  Status status;
  std::string object_id;  // the version's object, when known
  bool damaged = false;   // the object is damaged or unreadable on the server
};

struct RestoreProgress {
  uint64_t files_done = 0, files_total = 0;
  uint64_t bytes_done = 0, bytes_total = 0;
  std::string path;  // the file just finished
};

struct RestoreSummary {
  uint64_t restored = 0;     // files written
  uint64_t directories = 0;  // directories given their recorded mode and mtime
  uint64_t identical = 0;    // already present with the same SHA-256: skipped
  uint64_t skipped = 0;      // a different local file kept (kSkip)
  uint64_t bytes_written = 0;
  uint64_t bytes_downloaded = 0;  // fetched to restore files (the listing not counted)
  std::vector<std::pair<std::string, std::string>> renamed;  // path -> name written (kKeepBoth)
  std::vector<RestoreFailure> failures;                      // listing and restore failures
};

// Works against an ObjectClient and the card's Identity; no CLI. Not thread-safe (it runs
// threads of its own: Load fetches and unwraps over the fetch clients, Restore writes
// files held in memory from several threads; only one thread ever uses the card).
// Lifetime: `client`, `card` and `env` MUST outlive the Restorer.
//
// Contract:
// - Load() lists key objects first, then every blob, reading only the header and metadata
//   of blobs above kWholeFetchLimit (smaller ones are fetched whole in the same request and
//   kept for Restore). Each epoch key object is opened by the card at most once, so the
//   card does exactly one private-key operation per epoch in use.
// - If the card can open none of the key objects, Load() fails with kPermissionDenied
//   "wrong_card" naming the key ids the vault expects; card/PIN errors stop it unchanged.
//   A blob that is damaged or whose epoch is unknown is recorded in load_failures().
// - Restore() writes nothing outside target_dir: it refuses absolute paths, "..", and
//   paths through symlinks. Every file is decrypted to a temporary name and renamed only
//   after its content hash verified, then gets the recorded mode and mtime. A local file
//   with the same SHA-256 is left alone (a rerun resumes); a different one is handled by
//   options.conflict. A failure is recorded by path and the restore goes on.
class Restorer {
 public:
  static constexpr uint64_t kWholeFetchLimit = 64 * 1024;

  Restorer(ObjectClient* client, Identity* card, Env* env);
  ~Restorer();

  // More connections to the same server for Load() to fetch blobs in parallel, one thread
  // each. They MUST outlive the Restorer and MUST NOT be used by anyone else during Load().
  void AddFetchClient(ObjectClient* client) { fetch_clients_.push_back(client); }

  // Call once, before anything else below.
  Status Load();

  // Every version by path, oldest first: by VersionTime, then upload time, then id.
  const std::map<std::string, std::vector<RemoteVersion>>& history() const { return history_; }
  const std::vector<RestoreFailure>& load_failures() const { return load_failures_; }
  // Object ids of blobs whose epoch this identity cannot open (another card's or a
  // recovery key's epochs): not damaged, only out of this identity's reach.
  const std::vector<std::string>& unopenable() const { return unopenable_; }
  // Calls made to the card identity that returned a key (one per opened epoch).
  uint64_t card_unwraps() const { return card_unwraps_; }
  size_t epochs() const { return epoch_ids_.size(); }
  // Blobs of a kind this version does not know (written by a later one): not restored.
  uint64_t unknown_kinds() const { return unknown_kinds_; }
  // The key ids the key objects are wrapped to (cards, backups), known once Load() has
  // listed the key objects, i.e. before the card is first asked.
  const std::vector<Bytes>& card_key_ids() const { return card_key_ids_; }

  // What Restore would write: one version per selected path. kNotFound if version_id
  // matches nothing, kInvalidArgument if it matches several versions.
  StatusOr<std::vector<RemoteVersion>> Select(const RestoreOptions& options) const;

  StatusOr<RestoreSummary> Restore(
      const RestoreOptions& options,
      const std::function<void(const RestoreProgress&)>& progress = {});

 private:
  class CardGuard;
  // Opens every key object with the card right after the listing (the PIN is asked here,
  // once): a card that holds none of them is "wrong_card" before any file is fetched.
  Status OpenEpochs();
  Status WrongCardError(const Status& miss) const;
  struct Prepared;
  Status LoadBlob(const ObjectInfo& info, Prepared prepared);
  // Files a blob whose file key is known under its path (or records why it cannot be).
  Status Record(const ObjectInfo& info, SecretData file_key, StatusOr<format::Metadata> metadata,
                Bytes fetched, Status damage);
  // A key object that is damaged or gone: a failure, and its epoch remembered so that the
  // files of that epoch are named as unreadable because of it. `id` may be empty.
  void NoteDamagedKeyObject(const std::string& id, const Bytes& hint, const Status& status);
  // A blob whose file key the identity cannot unwrap: of a damaged epoch, of an epoch out
  // of this identity's reach (unopenable), or with a damaged header.
  Status NoteUnopened(const ObjectInfo& info, const format::Header& header, const Status& status);
  // The failure of a damaged version chosen for its path, naming the newest intact version
  // before it (which only --allow-older or --version restores).
  RestoreFailure DamagedFailure(const RemoteVersion& v) const;
  // The newest version of v's path before v that is not known to be damaged, of v's kind.
  const RemoteVersion* OlderIntact(const RemoteVersion& v) const;
  // Creates `path` (relative, checked) and its parents under `target` where missing,
  // refusing symlinks and non-directories on the way. Returns whether `path` was created.
  StatusOr<bool> MakeDirectory(const std::string& target, std::string_view path);
  Status RestoreOne(const RestoreOptions& options, const RemoteVersion& version,
                    const std::string& staging, RestoreSummary& summary);
  // Decrypts the blob `object_id` from `source` (with the file key Load unwrapped for it)
  // to a temporary name beside target/rel, renamed into place only after the final chunk
  // and the content hash verified, with the recorded mode and mtime. The rename walks
  // rel's directories from `target` without following a symlink (Env::RenameInside), so a
  // directory swapped for a symlink at any moment cannot take the file outside. No fsync
  // here: Restore() flushes the file system once at the end.
  StatusOr<format::Metadata> DecryptToPath(const std::string& object_id, SequentialFile& source,
                                           const std::string& target, const std::string& rel);
  // Downloads a large blob and decrypts it as it arrives into `part` (the plaintext so
  // far, kept for a resume), which is renamed to target/rel as DecryptToPath does once the
  // final chunk and the content hash verified. Resumes after the whole chunks an earlier
  // run left in `part` (downloading from the next one with a Range request) and starts
  // over if those turn out damaged. A transient download failure is retryable and leaves
  // `part` for the next run.
  StatusOr<format::Metadata> DownloadAndDecrypt(const RemoteVersion& version,
                                                const std::string& part, const std::string& target,
                                                const std::string& rel, RestoreSummary& summary);
  StatusOr<format::Metadata> DecryptFromServer(const RemoteVersion& version,
                                               const std::string& part, uint64_t first_chunk,
                                               RestoreSummary& summary);

  ObjectClient* client_;
  std::vector<ObjectClient*> fetch_clients_;
  Env* env_;
  std::unique_ptr<CardGuard> guard_;
  EpochKeyring keyring_;
  std::vector<Bytes> epoch_ids_;
  std::vector<Bytes> card_key_ids_;  // from the key objects' stanzas
  uint64_t card_unwraps_ = 0;
  uint64_t unknown_kinds_ = 0;
  // Set by Restore: the file system cannot be flushed at once here (Env::CanSyncFileSystem),
  // so every file is synced before its rename.
  bool sync_each_file_ = false;
  std::map<std::string, std::vector<RemoteVersion>> history_;
  std::map<std::string, Bytes> whole_blobs_;     // object id -> blob fetched by Load
  std::map<std::string, SecretData> file_keys_;  // object id -> its file key (wiped)
  std::vector<RestoreFailure> load_failures_;
  std::vector<std::string> unopenable_;
  std::vector<Bytes> damaged_epochs_;  // hints (8 bytes) of key objects that are damaged
};

// When a version was recorded by the agent that wrote it: its metadata's `recorded` entry,
// or for a blob written before that entry existed, its mtime.
int64_t VersionTime(const format::Metadata& m);

// "NAME (restored YYYY-MM-DD).EXT" for `path` (the extension is kept; a leading dot is not
// an extension).
std::string RestoredName(const std::string& path, const std::string& date);

// Checks a path from metadata: relative, '/'-separated, no empty, "." or ".." component.
Status CheckRelativePath(const std::string& path);

// A --at time in nanoseconds since the Unix epoch: "@SECONDS", "YYYY-MM-DD" (the end of
// that day), "YYYY-MM-DDTHH:MM[:SS]" (or with a space); local time, or UTC with a final 'Z'.
StatusOr<int64_t> ParseRestoreTime(const std::string& text);

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_RESTORE_RESTORER_H_
