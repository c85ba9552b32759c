// Log on Windows: each line on stderr (when there is a console or a pipe) and appended to
// %LOCALAPPDATA%\cardvault\agent.log once StartLogFile() has run. Compiled only for Windows
// (agent/CMakeLists.txt).
#define WIN32_LEAN_AND_MEAN
#define NOMINMAX
#include <windows.h>

#include <mutex>

#include "agent/sync/config.h"
#include "agent/sync/log.h"
#include "core/env.h"
#include "core/windows_util.h"

namespace cardvault {
namespace {

std::mutex g_mu;                       // one line at a time, in both places
HANDLE g_file = INVALID_HANDLE_VALUE;  // the log file, open for appending

void WriteAll(HANDLE h, std::string_view line) {
  DWORD n = 0;
  ::WriteFile(h, line.data(), static_cast<DWORD>(line.size()), &n, nullptr);
}

}  // namespace

bool LogToJournal() { return false; }

void WriteLogLine(std::string_view line) {
  std::lock_guard<std::mutex> lock(g_mu);
  HANDLE err = ::GetStdHandle(STD_ERROR_HANDLE);
  if (err != nullptr && err != INVALID_HANDLE_VALUE) WriteAll(err, line);
  if (g_file != INVALID_HANDLE_VALUE) WriteAll(g_file, line);
}

std::string AgentLogPath() { return DefaultStateDir() + "\\agent.log"; }

Status StartLogFile() {
  const std::string path = AgentLogPath();
  CV_RETURN_IF_ERROR(Env::Default()->CreateDirs(DefaultStateDir()));
  CV_ASSIGN_OR_RETURN(std::wstring wide, WidePath(path));
  // FILE_APPEND_DATA only: every write lands at the end, even with another writer.
  HANDLE h = ::CreateFileW(wide.c_str(), FILE_APPEND_DATA,
                           FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                           OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, nullptr);
  if (h == INVALID_HANDLE_VALUE) return LastWindowsError("open the log file", path);
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_file != INVALID_HANDLE_VALUE) ::CloseHandle(g_file);
  g_file = h;
  return Status::Ok();
}

std::string LogDestinationHelp() {
  return "Logs go to stderr and to %LOCALAPPDATA%\\cardvault\\agent.log.";
}

}  // namespace cardvault
