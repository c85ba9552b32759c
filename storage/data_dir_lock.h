// DataDirLock: an advisory lock on a server data directory, so `cardvault-server migrate`
// never copies a directory that `serve` is changing (and `serve` never starts on one that a
// migration is copying).
#ifndef CARDVAULT_STORAGE_DATA_DIR_LOCK_H_
#define CARDVAULT_STORAGE_DATA_DIR_LOCK_H_

#include <string>

#include "core/status_or.h"

namespace cardvault {

// flock(2) on the directory itself (nothing is created in it), released when the lock is
// destroyed or the process ends, however it ends (a SIGKILL included).
class DataDirLock {
 public:
  enum class Mode {
    kServe,     // shared: held by `serve` while it runs
    kExclusive  // held by a migration while it reads the directory
  };
  // Takes the lock without waiting: kFailedPrecondition "data_dir_busy", saying who holds it
  // and what to do, when the other mode holds it.
  static StatusOr<DataDirLock> Acquire(const std::string& data_dir, Mode mode);
  ~DataDirLock();
  DataDirLock(DataDirLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  DataDirLock& operator=(DataDirLock&&) = delete;
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;

 private:
  explicit DataDirLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace cardvault

#endif  // CARDVAULT_STORAGE_DATA_DIR_LOCK_H_
