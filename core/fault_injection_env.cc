// FaultInjectionEnv implementation.
#include "core/fault_injection_env.h"

#include <cerrno>
#include <utility>

namespace cardvault {
namespace {

class FaultyWritableFile final : public WritableFile {
 public:
  FaultyWritableFile(FaultInjectionEnv* env, std::string path, std::unique_ptr<WritableFile> base)
      : env_(env), path_(std::move(path)), base_(std::move(base)) {}

  Status Append(ByteView data) override {
    CV_RETURN_IF_ERROR(env_->BeforeWrite(path_, data.size()));
    return base_->Append(data);
  }
  Status WriteAt(uint64_t offset, ByteView data) override {
    CV_RETURN_IF_ERROR(env_->BeforeWrite(path_, data.size()));
    return base_->WriteAt(offset, data);
  }
  Status Sync() override {
    CV_RETURN_IF_ERROR(env_->BeforeSync(path_));
    return base_->Sync();
  }
  void AdviseWriteOnce() override { base_->AdviseWriteOnce(); }
  Status Close() override { return base_->Close(); }

 private:
  FaultInjectionEnv* env_;
  std::string path_;
  std::unique_ptr<WritableFile> base_;
};

}  // namespace

void FaultInjectionEnv::ClearFaults() {
  fail_write_at_ = 0;
  fail_rename_at_ = 0;
  fail_sync_at_ = 0;
  bytes_left_ = std::numeric_limits<uint64_t>::max();
}

StatusOr<std::unique_ptr<WritableFile>> FaultInjectionEnv::NewWritableFile(const std::string& path,
                                                                           uint32_t mode) {
  CV_ASSIGN_OR_RETURN(auto base, target()->NewWritableFile(path, mode));
  return std::unique_ptr<WritableFile>(new FaultyWritableFile(this, path, std::move(base)));
}

StatusOr<std::unique_ptr<WritableFile>> FaultInjectionEnv::ReopenWritableFile(
    const std::string& path, uint64_t keep) {
  CV_ASSIGN_OR_RETURN(auto base, target()->ReopenWritableFile(path, keep));
  return std::unique_ptr<WritableFile>(new FaultyWritableFile(this, path, std::move(base)));
}

Status FaultInjectionEnv::CountRename(const std::string& from) {
  uint64_t n = ++renames_;
  if (fail_rename_at_ != 0 && n == fail_rename_at_) {
    return ErrnoToStatus(EIO, "rename (injected fault)", from);
  }
  return Status::Ok();
}

Status FaultInjectionEnv::RenameFile(const std::string& from, const std::string& to) {
  CV_RETURN_IF_ERROR(CountRename(from));
  return target()->RenameFile(from, to);
}

Status FaultInjectionEnv::RenameInside(const std::string& from, const std::string& root,
                                       const std::string& rel) {
  CV_RETURN_IF_ERROR(CountRename(from));
  return target()->RenameInside(from, root, rel);
}

Status FaultInjectionEnv::SyncDir(const std::string& path) {
  CV_RETURN_IF_ERROR(BeforeSync(path));
  return target()->SyncDir(path);
}

Status FaultInjectionEnv::SyncFileSystem(const std::string& path) {
  CV_RETURN_IF_ERROR(BeforeSync(path));
  return target()->SyncFileSystem(path);
}

Status FaultInjectionEnv::BeforeWrite(const std::string& path, uint64_t size) {
  uint64_t n = ++writes_;
  if (fail_write_at_ != 0 && n == fail_write_at_) {
    return ErrnoToStatus(EIO, "write (injected fault)", path);
  }
  uint64_t left = bytes_left_.load();
  while (true) {
    if (left != std::numeric_limits<uint64_t>::max() && size > left) {
      bytes_left_ = 0;
      return ErrnoToStatus(ENOSPC, "write (injected fault)", path);
    }
    uint64_t next = left == std::numeric_limits<uint64_t>::max() ? left : left - size;
    if (bytes_left_.compare_exchange_weak(left, next)) break;
  }
  bytes_written_ += size;
  return Status::Ok();
}

Status FaultInjectionEnv::BeforeSync(const std::string& path) {
  uint64_t n = ++syncs_;
  if (fail_sync_at_ != 0 && n == fail_sync_at_) {
    return ErrnoToStatus(EIO, "fsync (injected fault)", path);
  }
  return Status::Ok();
}

}  // namespace cardvault
