// FileBlobStore: a data directory's index and files, composed.
#include "storage/file_blob_store.h"

#include "storage/file_byte_store.h"
#include "storage/sqlite_object_index.h"

namespace cardvault {
namespace {

std::string IndexPath(const std::string& data_dir) { return data_dir + "/index.db"; }

}  // namespace

StatusOr<std::unique_ptr<FileBlobStore>> FileBlobStore::Open(Env* env, const std::string& data_dir,
                                                             Options options) {
  CV_ASSIGN_OR_RETURN(std::unique_ptr<ByteStore> bytes, FileByteStore::Open(env, data_dir));
  CV_ASSIGN_OR_RETURN(std::unique_ptr<ObjectIndex> index,
                      SqliteObjectIndex::Open(IndexPath(data_dir)));
  return std::unique_ptr<FileBlobStore>(
      new FileBlobStore(env, std::move(index), std::move(bytes), options));
}

Status FileBlobStore::SetUserQuota(const std::string& data_dir, std::string_view user,
                                   std::optional<uint64_t> quota_bytes) {
  CV_ASSIGN_OR_RETURN(auto index, SqliteObjectIndex::Open(IndexPath(data_dir)));
  return index->SetQuota(user, quota_bytes);
}

StatusOr<FileBlobStore::CheckSummary> FileBlobStore::Check(
    Env* env, const std::string& data_dir, const CheckOptions& options,
    const std::function<void(const DamagedObject&)>& on_damaged) {
  if (!env->Stat(IndexPath(data_dir)).ok()) {
    return FailedPreconditionError(data_dir + " has no index.db (not a data directory?)",
                                   "no_index");
  }
  CV_ASSIGN_OR_RETURN(auto index, SqliteObjectIndex::Open(IndexPath(data_dir)));
  // Attached, not opened: a server's uploads in progress in tmp/ stay.
  auto bytes = FileByteStore::Attach(env, data_dir);
  return IndexedBlobStore::Check(*index, *bytes, options, on_damaged);
}

}  // namespace cardvault
