// RunWin32Tray: the Windows tray icon (cardvault-tray.exe) without a toolkit: a hidden window
// that owns a Shell_NotifyIconW icon with the Qt tray's states, tooltip and menu (all from
// agent/tray/common), and a balloon (NIF_INFO) when a file fails, rate-limited as on Linux.
// It talks to the agent only through an AgentLink, on an AgentPoller thread, so the window's
// thread never waits on the pipe. Free of <windows.h>.
#ifndef CARDVAULT_AGENT_TRAY_WINDOWS_WIN32_TRAY_H_
#define CARDVAULT_AGENT_TRAY_WINDOWS_WIN32_TRAY_H_

#include <memory>

#include "agent/control/agent_link.h"

namespace cardvault {

// The hidden window's class: one per running tray (FindWindowW finds it).
inline constexpr wchar_t kWin32TrayWindowClass[] = L"CardvaultTrayWindow";

// The menu items' WM_COMMAND ids. A WM_COMMAND for an item the menu shows disabled (pause
// while no agent answers, sync now while paused) MUST do nothing.
enum Win32TrayCommandId : unsigned {
  kTrayIdStatus = 100,  // the status line (always disabled)
  kTrayIdPause = 101,   // pause or resume, as the menu shows
  kTrayIdSyncNow = 102,
  kTrayIdOpenFolder = 103,
  kTrayIdQuit = 104,  // removes the icon and ends RunWin32Tray; the agent keeps running
};

struct Win32TrayOptions {
  int status_interval_ms = 2000;      // status refresh without events (as the Qt tray)
  int tick_ms = 200;                  // how often events are looked for
  int failure_notice_gap_ms = 10000;  // at least this long between "file failed" balloons
  int dock_retry_ms = 2000;           // without a notification area, try again this often
};

// Creates the window and the icon (retrying every dock_retry_ms while no notification area
// exists, and again after Explorer restarts: "TaskbarCreated"), runs the message loop until
// Quit, WM_CLOSE or the session ends, removes the icon and returns the exit code (0). Prints
// one line to stdout when the icon is docked, when the view changes ("state: ..., tooltip:
// ...") and for each balloon, so a log shows what the user saw. Call on the thread that
// will own the window; one call per process.
int RunWin32Tray(std::unique_ptr<AgentLink> link, const Win32TrayOptions& options);

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_TRAY_WINDOWS_WIN32_TRAY_H_
