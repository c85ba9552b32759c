// The POSIX Env: files with open/read/write/fsync/rename, clocks, and OpenSSL's DRBG.
#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>
#include <new>
#include <utility>
#include <vector>

#include "core/env.h"

namespace cardvault {
namespace {

class PosixSequentialFile final : public SequentialFile {
 public:
  PosixSequentialFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixSequentialFile() override { ::close(fd_); }

  StatusOr<size_t> Read(std::span<uint8_t> buf) override {
    while (true) {
      ssize_t n = ::read(fd_, buf.data(), buf.size());
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) return ErrnoToStatus(errno, "read", path_);
    }
  }

 private:
  int fd_;
  std::string path_;
};

class PosixWritableFile final : public WritableFile {
 public:
  // `offset`: where the file's offset stands (its size, for a reopened file).
  PosixWritableFile(int fd, std::string path, uint64_t offset = 0)
      : fd_(fd), path_(std::move(path)), offset_(offset) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
  }

  Status Append(ByteView data) override {
    if (fd_ < 0) return FailedPreconditionError("append to closed file " + path_);
    // Large aligned appends of a write-once file go around the page cache (O_DIRECT, set
    // and cleared on the same descriptor); where the file system refuses, they never try
    // again and are written normally.
    const bool direct = write_once_ && data.size() >= kDirectMinBytes &&
                        data.size() % kDirectIoAlignment == 0 && offset_ % kDirectIoAlignment == 0;
    SetDirect(direct);
    if (direct_ && reinterpret_cast<uintptr_t>(data.data()) % kDirectIoAlignment != 0) {
      // O_DIRECT needs an aligned address too: through a bounce buffer (a copy in hot
      // memory, far cheaper than the page cache's).
      if (bounce_ == nullptr) bounce_ = NewDirectIoBuffer(kBounceBytes);
      while (!data.empty()) {
        const size_t n = std::min(data.size(), kBounceBytes);
        std::memcpy(bounce_.get(), data.data(), n);
        CV_RETURN_IF_ERROR(Append({bounce_.get(), n}));
        data = data.subspan(n);
      }
      return Status::Ok();
    }
    const uint8_t* p = data.data();
    size_t left = data.size();
    while (left > 0) {
      ssize_t n = ::write(fd_, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EINVAL && direct_) {
          write_once_ = false;
          SetDirect(false);
          continue;
        }
        return ErrnoToStatus(errno, "write", path_);
      }
      p += n;
      left -= static_cast<size_t>(n);
      offset_ += static_cast<uint64_t>(n);
      if (direct_ && left % kDirectIoAlignment != 0) SetDirect(false);
    }
    if (direct_) return Status::Ok();  // nothing in the page cache to write back
    appended_ += data.size();
    if (appended_ - written_back_ >= kWritebackBytes) {
      // Start writing back what is complete, in the background, so the final Sync() finds
      // little left and the disk works while we compute (as RocksDB's bytes_per_sync). A
      // hint only: its failure changes nothing, Sync() reports real errors.
      ::sync_file_range(fd_, static_cast<off_t>(offset_ - (appended_ - written_back_)),
                        static_cast<off_t>(appended_ - written_back_), SYNC_FILE_RANGE_WRITE);
      written_back_ = appended_;
    }
    return Status::Ok();
  }

  void AdviseWriteOnce() override { write_once_ = true; }

  Status WriteAt(uint64_t offset, ByteView data) override {
    if (fd_ < 0) return FailedPreconditionError("write to closed file " + path_);
    SetDirect(false);
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n =
          ::pwrite(fd_, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoToStatus(errno, "write", path_);
      }
      done += static_cast<size_t>(n);
    }
    return Status::Ok();
  }

  Status Sync() override {
    if (fd_ < 0) return FailedPreconditionError("sync of closed file " + path_);
    if (::fdatasync(fd_) != 0) return ErrnoToStatus(errno, "fsync", path_);
    return Status::Ok();
  }

  Status Close() override {
    if (fd_ < 0) return Status::Ok();
    int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) return ErrnoToStatus(errno, "close", path_);
    return Status::Ok();
  }

 private:
  static constexpr uint64_t kWritebackBytes = 8 << 20;
  static constexpr size_t kDirectMinBytes = 256 << 10;
  static constexpr size_t kBounceBytes = 1 << 20;
  void SetDirect(bool on) {
    if (on == direct_) return;
    const int flags = ::fcntl(fd_, F_GETFL);
    if (flags >= 0 && ::fcntl(fd_, F_SETFL, on ? flags | O_DIRECT : flags & ~O_DIRECT) == 0) {
      direct_ = on;
    } else if (on) {
      write_once_ = false;  // the file system does not do it
    }
  }

  int fd_;
  std::string path_;
  uint64_t offset_;            // the file offset the next append writes at
  uint64_t appended_ = 0;      // bytes appended through the page cache since opening
  uint64_t written_back_ = 0;  // of which writeback has been started
  bool write_once_ = false;    // AdviseWriteOnce, until the file system refuses O_DIRECT
  bool direct_ = false;        // O_DIRECT is set on fd_
  DirectIoBuffer bounce_;      // for direct appends not aligned
};

// Opens `path` read-only (with `flags`), runs `sync` on the descriptor and closes it.
Status SyncOpened(const std::string& path, int flags, int (*sync)(int), const char* what) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | flags);
  if (fd < 0) return ErrnoToStatus(errno, "open", path);
  const int rc = sync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoToStatus(err, what, path);
  return Status::Ok();
}

// An owned file descriptor, closed by the destructor.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      if (fd_ >= 0) ::close(fd_);
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

struct timespec ToTimespec(int64_t ns) {
  struct timespec t;
  t.tv_sec = static_cast<time_t>(ns / 1000000000);
  t.tv_nsec = static_cast<long>(ns % 1000000000);
  if (t.tv_nsec < 0) {
    t.tv_nsec += 1000000000;
    t.tv_sec -= 1;
  }
  return t;
}

// Opens the directory `name` in `dir` without following a symlink (O_PATH: search
// permission is enough). `shown` names it in errors.
StatusOr<Fd> OpenDirectoryNoFollow(int dir, const std::string& name, const std::string& shown,
                                   int flags) {
  Fd fd(::openat(dir, name.c_str(), flags | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  struct stat st;
  if (fd.get() >= 0 && ::fstat(fd.get(), &st) == 0 && S_ISDIR(st.st_mode)) return fd;
  const int err = fd.get() >= 0 ? ENOTDIR : errno;
  if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
    return PermissionDeniedError("refusing to go through the symlink " + shown, "unsafe_path");
  }
  return ErrnoToStatus(err, "open directory", shown);
}

// Walks `rel` from `root` one directory at a time, never through a symlink, and returns the
// directory reached: rel's parent (`to_parent`) or rel itself, opened with `last_flags`.
StatusOr<Fd> WalkInside(const std::string& root, const std::string& rel, bool to_parent,
                        int last_flags) {
  CV_ASSIGN_OR_RETURN(std::vector<std::string> parts, PlainPathComponents(rel));
  Fd dir(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0) return ErrnoToStatus(errno, "open directory", root);
  const size_t steps = parts.size() - (to_parent ? 1 : 0);
  std::string shown = root;
  for (size_t i = 0; i < steps; ++i) {
    shown += "/" + parts[i];
    CV_ASSIGN_OR_RETURN(dir, OpenDirectoryNoFollow(dir.get(), parts[i], shown,
                                                   i + 1 == steps ? last_flags : O_PATH));
  }
  return dir;
}

class PosixEnv final : public Env {
 public:
  StatusOr<std::unique_ptr<SequentialFile>> NewSequentialFile(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoToStatus(errno, "open", path);
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    return std::unique_ptr<SequentialFile>(new PosixSequentialFile(fd, path));
  }

  StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path,
                                                          uint32_t mode) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) return ErrnoToStatus(errno, "create", path);
    return std::unique_ptr<WritableFile>(new PosixWritableFile(fd, path));
  }

  StatusOr<std::unique_ptr<WritableFile>> ReopenWritableFile(const std::string& path,
                                                             uint64_t keep) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return ErrnoToStatus(errno, "open", path);
    struct stat st;
    Status s;
    if (::fstat(fd, &st) != 0) {
      s = ErrnoToStatus(errno, "stat", path);
    } else if (!S_ISREG(st.st_mode)) {
      s = FailedPreconditionError(path + " is not a regular file");
    } else if (keep > static_cast<uint64_t>(st.st_size)) {
      s = InvalidArgumentError(path + " is shorter than the part to keep");
    } else if (::ftruncate(fd, static_cast<off_t>(keep)) != 0) {
      s = ErrnoToStatus(errno, "truncate", path);
    } else if (::lseek(fd, 0, SEEK_END) < 0) {
      s = ErrnoToStatus(errno, "seek", path);
    }
    if (!s.ok()) {
      ::close(fd);
      return s;
    }
    return std::unique_ptr<WritableFile>(new PosixWritableFile(fd, path, keep));
  }

  Status RenameFile(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return ErrnoToStatus(errno, "rename", from);
    return Status::Ok();
  }

  Status RemoveFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return ErrnoToStatus(errno, "remove", path);
    return Status::Ok();
  }

  Status SyncDir(const std::string& path) override {
    return SyncOpened(path, O_DIRECTORY, ::fsync, "fsync directory");
  }

  Status SyncFileSystem(const std::string& path) override {
    return SyncOpened(path, 0, ::syncfs, "syncfs");
  }

  bool CanSyncFileSystem(const std::string&) override { return true; }

  Status CreateDirs(const std::string& path) override {
    if (path.empty()) return Status::Ok();
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) {
      if (S_ISDIR(st.st_mode)) return Status::Ok();
      return FailedPreconditionError(path + " exists and is not a directory");
    }
    std::string parent = DirName(path);
    if (parent != path) CV_RETURN_IF_ERROR(CreateDirs(parent));
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
      return ErrnoToStatus(errno, "create directory", path);
    }
    return Status::Ok();
  }

  StatusOr<FileInfo> Stat(const std::string& path) override {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return ErrnoToStatus(errno, "stat", path);
    FileInfo info;
    info.size = static_cast<uint64_t>(st.st_size);
    info.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
    info.mode = st.st_mode;
    info.inode = st.st_ino;
    info.is_regular = S_ISREG(st.st_mode);
    info.is_directory = S_ISDIR(st.st_mode);
    info.is_symlink = S_ISLNK(st.st_mode);
    return info;
  }

  Status SetFileTimesAndMode(const std::string& path, int64_t mtime_ns, uint32_t mode) override {
    if (::chmod(path.c_str(), mode & 07777) != 0) return ErrnoToStatus(errno, "chmod", path);
    const struct timespec times[2] = {{0, UTIME_OMIT}, ToTimespec(mtime_ns)};
    if (::utimensat(AT_FDCWD, path.c_str(), times, 0) != 0) {
      return ErrnoToStatus(errno, "set times of", path);
    }
    return Status::Ok();
  }

  Status RenameInside(const std::string& from, const std::string& root,
                      const std::string& rel) override {
    CV_ASSIGN_OR_RETURN(Fd parent, WalkInside(root, rel, /*to_parent=*/true, O_PATH));
    const std::string name = rel.substr(rel.rfind('/') + 1);  // npos + 1 == 0
    if (::renameat(AT_FDCWD, from.c_str(), parent.get(), name.c_str()) != 0) {
      return ErrnoToStatus(errno, "rename", from);
    }
    return Status::Ok();
  }

  Status SetDirectoryTimesAndModeInside(const std::string& root, const std::string& rel,
                                        int64_t mtime_ns, uint32_t mode) override {
    // Opened for reading, as fchmod needs; a directory this user cannot read is reached
    // with O_PATH and changed through its /proc/self/fd link, which names that inode.
    StatusOr<Fd> dir = WalkInside(root, rel, /*to_parent=*/false, O_RDONLY);
    const bool by_link = !dir.ok() && dir.status().code() == StatusCode::kPermissionDenied &&
                         dir.status().reason() != "unsafe_path";
    if (by_link) dir = WalkInside(root, rel, /*to_parent=*/false, O_PATH);
    if (!dir.ok()) return dir.status();
    const std::string path = root + "/" + rel;
    const std::string link = "/proc/self/fd/" + std::to_string(dir->get());
    const int chmod_rc =
        by_link ? ::chmod(link.c_str(), mode & 07777) : ::fchmod(dir->get(), mode & 07777);
    if (chmod_rc != 0) return ErrnoToStatus(errno, "chmod", path);
    const struct timespec times[2] = {{0, UTIME_OMIT}, ToTimespec(mtime_ns)};
    const int times_rc =
        by_link ? ::utimensat(AT_FDCWD, link.c_str(), times, 0) : ::futimens(dir->get(), times);
    if (times_rc != 0) return ErrnoToStatus(errno, "set times of", path);
    return Status::Ok();
  }

  int64_t NowUnixNanos() override {
    struct timespec ts;
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
  }

  int64_t MonotonicNanos() override {
    struct timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
  }

  Status RandomBytes(std::span<uint8_t> out) override {
    if (out.empty()) return Status::Ok();
    if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) {
      return InternalError("the random number generator failed");
    }
    return Status::Ok();
  }
};

}  // namespace

Env* Env::Default() {
  static Env* env = new PosixEnv();
  return env;
}

}  // namespace cardvault
