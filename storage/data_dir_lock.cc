// DataDirLock implementation: flock on an O_RDONLY descriptor of the directory.
#include "storage/data_dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>

namespace cardvault {

StatusOr<DataDirLock> DataDirLock::Acquire(const std::string& data_dir, Mode mode) {
  const int fd = ::open(data_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoToStatus(errno, "open", data_dir);
  const int op = (mode == Mode::kServe ? LOCK_SH : LOCK_EX) | LOCK_NB;
  while (::flock(fd, op) != 0) {
    const int err = errno;
    if (err == EINTR) continue;
    ::close(fd);
    if (err != EWOULDBLOCK) return ErrnoToStatus(err, "lock", data_dir);
    if (mode == Mode::kServe) {
      return FailedPreconditionError(
          "a migration (cardvault-server migrate) is copying " + data_dir +
              "; wait for it to finish, then serve the destination's config",
          "data_dir_busy");
    }
    return FailedPreconditionError(
        "a cardvault-server is serving " + data_dir +
            "; stop it first (systemctl stop cardvault-server, or SIGTERM to its process: "
            "uploads in flight finish), then run migrate again",
        "data_dir_busy");
  }
  return DataDirLock(fd);
}

DataDirLock::~DataDirLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace cardvault
