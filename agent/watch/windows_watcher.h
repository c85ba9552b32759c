// WindowsWatcher: the Windows Watcher, one recursive ReadDirectoryChangesW on the root with
// overlapped I/O. Compiled for Windows only; <windows.h> stays in the .cc.
#ifndef CARDVAULT_AGENT_WATCH_WINDOWS_WATCHER_H_
#define CARDVAULT_AGENT_WATCH_WINDOWS_WATCHER_H_

#include <cstddef>
#include <memory>
#include <string>

#include "agent/watch/ignore_rules.h"
#include "agent/watch/watcher.h"

namespace cardvault {

struct WindowsWatcherOptions {
  // The buffer ReadDirectoryChangesW fills; Windows keeps one of the same size for changes
  // that arrive between two reads, and reports an overflow (answered by kRescan) beyond it.
  // MUST be a multiple of 4 and at most 64 KiB (the limit for a folder on a network share).
  size_t buffer_bytes = 64 * 1024;
  // How often a file that is being written is checked for having been closed (Windows
  // reports no close): every `close_check_ms` while one is open.
  int close_check_ms = 200;
};

// What Windows reports, as the Watcher contract (watcher.h) wants it:
// - added or written files are kModified; the watcher then opens each, without sharing write
//   access, every close_check_ms: once that succeeds (no one has it open for writing) it
//   reports kClosed, so SettleTracker settles files as on Linux. The check holds the file
//   open for a moment only; a writer opening it in that moment gets a sharing violation;
// - a rename is a pair (old name, new name): kRemoved for the old, kAppeared for the new;
//   a directory moved or created keeps its content: each entry below it is reported as
//   kAppeared (Windows reports nothing for content that was moved in with it);
// - kRemoved says whether a directory went (the watcher keeps the tree's directories);
// - a directory's own changes (its times, its attributes) are not reported: Env gives every
//   directory the same mode on Windows, so there is nothing to record;
// - an overflow (ERROR_NOTIFY_ENUM_DIR, or a read that returns no bytes) is kRescan.
class WindowsWatcher final : public Watcher {
 public:
  // Watches `root` recursively. Fails if `root` is not a readable directory.
  static StatusOr<std::unique_ptr<WindowsWatcher>> New(const std::string& root, IgnoreRules rules,
                                                       WindowsWatcherOptions options = {});
  ~WindowsWatcher() override;  // cancels the outstanding read and waits for it

  StatusOr<std::vector<WatchEvent>> Poll(int timeout_ms) override;
  void Wake() override;

  // Files reported kModified and not yet seen closed.
  size_t open_for_writing() const;

 private:
  struct Impl;
  explicit WindowsWatcher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_WATCH_WINDOWS_WATCHER_H_
