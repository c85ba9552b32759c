// RotatingLogFile (rotating_log_file.h). Compiled only for Windows (agent/CMakeLists.txt).
#define WIN32_LEAN_AND_MEAN
#define NOMINMAX
#include <windows.h>

#include <cwchar>
#include <cwctype>

#include "agent/sync/rotating_log_file.h"

namespace cardvault {
namespace {

// How long a writer waits for another one's rotation before appending without rotating.
constexpr DWORD kLockWaitMs = 2000;

// The named mutex every writer of `path` shares. Object names take no '\' after the namespace
// and at most MAX_PATH characters: a hash (FNV-1a) of the case-folded path.
std::wstring MutexName(const std::wstring& path) {
  uint64_t hash = 14695981039346656037ull;
  for (wchar_t c : path) {
    hash ^= static_cast<uint64_t>(std::towlower(c));
    hash *= 1099511628211ull;
  }
  wchar_t hex[17];
  std::swprintf(hex, 17, L"%016llx", static_cast<unsigned long long>(hash));
  return L"Local\\cardvault-log-" + std::wstring(hex);
}

// FILE_APPEND_DATA: every write lands at the end, whoever else writes. FILE_SHARE_DELETE: the
// file can be renamed (rotated) while writers hold it.
WinHandle OpenForAppend(const std::wstring& path) {
  return WinHandle(::CreateFileW(path.c_str(), FILE_APPEND_DATA | FILE_READ_ATTRIBUTES,
                                 FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                                 OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, nullptr));
}

int64_t SizeOf(const WinHandle& h) {
  LARGE_INTEGER size = {};
  return ::GetFileSizeEx(h.get(), &size) != 0 ? size.QuadPart : 0;
}

bool SameFile(const WinHandle& a, const WinHandle& b) {
  BY_HANDLE_FILE_INFORMATION x = {}, y = {};
  return ::GetFileInformationByHandle(a.get(), &x) != 0 &&
         ::GetFileInformationByHandle(b.get(), &y) != 0 &&
         x.dwVolumeSerialNumber == y.dwVolumeSerialNumber && x.nFileIndexHigh == y.nFileIndexHigh &&
         x.nFileIndexLow == y.nFileIndexLow;
}

// Holds the named mutex for a scope; abandoned by a killed writer counts as taken. Without a
// mutex (it could not be made) there is nothing to wait for: ok() is true.
class NamedLock {
 public:
  explicit NamedLock(const WinHandle& mutex) {
    if (!mutex.valid()) return;
    const DWORD r = ::WaitForSingleObject(mutex.get(), kLockWaitMs);
    if (r == WAIT_OBJECT_0 || r == WAIT_ABANDONED) {
      held_ = mutex.get();
    } else {
      ok_ = false;
    }
  }
  ~NamedLock() {
    if (held_ != nullptr) ::ReleaseMutex(held_);
  }
  NamedLock(const NamedLock&) = delete;
  NamedLock& operator=(const NamedLock&) = delete;
  bool ok() const { return ok_; }

 private:
  HANDLE held_ = nullptr;
  bool ok_ = true;
};

}  // namespace

StatusOr<std::unique_ptr<RotatingLogFile>> RotatingLogFile::Open(const std::string& path,
                                                                 int64_t max_bytes) {
  CV_ASSIGN_OR_RETURN(std::wstring wide, WidePath(path));
  WinHandle file = OpenForAppend(wide);
  if (!file.valid()) return LastWindowsError("open the log file", path);
  HANDLE mutex = ::CreateMutexW(nullptr, FALSE, MutexName(wide).c_str());
  WinHandle lock(mutex != nullptr ? mutex : WinHandle::Invalid());
  return std::unique_ptr<RotatingLogFile>(
      new RotatingLogFile(std::move(wide), max_bytes, std::move(file), std::move(lock)));
}

RotatingLogFile::RotatingLogFile(std::wstring path, int64_t max_bytes, WinHandle file,
                                 WinHandle lock)
    : path_(std::move(path)),
      rotated_path_(path_ + L".1"),
      max_bytes_(max_bytes),
      file_(std::move(file)),
      lock_(std::move(lock)) {}

void RotatingLogFile::Append(std::string_view line) {
  int64_t size = SizeOf(file_);
  // At the cap already: another writer rotated this file away (it is path.1 now), or a
  // rotation could not be done before.
  if (size >= max_bytes_) size = CatchUpOrRotate();
  DWORD written = 0;
  ::WriteFile(file_.get(), line.data(), static_cast<DWORD>(line.size()), &written, nullptr);
  if (size + static_cast<int64_t>(line.size()) >= max_bytes_) CatchUpOrRotate();
}

int64_t RotatingLogFile::CatchUpOrRotate() {
  NamedLock lock(lock_);
  // Another writer holds the mutex for long (stopped in a debugger?): no rotation this time,
  // rather than two writers renaming at once (one would replace agent.log.1 with a new file).
  if (!lock.ok()) return SizeOf(file_);
  WinHandle current = OpenForAppend(path_);
  if (current.valid() && !SameFile(current, file_)) file_ = std::move(current);
  if (SizeOf(file_) < max_bytes_) return SizeOf(file_);
  // Renaming an open file: every writer opened it with FILE_SHARE_DELETE. A writer that has
  // not moved on yet keeps its handle on path.1 until its next line (Append's first check).
  if (::MoveFileExW(path_.c_str(), rotated_path_.c_str(), MOVEFILE_REPLACE_EXISTING) != 0) {
    WinHandle fresh = OpenForAppend(path_);
    if (fresh.valid()) file_ = std::move(fresh);
  }
  return SizeOf(file_);
}

}  // namespace cardvault
