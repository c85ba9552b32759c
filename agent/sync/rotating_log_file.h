// Windows only: the agent's log file, appended to and rotated by size so that an agent that runs
// for years keeps at most two files: `path` (the newest lines) and `path`.1 (the ones before).
// Free of <windows.h>. Used by log_windows.cc; docs/windows.md, "The agent's log".
#ifndef CARDVAULT_AGENT_SYNC_ROTATING_LOG_FILE_H_
#define CARDVAULT_AGENT_SYNC_ROTATING_LOG_FILE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/status_or.h"
#include "core/windows_util.h"

namespace cardvault {

class RotatingLogFile {
 public:
  // Opens `path` for appending (created if missing; its directory MUST exist). Once the file
  // has reached `max_bytes`, it is renamed to `path`.1 (replacing the older one) and a new
  // `path` is started. Errors: the file cannot be created or opened.
  static StatusOr<std::unique_ptr<RotatingLogFile>> Open(const std::string& path,
                                                         int64_t max_bytes);

  // Appends `line` whole, at the end of the file, then rotates if the file has reached
  // max_bytes: a line is never split and never dropped (when the rotation cannot be done, e.g.
  // another program holds `path`.1 open without sharing it, the line goes to `path` and the
  // rotation is tried again at the next line). Other processes MAY append to the same path with
  // their own RotatingLogFile: the rotation is done by one of them under a named mutex, and a
  // writer whose file was rotated away moves to the new `path` before its next line. Not
  // thread-safe: one thread at a time (log_windows.cc serializes).
  void Append(std::string_view line);

 private:
  RotatingLogFile(std::wstring path, int64_t max_bytes, WinHandle file, WinHandle lock);
  // Under the named mutex: moves to the current `path` if another writer rotated it, then
  // rotates it if it has reached max_bytes. Returns the size of the file written next.
  int64_t CatchUpOrRotate();

  const std::wstring path_;
  const std::wstring rotated_path_;  // path_ + L".1"
  const int64_t max_bytes_;
  WinHandle file_;  // open for appending; FILE_SHARE_DELETE, so it can be renamed while open
  WinHandle lock_;  // the named mutex of path_ (not valid when it could not be made)
};

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_SYNC_ROTATING_LOG_FILE_H_
