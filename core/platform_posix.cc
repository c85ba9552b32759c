// core/platform.h on POSIX.
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>

#include "core/platform.h"

namespace cardvault {

bool LocalCalendarTime(int64_t unix_seconds, std::tm* out) {
  const time_t t = static_cast<time_t>(unix_seconds);
  return ::localtime_r(&t, out) != nullptr;
}

int64_t UnixSecondsFromUtc(std::tm tm) { return static_cast<int64_t>(::timegm(&tm)); }

std::vector<std::string> Utf8Arguments(int argc, char** argv) {
  return std::vector<std::string>(argv, argv + argc);
}

bool StderrIsTerminal() { return ::isatty(STDERR_FILENO) != 0; }

void KillThisProcess() {
  ::raise(SIGKILL);
  std::abort();  // not reached
}

}  // namespace cardvault
