// The Windows Env: files through Win32 (UTF-8 paths converted to UTF-16), clocks, and
// OpenSSL's DRBG. Compiled only for Windows (core/CMakeLists.txt); <windows.h> stays here.
//
// Differences from the POSIX Env, all within core/env.h's contracts (docs/windows.md):
// - Permission bits are not kept: Stat reports 0600 (0400 for a read-only file) for files and
//   0700 for directories, and a mode without the owner's write bit makes a file read-only.
// - Times have 100 ns resolution (FILETIME).
// - SyncDir does nothing: NTFS journals directory entries, and Windows has no directory fsync.
// - Reparse points (symbolic links and junctions alike) are what symlinks are on POSIX: Stat
//   reports them as symlinks, NewWritableFile, ReopenWritableFile and the *Inside calls never
//   go through one. The *Inside walk keeps every directory it passed open without
//   FILE_SHARE_DELETE, so none of them can be renamed or replaced until the operation is done.
#define WIN32_LEAN_AND_MEAN
#define NOMINMAX
#include <windows.h>
// clang-format off: after windows.h
#include <openssl/rand.h>
// clang-format on

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/env.h"
#include "core/windows_util.h"

namespace cardvault {
namespace {

constexpr uint32_t kModeDirectory = 0040000;
constexpr uint32_t kModeRegular = 0100000;
constexpr uint32_t kModeSymlink = 0120000;
// FILETIME counts 100 ns ticks since 1601-01-01; this many separate it from the Unix epoch.
constexpr int64_t kUnixEpochTicks = 116444736000000000;

Status LastError(std::string_view operation, std::string_view what) {
  return LastWindowsError(operation, what);
}

Status UnsafePath(const std::string& shown) {
  return PermissionDeniedError(
      "refusing to go through the reparse point (link or junction) " + shown, "unsafe_path");
}

StatusOr<std::wstring> Wide(const std::string& path) { return WidePath(path); }

int64_t FileTimeToUnixNanos(const FILETIME& t) {
  const int64_t ticks = static_cast<int64_t>((uint64_t{t.dwHighDateTime} << 32) | t.dwLowDateTime);
  return (ticks - kUnixEpochTicks) * 100;
}

FILETIME UnixNanosToFileTime(int64_t ns) {
  // Floor division, so times before 1970 round down as well.
  const int64_t ticks = (ns >= 0 ? ns / 100 : (ns - 99) / 100) + kUnixEpochTicks;
  FILETIME t;
  t.dwLowDateTime = static_cast<DWORD>(static_cast<uint64_t>(ticks) & 0xffffffffu);
  t.dwHighDateTime = static_cast<DWORD>(static_cast<uint64_t>(ticks) >> 32);
  return t;
}

using Handle = WinHandle;

// Opens `path` itself: a reparse point there is opened, not followed. Directories too.
StatusOr<Handle> OpenNoFollow(const std::string& path, DWORD access, DWORD share, DWORD disposition,
                              const char* what) {
  CV_ASSIGN_OR_RETURN(std::wstring wide, Wide(path));
  Handle h(::CreateFileW(
      wide.c_str(), access, share, nullptr, disposition,
      FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS, nullptr));
  if (!h.valid()) return LastError(what, path);
  return h;
}

// The information of the file `h` opened at `path`. A reparse point shows in the handle's
// attributes (Windows opens the link itself); Wine instead opens the target of a Unix symlink
// and shows the link only in the path's attributes, so those count too.
StatusOr<BY_HANDLE_FILE_INFORMATION> InfoOf(const Handle& h, const std::string& path) {
  BY_HANDLE_FILE_INFORMATION info;
  if (::GetFileInformationByHandle(h.get(), &info) == 0) return LastError("stat", path);
  CV_ASSIGN_OR_RETURN(std::wstring wide, Wide(path));
  const DWORD at_path = ::GetFileAttributesW(wide.c_str());
  if (at_path != INVALID_FILE_ATTRIBUTES && (at_path & FILE_ATTRIBUTE_REPARSE_POINT) != 0) {
    info.dwFileAttributes |= FILE_ATTRIBUTE_REPARSE_POINT;
  }
  return info;
}

bool IsReparsePoint(const BY_HANDLE_FILE_INFORMATION& info) {
  return (info.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) != 0;
}
bool IsDirectory(const BY_HANDLE_FILE_INFORMATION& info) {
  return (info.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) != 0;
}

// Writes all of `data` at `offset` (explicit offsets: WriteAt and Append never share a
// file pointer).
Status WriteAllAt(HANDLE h, uint64_t offset, ByteView data, const std::string& path) {
  while (!data.empty()) {
    const DWORD chunk = static_cast<DWORD>(std::min<size_t>(data.size(), 1u << 30));
    OVERLAPPED at = {};
    at.Offset = static_cast<DWORD>(offset & 0xffffffffu);
    at.OffsetHigh = static_cast<DWORD>(offset >> 32);
    DWORD written = 0;
    if (::WriteFile(h, data.data(), chunk, &written, &at) == 0) return LastError("write", path);
    if (written == 0) return IoError("write " + path + ": nothing written");
    data = data.subspan(written);
    offset += written;
  }
  return Status::Ok();
}

class WindowsSequentialFile final : public SequentialFile {
 public:
  WindowsSequentialFile(Handle h, std::string path) : h_(std::move(h)), path_(std::move(path)) {}

  StatusOr<size_t> Read(std::span<uint8_t> buf) override {
    const DWORD want = static_cast<DWORD>(std::min<size_t>(buf.size(), 1u << 30));
    DWORD got = 0;
    if (::ReadFile(h_.get(), buf.data(), want, &got, nullptr) == 0) {
      if (::GetLastError() == ERROR_HANDLE_EOF) return size_t{0};
      return LastError("read", path_);
    }
    return static_cast<size_t>(got);
  }

 private:
  Handle h_;
  std::string path_;
};

class WindowsWritableFile final : public WritableFile {
 public:
  // `offset`: where appends continue (the kept size, for a reopened file).
  WindowsWritableFile(Handle h, std::string path, uint64_t offset = 0)
      : h_(std::move(h)), path_(std::move(path)), offset_(offset) {}

  Status Append(ByteView data) override {
    if (!h_.valid()) return FailedPreconditionError("append to closed file " + path_);
    CV_RETURN_IF_ERROR(WriteAllAt(h_.get(), offset_, data, path_));
    offset_ += data.size();
    return Status::Ok();
  }

  Status WriteAt(uint64_t offset, ByteView data) override {
    if (!h_.valid()) return FailedPreconditionError("write to closed file " + path_);
    return WriteAllAt(h_.get(), offset, data, path_);
  }

  Status Sync() override {
    if (!h_.valid()) return FailedPreconditionError("sync of closed file " + path_);
    if (::FlushFileBuffers(h_.get()) == 0) return LastError("flush", path_);
    return Status::Ok();
  }

  Status Close() override {
    if (!h_.valid()) return Status::Ok();
    if (!h_.Close()) return LastError("close", path_);
    return Status::Ok();
  }

 private:
  Handle h_;
  std::string path_;
  uint64_t offset_;
};

// The directories of root/rel, opened one at a time from `root` and kept open without
// FILE_SHARE_DELETE, so that none of them can be renamed, removed or swapped for a link
// while the handles live. A reparse point on the way fails with kPermissionDenied
// ("unsafe_path"). `to_parent`: stop at rel's parent, else open rel itself (a directory too)
// with `last_access`.
class InsideWalk {
 public:
  static StatusOr<InsideWalk> Open(const std::string& root, const std::string& rel, bool to_parent,
                                   DWORD last_access) {
    CV_ASSIGN_OR_RETURN(std::vector<std::string> parts, PlainPathComponents(rel));
    InsideWalk walk;
    CV_ASSIGN_OR_RETURN(Handle top, OpenNoFollow(root, FILE_READ_ATTRIBUTES, kShare, OPEN_EXISTING,
                                                 "open directory"));
    walk.handles_.push_back(std::move(top));
    const size_t steps = parts.size() - (to_parent ? 1 : 0);
    walk.path_ = root;
    for (size_t i = 0; i < steps; ++i) {
      walk.path_ += "\\" + parts[i];
      const DWORD access = i + 1 == steps ? last_access : FILE_READ_ATTRIBUTES;
      CV_ASSIGN_OR_RETURN(
          Handle h, OpenNoFollow(walk.path_, access, kShare, OPEN_EXISTING, "open directory"));
      CV_ASSIGN_OR_RETURN(BY_HANDLE_FILE_INFORMATION info, InfoOf(h, walk.path_));
      if (IsReparsePoint(info)) return UnsafePath(walk.path_);
      if (!IsDirectory(info)) return IoError("open directory " + walk.path_ + ": not a directory");
      walk.handles_.push_back(std::move(h));
    }
    walk.last_ = parts.back();
    return walk;
  }

  // The directory reached (rel's parent, or rel), as a path and an open handle.
  const std::string& path() const { return path_; }
  HANDLE handle() const { return handles_.back().get(); }
  const std::string& last_name() const { return last_; }

 private:
  static constexpr DWORD kShare = FILE_SHARE_READ | FILE_SHARE_WRITE;
  InsideWalk() = default;
  std::vector<Handle> handles_;
  std::string path_;
  std::string last_;
};

Status SetMtime(HANDLE h, int64_t mtime_ns, const std::string& path) {
  const FILETIME t = UnixNanosToFileTime(mtime_ns);
  if (::SetFileTime(h, nullptr, nullptr, &t) == 0) return LastError("set times of", path);
  return Status::Ok();
}

class WindowsEnv final : public Env {
 public:
  StatusOr<std::unique_ptr<SequentialFile>> NewSequentialFile(const std::string& path) override {
    CV_ASSIGN_OR_RETURN(std::wstring wide, Wide(path));
    Handle h(::CreateFileW(wide.c_str(), GENERIC_READ,
                           FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                           OPEN_EXISTING, FILE_FLAG_SEQUENTIAL_SCAN, nullptr));
    if (!h.valid()) return LastError("open", path);
    return std::unique_ptr<SequentialFile>(new WindowsSequentialFile(std::move(h), path));
  }

  StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path,
                                                          uint32_t mode) override {
    CV_ASSIGN_OR_RETURN(Handle h, OpenRegularNoFollow(path, OPEN_ALWAYS, "create"));
    FILE_END_OF_FILE_INFO empty = {};
    if (::SetFileInformationByHandle(h.get(), FileEndOfFileInfo, &empty, sizeof(empty)) == 0) {
      return LastError("truncate", path);
    }
    (void)mode;  // no permission bits on Windows: the file inherits its directory's ACL
    return std::unique_ptr<WritableFile>(new WindowsWritableFile(std::move(h), path));
  }

  StatusOr<std::unique_ptr<WritableFile>> ReopenWritableFile(const std::string& path,
                                                             uint64_t keep) override {
    CV_ASSIGN_OR_RETURN(Handle h, OpenRegularNoFollow(path, OPEN_EXISTING, "open"));
    LARGE_INTEGER size;
    if (::GetFileSizeEx(h.get(), &size) == 0) return LastError("stat", path);
    if (keep > static_cast<uint64_t>(size.QuadPart)) {
      return InvalidArgumentError(path + " is shorter than the part to keep");
    }
    FILE_END_OF_FILE_INFO end = {};
    end.EndOfFile.QuadPart = static_cast<LONGLONG>(keep);
    if (::SetFileInformationByHandle(h.get(), FileEndOfFileInfo, &end, sizeof(end)) == 0) {
      return LastError("truncate", path);
    }
    return std::unique_ptr<WritableFile>(new WindowsWritableFile(std::move(h), path, keep));
  }

  Status RenameFile(const std::string& from, const std::string& to) override {
    CV_ASSIGN_OR_RETURN(std::wstring wide_from, Wide(from));
    CV_ASSIGN_OR_RETURN(std::wstring wide_to, Wide(to));
    if (::MoveFileExW(wide_from.c_str(), wide_to.c_str(),
                      MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH) == 0) {
      return LastError("rename", from);
    }
    return Status::Ok();
  }

  Status RemoveFile(const std::string& path) override {
    CV_ASSIGN_OR_RETURN(std::wstring wide, Wide(path));
    if (::DeleteFileW(wide.c_str()) == 0) return LastError("remove", path);
    return Status::Ok();
  }

  // The volume holding `path`, opened for writing (which needs administrator rights).
  StatusOr<Handle> OpenVolume(const std::string& path) {
    CV_ASSIGN_OR_RETURN(std::wstring wide, Wide(path));
    wchar_t mount[MAX_PATH + 1];
    if (::GetVolumePathNameW(wide.c_str(), mount, MAX_PATH + 1) == 0) {
      return LastError("find the volume of", path);
    }
    std::wstring volume = L"\\\\.\\" + std::wstring(mount);
    if (!volume.empty() && volume.back() == L'\\') volume.pop_back();
    Handle h(::CreateFileW(volume.c_str(), GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE,
                           nullptr, OPEN_EXISTING, 0, nullptr));
    if (!h.valid()) return LastError("open the volume of", path);
    return h;
  }

  Status SyncDir(const std::string& path) override {
    (void)path;  // Windows has no directory fsync; NTFS journals its directory entries
    return Status::Ok();
  }

  Status SyncFileSystem(const std::string& path) override {
    // Flushing a whole volume needs administrator rights on Windows: a normal user gets
    // kPermissionDenied and makes each file durable with WritableFile::Sync instead.
    CV_ASSIGN_OR_RETURN(Handle h, OpenVolume(path));
    if (::FlushFileBuffers(h.get()) == 0) return LastError("flush the volume of", path);
    return Status::Ok();
  }

  // Tries it: some volumes open for writing and still refuse the flush (Wine's answer
  // ERROR_INVALID_FUNCTION), and a caller told yes stops syncing each file.
  bool CanSyncFileSystem(const std::string& path) override { return SyncFileSystem(path).ok(); }

  Status CreateDirs(const std::string& path) override {
    if (path.empty()) return Status::Ok();
    CV_ASSIGN_OR_RETURN(std::wstring wide, Wide(path));
    const DWORD attributes = ::GetFileAttributesW(wide.c_str());
    if (attributes != INVALID_FILE_ATTRIBUTES) {
      if ((attributes & FILE_ATTRIBUTE_DIRECTORY) != 0) return Status::Ok();
      return FailedPreconditionError(path + " exists and is not a directory");
    }
    const size_t slash = path.find_last_of("/\\");
    // Stop at a drive ("C:") or a root: they exist or cannot be made.
    if (slash != std::string::npos && slash > 0 && path[slash - 1] != ':') {
      CV_RETURN_IF_ERROR(CreateDirs(path.substr(0, slash)));
    }
    if (::CreateDirectoryW(wide.c_str(), nullptr) == 0 &&
        ::GetLastError() != ERROR_ALREADY_EXISTS) {
      return LastError("create directory", path);
    }
    return Status::Ok();
  }

  StatusOr<FileInfo> Stat(const std::string& path) override {
    CV_ASSIGN_OR_RETURN(Handle h,
                        OpenNoFollow(path, FILE_READ_ATTRIBUTES,
                                     FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                                     OPEN_EXISTING, "stat"));
    CV_ASSIGN_OR_RETURN(BY_HANDLE_FILE_INFORMATION info, InfoOf(h, path));
    FileInfo out;
    out.size = (uint64_t{info.nFileSizeHigh} << 32) | info.nFileSizeLow;
    out.mtime_ns = FileTimeToUnixNanos(info.ftLastWriteTime);
    out.inode = (uint64_t{info.nFileIndexHigh} << 32) | info.nFileIndexLow;
    out.is_symlink = IsReparsePoint(info);
    out.is_directory = !out.is_symlink && IsDirectory(info);
    out.is_regular = !out.is_symlink && !out.is_directory;
    const bool read_only = (info.dwFileAttributes & FILE_ATTRIBUTE_READONLY) != 0;
    if (out.is_symlink) {
      out.mode = kModeSymlink | 0777;
    } else if (out.is_directory) {
      out.mode = kModeDirectory | 0700;
    } else {
      out.mode = kModeRegular | (read_only ? 0400 : 0600);
    }
    return out;
  }

  Status SetFileTimesAndMode(const std::string& path, int64_t mtime_ns, uint32_t mode) override {
    CV_ASSIGN_OR_RETURN(std::wstring wide, Wide(path));
    DWORD attributes = ::GetFileAttributesW(wide.c_str());
    if (attributes == INVALID_FILE_ATTRIBUTES) return LastError("stat", path);
    const bool read_only = (mode & 0200) == 0 && (attributes & FILE_ATTRIBUTE_DIRECTORY) == 0;
    // Writable first (a read-only file refuses new times), read-only last.
    const DWORD writable = attributes & ~DWORD{FILE_ATTRIBUTE_READONLY};
    if (writable != attributes && ::SetFileAttributesW(wide.c_str(), writable) == 0) {
      return LastError("set attributes of", path);
    }
    {
      Handle h(::CreateFileW(wide.c_str(), FILE_WRITE_ATTRIBUTES,
                             FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                             OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, nullptr));
      if (!h.valid()) return LastError("set times of", path);
      CV_RETURN_IF_ERROR(SetMtime(h.get(), mtime_ns, path));
    }
    if (read_only && ::SetFileAttributesW(wide.c_str(), writable | FILE_ATTRIBUTE_READONLY) == 0) {
      return LastError("set attributes of", path);
    }
    return Status::Ok();
  }

  Status RenameInside(const std::string& from, const std::string& root,
                      const std::string& rel) override {
    CV_ASSIGN_OR_RETURN(InsideWalk parent,
                        InsideWalk::Open(root, rel, /*to_parent=*/true, FILE_READ_ATTRIBUTES));
    // The parent and every directory above it stay open (no FILE_SHARE_DELETE) until the
    // rename is done, so the path names what was checked.
    return RenameFile(from, parent.path() + "\\" + parent.last_name());
  }

  Status SetDirectoryTimesAndModeInside(const std::string& root, const std::string& rel,
                                        int64_t mtime_ns, uint32_t mode) override {
    (void)mode;  // directories have no permission bits here (FILE_ATTRIBUTE_READONLY on a
                 // directory means something else to Explorer)
    CV_ASSIGN_OR_RETURN(InsideWalk dir,
                        InsideWalk::Open(root, rel, /*to_parent=*/false,
                                         FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES));
    return SetMtime(dir.handle(), mtime_ns, dir.path());
  }

  int64_t NowUnixNanos() override {
    FILETIME now;
    ::GetSystemTimePreciseAsFileTime(&now);
    return FileTimeToUnixNanos(now);
  }

  int64_t MonotonicNanos() override {
    LARGE_INTEGER count, frequency;
    ::QueryPerformanceCounter(&count);
    ::QueryPerformanceFrequency(&frequency);
    const int64_t f = frequency.QuadPart;
    return count.QuadPart / f * 1000000000 + count.QuadPart % f * 1000000000 / f;
  }

  Status RandomBytes(std::span<uint8_t> out) override {
    if (out.empty()) return Status::Ok();
    if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) {
      return InternalError("the random number generator failed");
    }
    return Status::Ok();
  }

 private:
  // Opens the regular file `path` for writing, never through a reparse point at `path`
  // (that fails with kPermissionDenied, "unsafe_path", before anything is written).
  static StatusOr<Handle> OpenRegularNoFollow(const std::string& path, DWORD disposition,
                                              const char* what) {
    CV_ASSIGN_OR_RETURN(Handle h,
                        OpenNoFollow(path, GENERIC_WRITE | FILE_READ_ATTRIBUTES,
                                     FILE_SHARE_READ | FILE_SHARE_DELETE, disposition, what));
    CV_ASSIGN_OR_RETURN(BY_HANDLE_FILE_INFORMATION info, InfoOf(h, path));
    if (IsReparsePoint(info)) return UnsafePath(path);
    if (IsDirectory(info)) return FailedPreconditionError(path + " is not a regular file");
    return h;
  }
};

}  // namespace

Env* Env::Default() {
  static Env* env = new WindowsEnv();
  return env;
}

}  // namespace cardvault
