// FileByteStore: ByteStore as one file per key under a data directory (blobs/xx/KEY).
#ifndef CARDVAULT_STORAGE_FILE_BYTE_STORE_H_
#define CARDVAULT_STORAGE_FILE_BYTE_STORE_H_

#include <memory>
#include <string>

#include "core/env.h"
#include "storage/byte_store.h"

namespace cardvault {

// Layout under the data directory (unchanged since the first release):
//   tmp/<random>.part   writes in progress (removed at Open: they were never committed)
//   blobs/xx/<key>      committed bytes; a key is 32 random lowercase hex characters chosen
//                       here, xx its first two
//   quarantine/         bytes moved aside by Quarantine and QuarantineCopy
// A write goes to tmp/, and Commit fsyncs it, renames it into blobs/ (creating and fsyncing
// the shard directory first if new) and fsyncs the shard, so a committed key survives a
// crash; a crash before leaves only a .part file. Files are created 0600.
class FileByteStore final : public ByteStore {
 public:
  // Creates tmp/ and blobs/ if missing and removes leftover .part files: all of them, or
  // with `partial_min_age_seconds` > 0 only those last written longer ago than that (the
  // directory is shared by several servers, whose uploads in progress stay). `env` MUST
  // outlive the store.
  static StatusOr<std::unique_ptr<FileByteStore>> Open(Env* env, const std::string& data_dir,
                                                       int64_t partial_min_age_seconds = 0);
  // The store of an existing data directory, changing nothing on disk until asked to: for
  // a check beside a server that serves the directory (its uploads in tmp/ stay).
  static std::unique_ptr<FileByteStore> Attach(Env* env, const std::string& data_dir);

  StatusOr<std::unique_ptr<ByteWriter>> NewWriter(uint64_t size) override;
  StatusOr<std::unique_ptr<ByteReader>> Open(std::string_view key) override;
  Status Probe() override;
  Status Delete(std::string_view key) override;
  Status ForEach(const std::function<Status(const StoredKey&)>& fn) override;
  Status Quarantine(std::string_view key) override;
  Status QuarantineCopy(std::string_view name, ByteView data) override;

  // The file of `key` under `data_dir` (the key MUST be valid).
  static std::string PathOf(const std::string& data_dir, std::string_view key);

 private:
  class Writer;
  FileByteStore(Env* env, std::string data_dir) : env_(env), data_dir_(std::move(data_dir)) {}
  // Renames the complete, synced file `tmp_path` into blobs/ under a new key.
  StatusOr<std::string> Publish(const std::string& tmp_path);

  Env* env_;
  std::string data_dir_;
};

}  // namespace cardvault

#endif  // CARDVAULT_STORAGE_FILE_BYTE_STORE_H_
