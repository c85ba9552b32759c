// DataDirSource: a single-node server's data directory opened as the source of a migration
// (StoreMigration), without changing anything in it.
#ifndef CARDVAULT_STORAGE_DATA_DIR_SOURCE_H_
#define CARDVAULT_STORAGE_DATA_DIR_SOURCE_H_

#include <memory>
#include <string>

#include "core/env.h"
#include "storage/data_dir_lock.h"
#include "storage/store_migration.h"

namespace cardvault {

// Holds the directory's DataDirLock exclusively (so no `serve` runs on it meanwhile), copies
// index.db and auth.db, each with its -wal file (transactions committed but not yet
// checkpointed), into `work_dir` and opens the copies as SqliteObjectIndex and
// SqliteTokenStore; the copies' schemas are migrated, so a directory an older release wrote
// is read as it is. Blobs are read in place (FileByteStore::Attach: nothing created or
// removed). The copies are removed when the source is destroyed.
class DataDirSource {
 public:
  // kFailedPrecondition "no_index" if `data_dir` has no index.db or auth.db;
  // "data_dir_busy" while a server serves it. `env` MUST outlive the source.
  static StatusOr<std::unique_ptr<DataDirSource>> Open(Env* env, const std::string& data_dir,
                                                       const std::string& work_dir);
  ~DataDirSource();

  StoreSet stores() { return {index_.get(), bytes_.get(), tokens_.get()}; }

 private:
  DataDirSource(Env* env, DataDirLock lock, std::string work_dir)
      : env_(env), lock_(std::move(lock)), work_dir_(std::move(work_dir)) {}
  // Copies data_dir/name (and its -wal) to work_dir/name, replacing older copies.
  Status CopyDatabase(const std::string& data_dir, const std::string& name);
  void RemoveCopies();

  Env* env_;
  DataDirLock lock_;
  std::string work_dir_;
  std::unique_ptr<ObjectIndex> index_;
  std::unique_ptr<ByteStore> bytes_;
  std::unique_ptr<TokenStore> tokens_;
};

}  // namespace cardvault

#endif  // CARDVAULT_STORAGE_DATA_DIR_SOURCE_H_
