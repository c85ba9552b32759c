// core/platform.h on POSIX.
#include <signal.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>

#include "core/platform.h"

namespace cardvault {

bool LocalCalendarTime(int64_t unix_seconds, std::tm* out) {
  const time_t t = static_cast<time_t>(unix_seconds);
  return ::localtime_r(&t, out) != nullptr;
}

bool UtcCalendarTime(int64_t unix_seconds, std::tm* out) {
  const time_t t = static_cast<time_t>(unix_seconds);
  return ::gmtime_r(&t, out) != nullptr;
}

int64_t UnixSecondsFromUtc(std::tm tm) { return static_cast<int64_t>(::timegm(&tm)); }

std::vector<std::string> Utf8Arguments(int argc, char** argv) {
  return std::vector<std::string>(argv, argv + argc);
}

bool IsPathSeparator(char c) { return c == '/'; }

bool StderrIsTerminal() { return ::isatty(STDERR_FILENO) != 0; }

bool PlatformKeepsPosixModes() { return true; }

bool StdinIsTerminal() { return ::isatty(STDIN_FILENO) != 0; }

void SetStdinEcho(bool on) {
  struct termios t;
  if (::tcgetattr(STDIN_FILENO, &t) != 0) return;
  if (on) {
    t.c_lflag |= static_cast<tcflag_t>(ECHO);
  } else {
    t.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  }
  ::tcsetattr(STDIN_FILENO, TCSANOW, &t);
}

void HideConsoleWindow() {}

void KillThisProcess() {
  ::raise(SIGKILL);
  std::abort();  // not reached
}

}  // namespace cardvault
