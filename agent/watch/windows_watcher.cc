// WindowsWatcher implementation: ReadDirectoryChangesW (recursive, overlapped) into one of two
// buffers while the other is translated, an event for Wake(), and a set of the tree's
// directories (Windows does not say whether a removed name was a directory).
#define WIN32_LEAN_AND_MEAN
#define NOMINMAX
#include <windows.h>
// clang-format off: after windows.h
#include "agent/watch/windows_watcher.h"
// clang-format on

#include <algorithm>
#include <cstddef>
#include <optional>
#include <set>
#include <vector>

#include "agent/watch/dir_listing.h"
#include "core/env.h"
#include "core/windows_util.h"

namespace cardvault {
namespace {

constexpr DWORD kFilter = FILE_NOTIFY_CHANGE_FILE_NAME | FILE_NOTIFY_CHANGE_DIR_NAME |
                          FILE_NOTIFY_CHANGE_ATTRIBUTES | FILE_NOTIFY_CHANGE_SIZE |
                          FILE_NOTIFY_CHANGE_LAST_WRITE | FILE_NOTIFY_CHANGE_CREATION;

// Erases `path` and everything below it from `set`; true if `path` itself was there.
bool EraseTree(std::set<std::string>& set, const std::string& path) {
  const bool had = set.erase(path) > 0;
  const std::string prefix = path + "/";
  for (auto it = set.lower_bound(prefix);
       it != set.end() && it->compare(0, prefix.size(), prefix) == 0;) {
    it = set.erase(it);
  }
  return had;
}

}  // namespace

struct WindowsWatcher::Impl {
  std::string root;
  IgnoreRules rules;
  WindowsWatcherOptions options;
  WinHandle dir;
  WinHandle io_event;    // manual reset: the outstanding read completed
  WinHandle wake_event;  // auto reset: Wake()
  OVERLAPPED overlapped{};
  std::vector<DWORD> active, spare;  // DWORD-aligned, as ReadDirectoryChangesW requires
  bool pending = false;
  std::set<std::string> dirs;     // the tree's directories, relative
  std::set<std::string> writing;  // reported kModified, not yet seen closed
  std::optional<std::string> rename_old;
  ULONGLONG next_close_check = 0;

  Status Arm();
  Status Collect(std::vector<WatchEvent>& out);
  void Translate(const std::vector<DWORD>& buffer, DWORD bytes, std::vector<WatchEvent>& out);
  void Added(const std::string& rel, bool moved, std::vector<WatchEvent>& out);
  void Modified(const std::string& rel, std::vector<WatchEvent>& out);
  void Removed(const std::string& rel, std::vector<WatchEvent>& out);
  void FlushRename(std::vector<WatchEvent>& out);
  // Records the directories below `rel`, reporting them and their files as kAppeared when
  // `out` is given.
  void Walk(const std::string& rel, std::vector<WatchEvent>* out);
  void CheckClosed(std::vector<WatchEvent>& out);
  std::string Full(const std::string& rel) const { return rel.empty() ? root : root + "/" + rel; }
};

Status WindowsWatcher::Impl::Arm() {
  ::ResetEvent(io_event.get());
  overlapped = OVERLAPPED{};
  overlapped.hEvent = io_event.get();
  if (::ReadDirectoryChangesW(dir.get(), active.data(), static_cast<DWORD>(active.size() * 4), TRUE,
                              kFilter, nullptr, &overlapped, nullptr) == 0) {
    return LastWindowsError("watch (ReadDirectoryChangesW)", root);
  }
  pending = true;
  return Status::Ok();
}

Status WindowsWatcher::Impl::Collect(std::vector<WatchEvent>& out) {
  DWORD bytes = 0;
  const BOOL ok = ::GetOverlappedResult(dir.get(), &overlapped, &bytes, FALSE);
  const DWORD err = ok ? ERROR_SUCCESS : ::GetLastError();
  if (err == ERROR_IO_INCOMPLETE) return Status::Ok();
  pending = false;
  if (!ok && err != ERROR_NOTIFY_ENUM_DIR) {
    return Status(WindowsErrorToStatus(err, "watch", root).code(),
                  "cannot watch " + root + " any more (" + WindowsErrorText(err) +
                      "); if the folder was moved or deleted, put it back and restart the agent",
                  "watch_failed");
  }
  active.swap(spare);  // read into the other buffer while this one is translated
  CV_RETURN_IF_ERROR(Arm());
  if (!ok || bytes == 0) {  // the system's buffer overflowed: changes were lost
    out.push_back({WatchEvent::Kind::kRescan, "", false});
    rename_old.reset();
    dirs.clear();
    Walk("", nullptr);
    return Status::Ok();
  }
  Translate(spare, bytes, out);
  return Status::Ok();
}

void WindowsWatcher::Impl::Translate(const std::vector<DWORD>& buffer, DWORD bytes,
                                     std::vector<WatchEvent>& out) {
  const char* base = reinterpret_cast<const char*>(buffer.data());
  const size_t capacity = buffer.size() * sizeof(DWORD);
  constexpr size_t kHeader = offsetof(FILE_NOTIFY_INFORMATION, FileName);
  // `bytes` may end right after the last name (Wine counts no padding, and its count can fall
  // short of the last name): a name is read up to the buffer's end, never beyond it.
  for (size_t offset = 0; offset + kHeader < bytes;) {
    const auto* info = reinterpret_cast<const FILE_NOTIFY_INFORMATION*>(base + offset);
    const size_t name_bytes = std::min<size_t>(info->FileNameLength, capacity - offset - kHeader);
    std::string rel = Utf8FromWide(std::wstring_view(info->FileName, name_bytes / sizeof(WCHAR)));
    std::replace(rel.begin(), rel.end(), '\\', '/');
    if (info->Action == FILE_ACTION_RENAMED_NEW_NAME) {
      std::optional<std::string> old = std::exchange(rename_old, std::nullopt);
      if (old) Removed(*old, out);
      Added(rel, /*moved=*/true, out);
    } else {
      FlushRename(out);
      switch (info->Action) {
        case FILE_ACTION_ADDED:
          Added(rel, /*moved=*/false, out);
          break;
        case FILE_ACTION_REMOVED:
          Removed(rel, out);
          break;
        case FILE_ACTION_MODIFIED:
          Modified(rel, out);
          break;
        case FILE_ACTION_RENAMED_OLD_NAME:
          rename_old = std::move(rel);
          break;
        default:
          break;
      }
    }
    if (info->NextEntryOffset == 0) break;
    offset += info->NextEntryOffset;
  }
  FlushRename(out);
}

// An old name without its new one: moved out of the tree.
void WindowsWatcher::Impl::FlushRename(std::vector<WatchEvent>& out) {
  if (std::optional<std::string> old = std::exchange(rename_old, std::nullopt)) Removed(*old, out);
}

void WindowsWatcher::Impl::Added(const std::string& rel, bool moved, std::vector<WatchEvent>& out) {
  if (rel.empty() || rules.IsIgnored(rel)) return;
  StatusOr<FileInfo> info = Env::Default()->Stat(Full(rel));
  if (!info.ok()) return;  // gone again: its removal follows
  if (info->is_directory) {
    dirs.insert(rel);
    out.push_back({WatchEvent::Kind::kAppeared, rel, true});
    Walk(rel, &out);
  } else if (moved || !info->is_regular) {
    out.push_back({WatchEvent::Kind::kAppeared, rel, false});  // a link: the engine skips it
  } else {
    out.push_back({WatchEvent::Kind::kModified, rel, false});
    writing.insert(rel);
    next_close_check = 0;  // it may be closed already
  }
}

void WindowsWatcher::Impl::Modified(const std::string& rel, std::vector<WatchEvent>& out) {
  if (rel.empty() || rules.IsIgnored(rel) || dirs.count(rel) > 0) return;
  out.push_back({WatchEvent::Kind::kModified, rel, false});
  writing.insert(rel);
  next_close_check = 0;
}

void WindowsWatcher::Impl::Removed(const std::string& rel, std::vector<WatchEvent>& out) {
  if (rel.empty() || rules.IsIgnored(rel)) return;
  const bool is_dir = EraseTree(dirs, rel);
  EraseTree(writing, rel);
  out.push_back({WatchEvent::Kind::kRemoved, rel, is_dir});
}

void WindowsWatcher::Impl::Walk(const std::string& rel, std::vector<WatchEvent>* out) {
  StatusOr<std::vector<std::string>> names = ListDirectory(Full(rel));
  if (!names.ok()) return;  // gone or unreadable: a later event or scan sees it
  for (const std::string& name : *names) {
    const std::string child = rel.empty() ? name : rel + "/" + name;
    if (rules.IsIgnored(child)) continue;
    StatusOr<FileInfo> info = Env::Default()->Stat(Full(child));
    if (!info.ok()) continue;
    if (info->is_directory) dirs.insert(child);
    if (out != nullptr) out->push_back({WatchEvent::Kind::kAppeared, child, info->is_directory});
    if (info->is_directory) Walk(child, out);
  }
}

// A file no one holds open for writing can be opened without sharing write access.
void WindowsWatcher::Impl::CheckClosed(std::vector<WatchEvent>& out) {
  const ULONGLONG now = ::GetTickCount64();
  if (writing.empty() || now < next_close_check) return;
  next_close_check = now + static_cast<ULONGLONG>(options.close_check_ms);
  for (auto it = writing.begin(); it != writing.end();) {
    StatusOr<std::wstring> wide = WidePath(Full(*it));
    HANDLE h = wide.ok()
                   ? ::CreateFileW(wide->c_str(), GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_DELETE,
                                   nullptr, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr)
                   : INVALID_HANDLE_VALUE;
    const DWORD err = h == INVALID_HANDLE_VALUE ? ::GetLastError() : ERROR_SUCCESS;
    if (h != INVALID_HANDLE_VALUE) ::CloseHandle(h);
    if (wide.ok() && err == ERROR_SHARING_VIOLATION) {
      ++it;  // still open for writing
      continue;
    }
    // Closed; or gone (its removal follows); or unreadable, when only the settle delay can
    // tell: SettleTracker checks the file again anyway.
    if (err != ERROR_FILE_NOT_FOUND && err != ERROR_PATH_NOT_FOUND) {
      out.push_back({WatchEvent::Kind::kClosed, *it, false});
    }
    it = writing.erase(it);
  }
}

StatusOr<std::unique_ptr<WindowsWatcher>> WindowsWatcher::New(const std::string& root,
                                                              IgnoreRules rules,
                                                              WindowsWatcherOptions options) {
  if (options.buffer_bytes < 4096 || options.buffer_bytes % 4 != 0 ||
      options.buffer_bytes > 64 * 1024) {
    return InvalidArgumentError("the watch buffer must be 4-64 KiB, a multiple of 4");
  }
  CV_ASSIGN_OR_RETURN(FileInfo info, Env::Default()->Stat(root + "/."));
  if (!info.is_directory) return FailedPreconditionError(root + " is not a directory");
  auto m = std::make_unique<Impl>();
  m->root = root;
  m->rules = std::move(rules);
  m->options = options;
  CV_ASSIGN_OR_RETURN(std::wstring wide, WidePath(root));
  m->dir = WinHandle(::CreateFileW(
      wide.c_str(), FILE_LIST_DIRECTORY, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
      nullptr, OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OVERLAPPED, nullptr));
  if (!m->dir.valid()) return LastWindowsError("watch", root);
  m->io_event = WinHandle(::CreateEventW(nullptr, TRUE, FALSE, nullptr));
  m->wake_event = WinHandle(::CreateEventW(nullptr, FALSE, FALSE, nullptr));
  if (!m->io_event.valid() || !m->wake_event.valid()) return LastWindowsError("CreateEvent", root);
  m->active.resize(options.buffer_bytes / 4);
  m->spare.resize(options.buffer_bytes / 4);
  CV_RETURN_IF_ERROR(m->Arm());  // first, so nothing after New() returns is missed
  m->Walk("", nullptr);
  return std::unique_ptr<WindowsWatcher>(new WindowsWatcher(std::move(m)));
}

WindowsWatcher::WindowsWatcher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

WindowsWatcher::~WindowsWatcher() {
  if (impl_->pending) {
    DWORD bytes = 0;
    ::CancelIoEx(impl_->dir.get(), &impl_->overlapped);
    ::GetOverlappedResult(impl_->dir.get(), &impl_->overlapped, &bytes, TRUE);
  }
}

void WindowsWatcher::Wake() { ::SetEvent(impl_->wake_event.get()); }

size_t WindowsWatcher::open_for_writing() const { return impl_->writing.size(); }

StatusOr<std::vector<WatchEvent>> WindowsWatcher::Poll(int timeout_ms) {
  Impl& m = *impl_;
  std::vector<WatchEvent> out;
  DWORD wait = timeout_ms < 0 ? INFINITE : static_cast<DWORD>(timeout_ms);
  if (!m.writing.empty())
    wait = std::min<DWORD>(wait, static_cast<DWORD>(m.options.close_check_ms));
  HANDLE handles[2] = {m.io_event.get(), m.wake_event.get()};
  if (::WaitForMultipleObjects(2, handles, FALSE, wait) == WAIT_FAILED) {
    return LastWindowsError("wait for changes under", m.root);
  }
  if (m.pending && ::WaitForSingleObject(m.io_event.get(), 0) == WAIT_OBJECT_0) {
    CV_RETURN_IF_ERROR(m.Collect(out));
  }
  m.CheckClosed(out);
  return out;
}

StatusOr<std::unique_ptr<Watcher>> NewPlatformWatcher(const std::string& root, IgnoreRules rules) {
  CV_ASSIGN_OR_RETURN(std::unique_ptr<WindowsWatcher> w,
                      WindowsWatcher::New(root, std::move(rules)));
  return std::unique_ptr<Watcher>(std::move(w));
}

}  // namespace cardvault
