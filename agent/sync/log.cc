// Log implementation: whole lines written with one write(2), so lines never interleave.
#include "agent/sync/log.h"

#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <string>

namespace cardvault {

void Log(LogLevel level, std::string_view message) {
  static const bool journal = std::getenv("JOURNAL_STREAM") != nullptr;
  std::string line;
  if (journal) {
    line = "<" + std::to_string(static_cast<int>(level)) + ">";
  } else {
    char ts[32];
    std::time_t t = std::time(nullptr);
    struct tm tm;
    gmtime_r(&t, &tm);
    std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ ", &tm);
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
  ssize_t n = ::write(2, line.data(), line.size());
  (void)n;
}

}  // namespace cardvault
