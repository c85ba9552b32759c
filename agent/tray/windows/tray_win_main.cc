// cardvault-tray.exe: the Windows tray icon for a running cardvault agent (`cardvault.exe
// run`), one per user and agent pipe. A GUI-subsystem program: no console window; --help
// and errors go to the console it was started from, if any.
#define WIN32_LEAN_AND_MEAN
#include <windows.h>

#include <cstdio>
#include <string>
#include <vector>

#include "agent/control/agent_link.h"
#include "agent/tray/windows/win32_tray.h"
#include "core/platform.h"

namespace {

constexpr char kUsage[] =
    "Usage: cardvault-tray.exe [--pipe NAME]\n"
    "\n"
    "Shows the cardvault agent's state in the notification area: up to date, syncing,\n"
    "paused, error or agent not running, with pending/uploaded/failed counts in the\n"
    "tooltip. The menu pauses or resumes syncing, syncs now and opens the folder. It never\n"
    "asks for a PIN; it notifies only when a file fails. One runs per user and agent.\n"
    "\n"
    "Options:\n"
    "  --pipe NAME    the agent's control pipe (default: \\\\.\\pipe\\cardvault-<your SID>,\n"
    "                 where `cardvault.exe run` listens); --socket is the same option\n"
    "  -h, --help     print this help\n";

// Started from a console (a command prompt), print there; from Explorer or a Run key
// there is none and the text is dropped.
void UseParentConsole() {
  HANDLE out = ::GetStdHandle(STD_OUTPUT_HANDLE);
  if (out != nullptr && out != INVALID_HANDLE_VALUE) return;  // redirected: keep it
  if (::AttachConsole(ATTACH_PARENT_PROCESS)) {
    std::freopen("CONOUT$", "w", stdout);
    std::freopen("CONOUT$", "w", stderr);
  }
}

// The single-instance mutex for `pipe`: its name carries the pipe's, which carries the
// user's SID, so each user (and each agent pipe) has one tray.
std::wstring InstanceMutexName(const std::string& pipe) {
  std::wstring name = L"Local\\cardvault-tray-";
  for (char c : pipe)
    name += (c == '\\') ? L'_' : static_cast<wchar_t>(static_cast<unsigned char>(c));
  return name.substr(0, MAX_PATH - 1);
}

}  // namespace

int main(int argc, char** argv) {
  UseParentConsole();
  const std::vector<std::string> args = cardvault::Utf8Arguments(argc, argv);
  std::string pipe;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--pipe" || a == "--socket") {
      if (i + 1 == args.size()) {
        std::fprintf(stderr, "cardvault-tray: %s needs a NAME\n\n%s", a.c_str(), kUsage);
        return 2;
      }
      pipe = args[++i];
    } else if (a.rfind("--pipe=", 0) == 0 || a.rfind("--socket=", 0) == 0) {
      pipe = a.substr(a.find('=') + 1);
    } else {
      std::fprintf(stderr, "cardvault-tray: unexpected argument %s\n\n%s", a.c_str(), kUsage);
      return 2;
    }
  }
  if (pipe.empty()) pipe = cardvault::DefaultAgentSocketPath();

  HANDLE instance = ::CreateMutexW(nullptr, FALSE, InstanceMutexName(pipe).c_str());
  const DWORD err = ::GetLastError();
  if (instance == nullptr || err == ERROR_ALREADY_EXISTS) {
    std::printf("cardvault-tray: already running for this user (agent pipe %s)\n", pipe.c_str());
    return 0;
  }
  std::printf("cardvault-tray: agent pipe %s\n", pipe.c_str());
  std::fflush(stdout);
  const int rc =
      cardvault::RunWin32Tray(cardvault::NewSocketAgentLink(pipe), cardvault::Win32TrayOptions{});
  std::printf("cardvault-tray: quit\n");
  std::fflush(stdout);
  ::CloseHandle(instance);
  return rc;
}
