// StopRequests on Windows: Ctrl+C and Ctrl+Break stop the daemon; a console closed, a logoff
// or a shutdown stop it and wait for Run() to return before the system ends the process.
// Logoff and shutdown arrive as WM_QUERYENDSESSION/WM_ENDSESSION at a hidden top-level window
// on a thread of its own (a console program that loads user32, as this one does through
// shell32, receives no CTRL_LOGOFF_EVENT or CTRL_SHUTDOWN_EVENT). Compiled only for Windows.
#define WIN32_LEAN_AND_MEAN
#define NOMINMAX
#include <windows.h>

#include <thread>

#include "agent/cli/stop_requests.h"

namespace cardvault {
namespace {

Daemon* g_daemon = nullptr;
HANDLE g_done = nullptr;  // manual-reset event: Run() has returned
HWND g_window = nullptr;  // the hidden window that hears of the session's end
std::thread g_window_thread;

void StopAndWait() {
  if (g_daemon != nullptr) g_daemon->Stop();
  if (g_done != nullptr) ::WaitForSingleObject(g_done, StopRequests::kGraceMs);
}

BOOL WINAPI OnConsoleEvent(DWORD type) {
  switch (type) {
    case CTRL_C_EVENT:
    case CTRL_BREAK_EVENT:
      if (g_daemon != nullptr) g_daemon->Stop();
      return TRUE;
    case CTRL_CLOSE_EVENT:
    case CTRL_LOGOFF_EVENT:
    case CTRL_SHUTDOWN_EVENT:
      StopAndWait();
      return TRUE;
    default:
      return FALSE;
  }
}

LRESULT CALLBACK SessionWindowProc(HWND window, UINT message, WPARAM wparam, LPARAM lparam) {
  switch (message) {
    case WM_QUERYENDSESSION:
      return TRUE;  // never holds up a logoff: the agent stops cleanly in time
    case WM_ENDSESSION:
      if (wparam != 0) StopAndWait();
      return 0;
    case WM_CLOSE:
      ::DestroyWindow(window);
      return 0;
    case WM_DESTROY:
      ::PostQuitMessage(0);
      return 0;
    default:
      return ::DefWindowProcW(window, message, wparam, lparam);
  }
}

// The window thread: creates the hidden window, signals `ready`, pumps its messages until
// the window is closed. Without a window (no desktop), logoff is heard by the console only.
void RunSessionWindow(HANDLE ready) {
  WNDCLASSW wc = {};
  wc.lpfnWndProc = SessionWindowProc;
  wc.hInstance = ::GetModuleHandleW(nullptr);
  wc.lpszClassName = L"CardvaultAgentSession";
  ::RegisterClassW(&wc);
  g_window = ::CreateWindowExW(0, wc.lpszClassName, L"cardvault agent", WS_OVERLAPPED, 0, 0, 0, 0,
                               nullptr, nullptr, wc.hInstance, nullptr);
  ::SetEvent(ready);
  if (g_window == nullptr) return;
  MSG msg;
  while (::GetMessageW(&msg, nullptr, 0, 0) > 0) ::DispatchMessageW(&msg);
}

}  // namespace

StopRequests::StopRequests(Daemon* daemon) {
  g_daemon = daemon;
  g_done = ::CreateEventW(nullptr, TRUE, FALSE, nullptr);
  ::SetConsoleCtrlHandler(OnConsoleEvent, TRUE);
  HANDLE ready = ::CreateEventW(nullptr, TRUE, FALSE, nullptr);
  g_window_thread = std::thread(RunSessionWindow, ready);
  if (ready != nullptr) {
    ::WaitForSingleObject(ready, 5000);
    ::CloseHandle(ready);
  }
}

StopRequests::~StopRequests() {
  if (g_done != nullptr) ::SetEvent(g_done);  // first: a waiting handler returns
  ::SetConsoleCtrlHandler(OnConsoleEvent, FALSE);
  if (g_window != nullptr) ::PostMessageW(g_window, WM_CLOSE, 0, 0);
  if (g_window_thread.joinable()) g_window_thread.join();
  g_window = nullptr;
  g_daemon = nullptr;
  if (g_done != nullptr) ::CloseHandle(g_done);
  g_done = nullptr;
}

std::string StopRequests::Help() {
  return "Stops cleanly on Ctrl+C, Ctrl+Break, when its console is closed, at logoff and at "
         "shutdown: the upload in progress finishes, the rest stays queued.";
}

}  // namespace cardvault
