// FileByteStore implementation: temp file, fsync, rename into a shard, fsync the shard.
#include "storage/file_byte_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "storage/byte_key.h"

namespace cardvault {
namespace {

class FileReader final : public ByteReader {
 public:
  FileReader(int fd, uint64_t size) : fd_(fd), size_(size) {}
  ~FileReader() override { ::close(fd_); }
  uint64_t size() const override { return size_; }
  StatusOr<size_t> ReadAt(uint64_t offset, std::span<uint8_t> buf) override {
    if (offset >= size_) return size_t{0};
    size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), size_ - offset));
    while (true) {
      ssize_t n = ::pread(fd_, buf.data(), want, static_cast<off_t>(offset));
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) return ErrnoToStatus(errno, "read", "stored bytes");
    }
  }

 private:
  int fd_;
  uint64_t size_;
};

}  // namespace

class FileByteStore::Writer final : public ByteWriter {
 public:
  Writer(FileByteStore* store, std::string tmp_path, std::unique_ptr<WritableFile> file)
      : store_(store), tmp_path_(std::move(tmp_path)), file_(std::move(file)) {}
  ~Writer() override {
    file_.reset();
    if (!committed_) store_->env_->RemoveFile(tmp_path_).IgnoreError();
  }
  Status Append(ByteView data) override {
    if (file_ == nullptr) return FailedPreconditionError("write already finished");
    return file_->Append(data);
  }
  StatusOr<std::string> Commit() override {
    if (file_ == nullptr) return FailedPreconditionError("write already finished");
    Status synced = file_->Sync();
    if (synced.ok()) synced = file_->Close();
    file_.reset();
    CV_RETURN_IF_ERROR(synced);
    CV_ASSIGN_OR_RETURN(std::string key, store_->Publish(tmp_path_));
    committed_ = true;  // the temporary file was renamed away
    return key;
  }

 private:
  FileByteStore* store_;
  std::string tmp_path_;
  std::unique_ptr<WritableFile> file_;
  bool committed_ = false;
};

StatusOr<std::unique_ptr<FileByteStore>> FileByteStore::Open(Env* env, const std::string& data_dir,
                                                             int64_t partial_min_age_seconds) {
  CV_RETURN_IF_ERROR(env->CreateDirs(data_dir + "/tmp"));
  CV_RETURN_IF_ERROR(env->CreateDirs(data_dir + "/blobs"));
  CV_RETURN_IF_ERROR(env->SyncDir(data_dir));
  // Writes interrupted by a crash or kill were never committed: drop them.
  const int64_t cutoff_ns = env->NowUnixNanos() - partial_min_age_seconds * int64_t{1000000000};
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(data_dir + "/tmp", ec)) {
    if (entry.path().extension() != ".part") continue;
    if (partial_min_age_seconds > 0) {
      auto info = env->Stat(entry.path().string());
      if (!info.ok() || static_cast<int64_t>(info->mtime_ns) > cutoff_ns) continue;
    }
    env->RemoveFile(entry.path().string()).IgnoreError();
  }
  if (ec) return IoError("cannot list " + data_dir + "/tmp: " + ec.message());
  return std::unique_ptr<FileByteStore>(new FileByteStore(env, data_dir));
}

std::unique_ptr<FileByteStore> FileByteStore::Attach(Env* env, const std::string& data_dir) {
  return std::unique_ptr<FileByteStore>(new FileByteStore(env, data_dir));
}

std::string FileByteStore::PathOf(const std::string& data_dir, std::string_view key) {
  return data_dir + "/blobs/" + std::string(key.substr(0, 2)) + "/" + std::string(key);
}

StatusOr<std::unique_ptr<ByteWriter>> FileByteStore::NewWriter(uint64_t /*size*/) {
  CV_ASSIGN_OR_RETURN(std::string name, NewByteKey(*env_));
  std::string tmp_path = data_dir_ + "/tmp/" + name + ".part";
  CV_ASSIGN_OR_RETURN(auto file, env_->NewWritableFile(tmp_path, 0600));
  return std::unique_ptr<ByteWriter>(new Writer(this, std::move(tmp_path), std::move(file)));
}

StatusOr<std::string> FileByteStore::Publish(const std::string& tmp_path) {
  CV_ASSIGN_OR_RETURN(std::string key, NewByteKey(*env_));
  const std::string final_path = PathOf(data_dir_, key);
  const std::string shard = DirName(final_path);
  if (!env_->Stat(shard).ok()) {
    // First file in this shard: create it and make its entry in blobs/ durable.
    CV_RETURN_IF_ERROR(env_->CreateDirs(shard));
    CV_RETURN_IF_ERROR(env_->SyncDir(data_dir_ + "/blobs"));
  }
  CV_RETURN_IF_ERROR(env_->RenameFile(tmp_path, final_path));
  if (Status synced = env_->SyncDir(shard); !synced.ok()) {
    env_->RemoveFile(final_path).IgnoreError();
    return synced;
  }
  return key;
}

Status FileByteStore::Probe() {
  for (const char* dir : {"/tmp", "/blobs"}) {
    StatusOr<FileInfo> info = env_->Stat(data_dir_ + dir);
    if (!info.ok() || !info->is_directory) {
      return UnavailableError("the byte store's directory " + data_dir_ + dir + " is not there" +
                                  (info.ok() ? std::string() : ": " + info.status().ToString()),
                              "object_store_unavailable");
    }
  }
  return Status::Ok();
}

StatusOr<std::unique_ptr<ByteReader>> FileByteStore::Open(std::string_view key) {
  if (!IsValidByteKey(key)) return BadByteKey();
  const std::string path = PathOf(data_dir_, key);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) return NotFoundError("no stored bytes", "no_stored_bytes");
  if (fd < 0) return ErrnoToStatus(errno, "open", "stored bytes");
  // The size of the file actually opened, so a file replaced after this is still the one
  // measured; one that shrinks later reads 0 early, which the caller sees.
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    Status status = ErrnoToStatus(errno, "stat", "stored bytes");
    ::close(fd);
    return status;
  }
  return std::unique_ptr<ByteReader>(new FileReader(fd, static_cast<uint64_t>(st.st_size)));
}

Status FileByteStore::Delete(std::string_view key) {
  if (!IsValidByteKey(key)) return BadByteKey();
  Status removed = env_->RemoveFile(PathOf(data_dir_, key));
  if (!removed.ok() && removed.code() != StatusCode::kNotFound) return removed;
  return Status::Ok();
}

Status FileByteStore::ForEach(const std::function<Status(const StoredKey&)>& fn) {
  std::error_code ec;
  for (const auto& shard : std::filesystem::directory_iterator(data_dir_ + "/blobs", ec)) {
    if (!shard.is_directory()) continue;
    for (const auto& entry : std::filesystem::directory_iterator(shard.path(), ec)) {
      auto info = env_->Stat(entry.path().string());
      if (!info.ok() || !info->is_regular) continue;
      CV_RETURN_IF_ERROR(fn(StoredKey{entry.path().filename().string(),
                                      static_cast<int64_t>(info->mtime_ns / 1000000000)}));
    }
  }
  if (ec) return IoError("cannot list " + data_dir_ + "/blobs: " + ec.message());
  return Status::Ok();
}

Status FileByteStore::Quarantine(std::string_view key) {
  if (!IsValidByteKey(key)) return BadByteKey();
  const std::string dir = data_dir_ + "/quarantine";
  CV_RETURN_IF_ERROR(env_->CreateDirs(dir));
  Status moved = env_->RenameFile(PathOf(data_dir_, key), dir + "/" + std::string(key));
  if (!moved.ok() && moved.code() != StatusCode::kNotFound) return moved;
  return env_->SyncDir(dir);
}

Status FileByteStore::QuarantineCopy(std::string_view name, ByteView data) {
  if (!IsValidQuarantineName(name)) return InvalidArgumentError("bad quarantine name");
  const std::string dir = data_dir_ + "/quarantine";
  CV_RETURN_IF_ERROR(env_->CreateDirs(dir));
  CV_ASSIGN_OR_RETURN(auto file, env_->NewWritableFile(dir + "/" + std::string(name), 0600));
  CV_RETURN_IF_ERROR(file->Append(data));
  CV_RETURN_IF_ERROR(file->Sync());
  return file->Close();
}

}  // namespace cardvault
