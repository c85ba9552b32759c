// Log: the line format both platforms share; the platform's file writes it.
#include "agent/sync/log.h"

#include <ctime>
#include <string>

#include "core/platform.h"

namespace cardvault {

void Log(LogLevel level, std::string_view message) {
  std::string line;
  if (LogToJournal()) {
    line = "<" + std::to_string(static_cast<int>(level)) + ">";
  } else {
    char ts[32] = "";
    std::tm tm = {};
    if (UtcCalendarTime(static_cast<int64_t>(std::time(nullptr)), &tm)) {
      std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ ", &tm);
    }
    line = ts;
    switch (level) {
      case LogLevel::kError:
        line += "error: ";
        break;
      case LogLevel::kWarning:
        line += "warning: ";
        break;
      default:
        break;
    }
  }
  line.append(message);
  line.push_back('\n');
  WriteLogLine(line);
}

}  // namespace cardvault
