// FileBlobStore: the single-node BlobStore of a data directory, an IndexedBlobStore over
// an SQLite index (SqliteObjectIndex) and one file per object version (FileByteStore).
#ifndef CARDVAULT_STORAGE_FILE_BLOB_STORE_H_
#define CARDVAULT_STORAGE_FILE_BLOB_STORE_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/env.h"
#include "storage/indexed_blob_store.h"

namespace cardvault {

// Layout under the data directory (unchanged since the first release; a data directory an
// older release wrote opens and migrates in place):
//   index.db            the object index (SqliteObjectIndex: SQLite, WAL, synchronous=FULL)
//   tmp/<random>.part   uploads in progress (removed at Open: they were never visible)
//   blobs/xx/<random>   committed versions, named by the server (never by the client)
//   quarantine/         damaged objects' bytes moved aside by Check (never read again)
// Objects up to inline_max_bytes are kept in the index row itself. Everything else
// (checks, publish after durable, group commit, retention, damage) is IndexedBlobStore's.
// The store MUST outlive every PendingPut and BlobReader it returned.
class FileBlobStore final : public IndexedBlobStore {
 public:
  // Creates the directories if missing, opens and migrates the index and removes
  // leftover temporary files. `env` MUST outlive the store.
  static StatusOr<std::unique_ptr<FileBlobStore>> Open(Env* env, const std::string& data_dir,
                                                       Options options);
  using IndexedBlobStore::Open;  // an object, as every BlobStore

  // Gives `user` a quota of their own (nullopt: back to Options::quota_bytes), in the index
  // under `data_dir`. Safe while a server runs on that directory: it opens only the index,
  // and the next upload sees the new quota.
  static Status SetUserQuota(const std::string& data_dir, std::string_view user,
                             std::optional<uint64_t> quota_bytes);

  // IndexedBlobStore::Check on the data directory `data_dir`. Opens only the index and the
  // files, so it MAY run while a server serves the directory (a quarantine is one index
  // update the server sees at its next request). kFailedPrecondition "no_index" if
  // `data_dir` has no index.db.
  static StatusOr<CheckSummary> Check(
      Env* env, const std::string& data_dir, const CheckOptions& options,
      const std::function<void(const DamagedObject&)>& on_damaged = {});

 private:
  using IndexedBlobStore::IndexedBlobStore;
};

}  // namespace cardvault

#endif  // CARDVAULT_STORAGE_FILE_BLOB_STORE_H_
