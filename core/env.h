// Env: every operating-system service cardvault uses (files, clock, randomness), behind
// one interface so tests can inject faults (see FaultInjectionEnv).
#ifndef CARDVAULT_CORE_ENV_H_
#define CARDVAULT_CORE_ENV_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/status.h"
#include "core/status_or.h"

namespace cardvault {

// A file read from start to end. Not thread-safe.
class SequentialFile {
 public:
  virtual ~SequentialFile() = default;
  // Reads up to buf.size() bytes. Returns the count read; 0 means end of file. A short
  // count does not mean end of file (callers loop; see ReadFull).
  virtual StatusOr<size_t> Read(std::span<uint8_t> buf) = 0;

  // For a file whose content is already in memory (MemorySequentialFile): the bytes not
  // read yet, valid for the file's lifetime, so a caller can work on them in place instead
  // of copying them out with Read. Taking them consumes them (later Reads return 0).
  // nullopt when the file is not in memory: use Read.
  virtual std::optional<ByteView> TakeRemaining() { return std::nullopt; }

  // In-place reading, for a file whose bytes are in memory (a StreamPipe's ring, a
  // MemorySequentialFile): waits as Read does, then returns a view of up to `max` of the
  // next bytes, empty at end of file. They count as read; the view stays valid until the
  // next call on this file. Only where ReadsInPlace() is true; elsewhere ReadInPlace fails
  // with kUnsupported.
  virtual bool ReadsInPlace() const { return false; }
  virtual StatusOr<ByteView> ReadInPlace(size_t max);
};

// Reads until `buf` is full or end of file; returns the count read.
StatusOr<size_t> ReadFull(SequentialFile& file, std::span<uint8_t> buf);

// As ReadFull, but returns the bytes read: in place when `file` reads in place and its next
// scratch.size() bytes are contiguous there, else copied into `scratch`. The view is valid
// until the next call on `file`, and while `scratch` lives.
StatusOr<ByteView> ReadFullView(SequentialFile& file, std::span<uint8_t> scratch);

// Appends whose size and file offset are multiples of this can bypass the page cache
// (WritableFile::AdviseWriteOnce).
inline constexpr size_t kDirectIoAlignment = 4096;

// Uninitialized memory aligned to kDirectIoAlignment: appends from it need no bounce copy.
struct DirectIoDelete {
  void operator()(uint8_t* p) const;
};
using DirectIoBuffer = std::unique_ptr<uint8_t[], DirectIoDelete>;
DirectIoBuffer NewDirectIoBuffer(size_t size);

// A file being written. Not thread-safe. Data is durable only after Sync() returned OK.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual Status Append(ByteView data) = 0;
  // Overwrites bytes already appended, at `offset` (used to fill in a header last).
  virtual Status WriteAt(uint64_t offset, ByteView data) = 0;
  virtual Status Sync() = 0;
  // For a sink in memory (MemoryWritableFile): appends `n` bytes of space and returns it, so
  // a caller can write its output in place instead of copying it in with Append. The span
  // is valid until the next call on the file. nullopt when the file is not in memory.
  virtual std::optional<std::span<uint8_t>> AppendInPlace(size_t n) {
    (void)n;
    return std::nullopt;
  }
  // A hint that the data is written once and not read back soon (a restored file): large
  // appends whose size and file offset are multiples of kDirectIoAlignment MAY then bypass
  // the page cache, which saves copying them into memory that only the disk needs. Changes
  // nothing else: durability still comes from Sync() (or a file system flush).
  virtual void AdviseWriteOnce() {}
  // Closes the file; further calls are errors. The destructor closes silently.
  virtual Status Close() = 0;
};

struct FileInfo {
  uint64_t size = 0;
  int64_t mtime_ns = 0;  // nanoseconds since the Unix epoch
  uint32_t mode = 0;     // st_mode (type and permission bits)
  uint64_t inode = 0;
  bool is_regular = false;
  bool is_directory = false;
  bool is_symlink = false;
};

class Env {
 public:
  virtual ~Env() = default;

  // The process-wide POSIX environment. Never deleted.
  static Env* Default();

  virtual StatusOr<std::unique_ptr<SequentialFile>> NewSequentialFile(const std::string& path) = 0;
  // Creates or truncates `path` with permission bits `mode` (before umask). A symlink at
  // `path` itself is not followed: that fails, so nothing is written through one.
  virtual StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path,
                                                                  uint32_t mode = 0600) = 0;
  // Opens the existing regular file `path` for appending after its first `keep` bytes;
  // whatever followed them is truncated away (resuming an interrupted write). kNotFound if
  // it does not exist; `keep` beyond its size is kInvalidArgument.
  virtual StatusOr<std::unique_ptr<WritableFile>> ReopenWritableFile(const std::string& path,
                                                                     uint64_t keep) = 0;
  // Atomically replaces `to` with `from` (rename(2)); both must be on one file system.
  virtual Status RenameFile(const std::string& from, const std::string& to) = 0;
  virtual Status RemoveFile(const std::string& path) = 0;
  // fsyncs a directory so that renames and creations in it are durable.
  virtual Status SyncDir(const std::string& path) = 0;
  // Makes durable everything written so far to the file system holding `path` (a file or
  // directory), directory entries included: syncfs(2), one flush for many files instead of
  // an fsync each.
  virtual Status SyncFileSystem(const std::string& path) = 0;
  // Whether SyncFileSystem(path) works here. POSIX: always, nothing flushed. Windows: tried by
  // one flush of the volume (it needs administrator rights, and a volume that takes it: Wine's
  // does not). When false, a caller MUST make each file durable itself (WritableFile::Sync).
  virtual bool CanSyncFileSystem(const std::string& path) = 0;
  // Creates `path` and missing parents with mode 0700.
  virtual Status CreateDirs(const std::string& path) = 0;
  // Does not follow a final symlink (lstat).
  virtual StatusOr<FileInfo> Stat(const std::string& path) = 0;
  virtual Status SetFileTimesAndMode(const std::string& path, int64_t mtime_ns, uint32_t mode) = 0;

  // Inside a directory tree that others may write to (a restore's target): `rel` MUST be a
  // relative path without empty, "." or ".." components. Its directories are walked from
  // `root` one at a time, never through a symlink, and the operation then works on the
  // directory reached, not on a path: a symlink anywhere on the way, even one swapped in
  // the moment before, fails it with kPermissionDenied ("unsafe_path") and changes nothing.
  //
  // Renames `from` to root/rel; the final name is replaced as rename(2) does (a symlink
  // there is replaced, not followed).
  virtual Status RenameInside(const std::string& from, const std::string& root,
                              const std::string& rel) = 0;
  // Sets the mode and mtime of the directory root/rel, itself no symlink either.
  virtual Status SetDirectoryTimesAndModeInside(const std::string& root, const std::string& rel,
                                                int64_t mtime_ns, uint32_t mode) = 0;

  // Wall-clock time in nanoseconds since the Unix epoch.
  virtual int64_t NowUnixNanos() = 0;
  // A monotonic clock in nanoseconds, for measuring durations.
  virtual int64_t MonotonicNanos() = 0;
  // Fills `out` from a cryptographically secure generator.
  virtual Status RandomBytes(std::span<uint8_t> out) = 0;
};

// Forwards every call to another Env; subclasses override what they change.
class EnvWrapper : public Env {
 public:
  explicit EnvWrapper(Env* target) : target_(target) {}
  Env* target() const { return target_; }

  StatusOr<std::unique_ptr<SequentialFile>> NewSequentialFile(const std::string& path) override {
    return target_->NewSequentialFile(path);
  }
  StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path,
                                                          uint32_t mode) override {
    return target_->NewWritableFile(path, mode);
  }
  StatusOr<std::unique_ptr<WritableFile>> ReopenWritableFile(const std::string& path,
                                                             uint64_t keep) override {
    return target_->ReopenWritableFile(path, keep);
  }
  Status RenameFile(const std::string& from, const std::string& to) override {
    return target_->RenameFile(from, to);
  }
  Status RemoveFile(const std::string& path) override { return target_->RemoveFile(path); }
  Status SyncDir(const std::string& path) override { return target_->SyncDir(path); }
  Status SyncFileSystem(const std::string& path) override { return target_->SyncFileSystem(path); }
  bool CanSyncFileSystem(const std::string& path) override {
    return target_->CanSyncFileSystem(path);
  }
  Status CreateDirs(const std::string& path) override { return target_->CreateDirs(path); }
  StatusOr<FileInfo> Stat(const std::string& path) override { return target_->Stat(path); }
  Status SetFileTimesAndMode(const std::string& path, int64_t mtime_ns, uint32_t mode) override {
    return target_->SetFileTimesAndMode(path, mtime_ns, mode);
  }
  Status RenameInside(const std::string& from, const std::string& root,
                      const std::string& rel) override {
    return target_->RenameInside(from, root, rel);
  }
  Status SetDirectoryTimesAndModeInside(const std::string& root, const std::string& rel,
                                        int64_t mtime_ns, uint32_t mode) override {
    return target_->SetDirectoryTimesAndModeInside(root, rel, mtime_ns, mode);
  }
  int64_t NowUnixNanos() override { return target_->NowUnixNanos(); }
  int64_t MonotonicNanos() override { return target_->MonotonicNanos(); }
  Status RandomBytes(std::span<uint8_t> out) override { return target_->RandomBytes(out); }

 private:
  Env* target_;
};

// Helpers over an Env.
StatusOr<Bytes> ReadFileToBytes(Env& env, const std::string& path);
// Writes `data` to a temporary file beside `path`, syncs it, renames it over `path` and
// syncs the directory: after OK the new content is durable; on error `path` is unchanged.
Status WriteFileAtomically(Env& env, const std::string& path, ByteView data, uint32_t mode = 0600);
// The directory part of `path`, split at the platform's separators (core/platform.h:
// IsPathSeparator): "a/b/c" -> "a/b", "c" -> ".", "/c" -> "/"; on Windows also
// "C:\\dir\\f" -> "C:\\dir" and "C:\\f" -> "C:\\".
std::string DirName(const std::string& path);
// The components of a plain relative path ("a/b/c"): kPermissionDenied ("unsafe_path") for
// an empty, ".", or ".." component, which covers "", "/a", "a//b" and "a/".
StatusOr<std::vector<std::string>> PlainPathComponents(const std::string& rel);

}  // namespace cardvault

#endif  // CARDVAULT_CORE_ENV_H_
