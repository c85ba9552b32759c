// GrowingFile implementation: pread behind a condition variable.
#include "agent/growing_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace cardvault {

StatusOr<std::unique_ptr<GrowingFile>> GrowingFile::Open(const std::string& path,
                                                         uint64_t written) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoToStatus(errno, "open", path);
  return std::unique_ptr<GrowingFile>(new GrowingFile(fd, path, written));
}

GrowingFile::~GrowingFile() { ::close(fd_); }

StatusOr<size_t> GrowingFile::Read(std::span<uint8_t> buf) {
  uint64_t available = 0;
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return written_ > pos_ || finished_.has_value(); });
    if (written_ <= pos_) return finished_->ok() ? StatusOr<size_t>(size_t{0}) : *finished_;
    available = written_ - pos_;
  }
  const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), available));
  while (true) {
    ssize_t n = ::pread(fd_, buf.data(), want, static_cast<off_t>(pos_));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoToStatus(errno, "read", path_);
    pos_ += static_cast<uint64_t>(n);
    return static_cast<size_t>(n);
  }
}

void GrowingFile::Advance(uint64_t written) {
  std::lock_guard lock(mu_);
  written_ = written;
  cv_.notify_all();
}

void GrowingFile::Finish(Status status) {
  std::lock_guard lock(mu_);
  finished_ = std::move(status);
  cv_.notify_all();
}

bool GrowingFile::cancelled() const {
  std::lock_guard lock(mu_);
  return cancelled_;
}

void GrowingFile::Cancel() {
  std::lock_guard lock(mu_);
  cancelled_ = true;
}

Status GrowingFile::WaitFinished() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return finished_.has_value(); });
  return *finished_;
}

}  // namespace cardvault
