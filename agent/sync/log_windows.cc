// Log on Windows: each line on stderr (when there is a console or a pipe) and appended to
// %LOCALAPPDATA%\cardvault\agent.log once StartLogFile() has run, which rotates at 4 MiB to
// agent.log.1 (RotatingLogFile). Compiled only for Windows (agent/CMakeLists.txt).
#define WIN32_LEAN_AND_MEAN
#define NOMINMAX
#include <windows.h>

#include <memory>
#include <mutex>

#include "agent/sync/config.h"
#include "agent/sync/log.h"
#include "agent/sync/rotating_log_file.h"
#include "core/env.h"

namespace cardvault {
namespace {

// At this size agent.log becomes agent.log.1 (replacing the older one): the two files hold at
// most ~8 MiB. docs/windows.md, "The agent's log".
constexpr int64_t kMaxLogBytes = int64_t{4} << 20;

std::mutex g_mu;                          // one line at a time, in both places
std::unique_ptr<RotatingLogFile> g_file;  // the log file, once StartLogFile() has run

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
  if (g_file) g_file->Append(line);
}

std::string AgentLogPath() { return DefaultStateDir() + "\\agent.log"; }

Status StartLogFile() {
  const std::string path = AgentLogPath();
  CV_RETURN_IF_ERROR(Env::Default()->CreateDirs(DefaultStateDir()));
  CV_ASSIGN_OR_RETURN(std::unique_ptr<RotatingLogFile> file,
                      RotatingLogFile::Open(path, kMaxLogBytes));
  std::lock_guard<std::mutex> lock(g_mu);
  g_file = std::move(file);
  return Status::Ok();
}

std::string LogDestinationHelp() {
  return "Logs go to stderr and to %LOCALAPPDATA%\\cardvault\\agent.log (at 4 MiB it becomes "
         "agent.log.1, replacing the older one).";
}

}  // namespace cardvault
