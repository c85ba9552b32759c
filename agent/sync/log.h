// Log: one line per event. Linux: on stderr, with syslog priority prefixes ("<6>") when stderr
// is the systemd journal (JOURNAL_STREAM set), with a UTC timestamp otherwise. Windows: with a
// UTC timestamp on stderr and, once StartLogFile() has run (`cardvault run`), appended to
// AgentLogPath() as well, since an agent started at logon has no console to show them. Never
// log a secret: no PINs, tokens or keys, only paths, counts and error texts.
#ifndef CARDVAULT_AGENT_SYNC_LOG_H_
#define CARDVAULT_AGENT_SYNC_LOG_H_

#include <string>
#include <string_view>

#include "core/status.h"

namespace cardvault {

enum class LogLevel { kError = 3, kWarning = 4, kInfo = 6, kDebug = 7 };

// Thread-safe: whole lines, never interleaved.
void Log(LogLevel level, std::string_view message);
inline void LogInfo(std::string_view m) { Log(LogLevel::kInfo, m); }
inline void LogWarning(std::string_view m) { Log(LogLevel::kWarning, m); }
inline void LogError(std::string_view m) { Log(LogLevel::kError, m); }

// The file the agent's lines are appended to: Windows %LOCALAPPDATA%\cardvault\agent.log,
// which at 4 MiB becomes agent.log.1 (RotatingLogFile); empty on Linux (stderr and the journal
// keep them).
std::string AgentLogPath();
// From now on, lines are also appended to AgentLogPath() (its directory is created); nothing
// on Linux. Errors: the file cannot be created or opened.
Status StartLogFile();
// Where the logs go, for `cardvault run --help`.
std::string LogDestinationHelp();

// The platform's half (log_posix.cc, log_windows.cc): writes one finished line.
void WriteLogLine(std::string_view line);
// Whether lines carry syslog priority prefixes instead of timestamps (the journal).
bool LogToJournal();

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_SYNC_LOG_H_
