// Log: one line per event on stderr; with syslog priority prefixes ("<6>") when stderr is
// the systemd journal (JOURNAL_STREAM set), with a UTC timestamp otherwise. Never log a
// secret: no PINs, tokens or keys, only paths, counts and error texts.
#ifndef CARDVAULT_AGENT_SYNC_LOG_H_
#define CARDVAULT_AGENT_SYNC_LOG_H_

#include <string_view>

namespace cardvault {

enum class LogLevel { kError = 3, kWarning = 4, kInfo = 6, kDebug = 7 };

void Log(LogLevel level, std::string_view message);
inline void LogInfo(std::string_view m) { Log(LogLevel::kInfo, m); }
inline void LogWarning(std::string_view m) { Log(LogLevel::kWarning, m); }
inline void LogError(std::string_view m) { Log(LogLevel::kError, m); }

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_SYNC_LOG_H_
