// core/platform.h on Windows. Compiled only for Windows (core/CMakeLists.txt).
#define WIN32_LEAN_AND_MEAN
#define NOMINMAX
#include <windows.h>
// clang-format off: after windows.h
#include <io.h>
#include <shellapi.h>
#include <time.h>
// clang-format on

#include <cstdio>

#include "core/platform.h"
#include "core/windows_util.h"

namespace cardvault {

bool LocalCalendarTime(int64_t unix_seconds, std::tm* out) {
  const __time64_t t = static_cast<__time64_t>(unix_seconds);
  return ::_localtime64_s(out, &t) == 0;
}

bool UtcCalendarTime(int64_t unix_seconds, std::tm* out) {
  const __time64_t t = static_cast<__time64_t>(unix_seconds);
  return ::_gmtime64_s(out, &t) == 0;
}

int64_t UnixSecondsFromUtc(std::tm tm) { return static_cast<int64_t>(::_mkgmtime64(&tm)); }

std::vector<std::string> Utf8Arguments(int argc, char** argv) {
  int count = 0;
  wchar_t** wide = ::CommandLineToArgvW(::GetCommandLineW(), &count);
  if (wide == nullptr) return std::vector<std::string>(argv, argv + argc);
  std::vector<std::string> args;
  for (int i = 0; i < count; ++i) args.push_back(Utf8FromWide(wide[i]));
  ::LocalFree(wide);
  return args;
}

bool IsPathSeparator(char c) { return c == '/' || c == '\\'; }

bool StderrIsTerminal() { return ::_isatty(::_fileno(stderr)) != 0; }

bool PlatformKeepsPosixModes() { return false; }

bool StdinIsTerminal() { return ::_isatty(::_fileno(stdin)) != 0; }

void SetStdinEcho(bool on) {
  HANDLE in = ::GetStdHandle(STD_INPUT_HANDLE);
  DWORD mode = 0;
  if (in == INVALID_HANDLE_VALUE || ::GetConsoleMode(in, &mode) == 0) return;
  mode = on ? (mode | ENABLE_ECHO_INPUT) : (mode & ~static_cast<DWORD>(ENABLE_ECHO_INPUT));
  ::SetConsoleMode(in, mode);
}

void HideConsoleWindow() {
  HWND console = ::GetConsoleWindow();
  if (console != nullptr) ::ShowWindow(console, SW_HIDE);
}

void KillThisProcess() {
  ::TerminateProcess(::GetCurrentProcess(), 128 + 9);
  ::ExitProcess(128 + 9);  // not reached
}

}  // namespace cardvault
