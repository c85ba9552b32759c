// Private files implementation: lstat, open with O_NOFOLLOW, chmod.
#include "storage/private_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string_view>

namespace cardvault {
namespace {

Status ErrnoError(const std::string& what, const std::string& path) {
  return IoError(what + " " + path + ": " + std::strerror(errno));
}

// Sets `mode` on `path` unless it has it; `st` is its lstat.
Status Restrict(const std::string& path, const struct stat& st, mode_t mode) {
  if ((st.st_mode & 07777) == mode) return Status::Ok();
  if (::chmod(path.c_str(), mode) != 0) return ErrnoError("cannot chmod", path);
  return Status::Ok();
}

bool IsBlobShard(std::string_view parent_rel) { return parent_rel == "blobs"; }

Status Walk(const std::string& dir, const std::string& rel) {
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
  if (!d) return ErrnoError("cannot list", dir);
  while (dirent* e = ::readdir(d.get())) {
    const std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    const std::string path = dir + "/" + std::string(name);
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) continue;  // removed meanwhile (a finished upload's tmp file)
      return ErrnoError("cannot stat", path);
    }
    if (S_ISDIR(st.st_mode)) {
      CV_RETURN_IF_ERROR(Restrict(path, st, 0700));
      // A blob shard: only its own mode; its files are created 0600.
      if (IsBlobShard(rel)) continue;
      CV_RETURN_IF_ERROR(
          Walk(path, rel.empty() ? std::string(name) : rel + "/" + std::string(name)));
    } else if (S_ISREG(st.st_mode)) {
      CV_RETURN_IF_ERROR(Restrict(path, st, 0600));
    }
  }
  return Status::Ok();
}

}  // namespace

Status MakeDatabaseFilePrivate(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return ErrnoError("cannot create", path);
  const int rc = ::fchmod(fd, 0600);
  ::close(fd);
  if (rc != 0) return ErrnoError("cannot chmod", path);
  for (const char* suffix : {"-wal", "-shm", "-journal"}) {
    const std::string side = path + suffix;
    struct stat st {};
    if (::lstat(side.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    CV_RETURN_IF_ERROR(Restrict(side, st, 0600));
  }
  return Status::Ok();
}

Status MakeDataDirPrivate(const std::string& dir) {
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) return ErrnoError("cannot stat", dir);
  if (!S_ISDIR(st.st_mode)) return FailedPreconditionError(dir + " is not a directory");
  CV_RETURN_IF_ERROR(Restrict(dir, st, 0700));
  return Walk(dir, "");
}

}  // namespace cardvault
