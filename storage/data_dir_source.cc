// DataDirSource implementation: lock, copy the two databases, open the copies.
#include "storage/data_dir_source.h"

#include "storage/file_byte_store.h"
#include "storage/private_files.h"
#include "storage/sqlite_object_index.h"
#include "storage/sqlite_token_store.h"

namespace cardvault {
namespace {

constexpr const char* kSuffixes[] = {"", "-wal", "-shm", "-journal"};

Status CopyFile(Env& env, const std::string& from, const std::string& to) {
  CV_ASSIGN_OR_RETURN(auto in, env.NewSequentialFile(from));
  CV_ASSIGN_OR_RETURN(auto out, env.NewWritableFile(to, 0600));
  Bytes block(1 << 20);
  while (true) {
    CV_ASSIGN_OR_RETURN(size_t n, in->Read(block));
    if (n == 0) break;
    CV_RETURN_IF_ERROR(out->Append(ByteView(block.data(), n)));
  }
  return out->Close();
}

}  // namespace

StatusOr<std::unique_ptr<DataDirSource>> DataDirSource::Open(Env* env, const std::string& data_dir,
                                                             const std::string& work_dir) {
  for (const char* name : {"/index.db", "/auth.db"}) {
    if (!env->Stat(data_dir + name).ok()) {
      return FailedPreconditionError(data_dir + " has no " + std::string(name + 1) +
                                         " (not a cardvault-server data directory?)",
                                     "no_index");
    }
  }
  CV_ASSIGN_OR_RETURN(DataDirLock lock,
                      DataDirLock::Acquire(data_dir, DataDirLock::Mode::kExclusive));
  CV_RETURN_IF_ERROR(env->CreateDirs(work_dir));
  std::unique_ptr<DataDirSource> source(new DataDirSource(env, std::move(lock), work_dir));
  CV_RETURN_IF_ERROR(source->CopyDatabase(data_dir, "index.db"));
  CV_RETURN_IF_ERROR(source->CopyDatabase(data_dir, "auth.db"));
  CV_ASSIGN_OR_RETURN(source->index_, SqliteObjectIndex::Open(work_dir + "/index.db"));
  CV_ASSIGN_OR_RETURN(source->tokens_, SqliteTokenStore::Open(env, work_dir + "/auth.db"));
  source->bytes_ = FileByteStore::Attach(env, data_dir);
  return source;
}

DataDirSource::~DataDirSource() {
  index_.reset();
  tokens_.reset();
  RemoveCopies();
}

Status DataDirSource::CopyDatabase(const std::string& data_dir, const std::string& name) {
  for (const char* suffix : kSuffixes) {
    StatusOr<FileInfo> stale = env_->Stat(work_dir_ + "/" + name + suffix);
    if (stale.ok()) CV_RETURN_IF_ERROR(env_->RemoveFile(work_dir_ + "/" + name + suffix));
  }
  // The -wal holds committed transactions a server had not checkpointed yet (SQLite replays
  // it when the copy opens); the -shm is rebuilt from it.
  for (const char* suffix : {"", "-wal"}) {
    const std::string from = data_dir + "/" + name + suffix;
    if (*suffix != '\0' && !env_->Stat(from).ok()) continue;
    CV_RETURN_IF_ERROR(CopyFile(*env_, from, work_dir_ + "/" + name + suffix));
  }
  return MakeDatabaseFilePrivate(work_dir_ + "/" + name);
}

void DataDirSource::RemoveCopies() {
  for (const char* name : {"index.db", "auth.db"}) {
    for (const char* suffix : kSuffixes) {
      const std::string path = work_dir_ + "/" + name + suffix;
      if (env_->Stat(path).ok()) env_->RemoveFile(path).IgnoreError();
    }
  }
}

}  // namespace cardvault
