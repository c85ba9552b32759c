// Small operating-system calls that differ between POSIX and Windows, one .cc per platform
// (core/platform_posix.cc, core/platform_windows.cc; chosen in core/CMakeLists.txt), so
// callers hold no #ifdef. Files, clocks and randomness are Env's (core/env.h), not here.
#ifndef CARDVAULT_CORE_PLATFORM_H_
#define CARDVAULT_CORE_PLATFORM_H_

#include <cstdint>
#include <ctime>
#include <string>
#include <vector>

namespace cardvault {

// The local calendar time of `unix_seconds` (localtime_r; Windows: localtime_s). False
// if the time cannot be represented.
bool LocalCalendarTime(int64_t unix_seconds, std::tm* out);

// The UTC calendar time of `unix_seconds` (gmtime_r; Windows: gmtime_s). False if the time
// cannot be represented.
bool UtcCalendarTime(int64_t unix_seconds, std::tm* out);

// The Unix time of the calendar time `tm` read as UTC (timegm; Windows: _mkgmtime).
// Fields out of range are normalized as mktime does; -1 if it cannot be represented.
int64_t UnixSecondsFromUtc(std::tm tm);

// The program's arguments (argv[0] included) in UTF-8, as cardvault's paths are. POSIX: argv
// as given. Windows: from the UTF-16 command line (GetCommandLineW), since argv there is in
// the ANSI code page and loses every character outside it.
std::vector<std::string> Utf8Arguments(int argc, char** argv);

// Whether `c` separates the components of a path here (POSIX: '/'; Windows: '/' and '\\').
bool IsPathSeparator(char c);

// Whether standard error is a terminal (a progress line may redraw itself there).
bool StderrIsTerminal();

// Whether files keep POSIX permission bits here (POSIX: true; Windows: false, where Env shows
// a file as 0600, or 0400 when read-only, and a directory as 0700: docs/windows.md).
bool PlatformKeepsPosixModes();

// Whether standard input is a terminal (a console on Windows), where a secret can be typed.
bool StdinIsTerminal();

// Turns the echo of what is typed on standard input's terminal off or on (for a secret).
// Does nothing when standard input is not a terminal.
void SetStdinEcho(bool on);

// Hides this program's console window (Windows: a program started at logon gets one; the
// console stays, so console events still arrive). Nothing on POSIX.
void HideConsoleWindow();

// Ends the process at once, as SIGKILL does (no destructors, no buffers flushed), for the
// crash tests' injection points; the exit status is 128 + 9 (POSIX: killed by signal 9;
// Windows: exit code 137).
[[noreturn]] void KillThisProcess();

}  // namespace cardvault

#endif  // CARDVAULT_CORE_PLATFORM_H_
