// The Win32 tray: a hidden top-level window (it receives "TaskbarCreated", which a
// message-only window would not) owns the notification icon. The poller's answers arrive as
// posted messages carrying a heap copy, freed by the window or, when posting fails, at once.
#include "agent/tray/windows/win32_tray.h"

#define WIN32_LEAN_AND_MEAN
#include <windows.h>
// shellapi.h needs windows.h first.
#include <shellapi.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "agent/tray/common/agent_poller.h"
#include "agent/tray/common/failure_notices.h"
#include "agent/tray/common/tray_icon_pixels.h"
#include "agent/tray/common/tray_menu.h"
#include "agent/tray/common/tray_state.h"

namespace cardvault {
namespace {

constexpr UINT kIconMessage = WM_APP + 1;     // the notification icon's mouse and keys
constexpr UINT kStatusMessage = WM_APP + 2;   // lParam: StatusOr<AgentStatus>*
constexpr UINT kEventsMessage = WM_APP + 3;   // lParam: std::vector<AgentEvent>*
constexpr UINT kCommandMessage = WM_APP + 4;  // lParam: CommandDone*
constexpr UINT kIconId = 1;
constexpr UINT_PTR kFailureTimer = 1;
constexpr UINT_PTR kDockTimer = 2;

struct CommandDone {
  AgentCommand command;
  Status status;
};

std::wstring Wide(const std::string& utf8) {
  if (utf8.empty()) return std::wstring();
  const int n =
      ::MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), nullptr, 0);
  std::wstring out(static_cast<size_t>(n), L'\0');
  ::MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), out.data(), n);
  return out;
}

// Copies `text` into a fixed WCHAR field, cut to fit (the tooltip holds 127 characters,
// a balloon's title 63 and its text 255).
template <size_t N>
void CopyTo(WCHAR (&field)[N], const std::string& text) {
  std::wstring w = Wide(text);
  if (w.size() >= N) w = w.substr(0, N - 4) + L"...";
  std::copy(w.begin(), w.end(), field);
  field[w.size()] = L'\0';
}

void Log(const std::string& line) {
  std::printf("cardvault-tray: %s\n", line.c_str());
  std::fflush(stdout);
}

std::string OneLine(std::string text) {
  for (char& c : text) {
    if (c == '\n') c = '|';
  }
  return text;
}

// The icon for `state` at the system's small-icon size, from TrayIconPixels.
// (Falls back to the stock application icon, 32512 = IDI_APPLICATION.)
HICON MakeIcon(TrayState state) {
  const int size = std::max(16, ::GetSystemMetrics(SM_CXSMICON));
  const std::vector<uint32_t> pixels = TrayIconPixels(state, size);
  BITMAPV5HEADER h{};
  h.bV5Size = sizeof h;
  h.bV5Width = size;
  h.bV5Height = -size;  // top-down, as the pixels are
  h.bV5Planes = 1;
  h.bV5BitCount = 32;
  h.bV5Compression = BI_BITFIELDS;
  h.bV5RedMask = 0x00ff0000;
  h.bV5GreenMask = 0x0000ff00;
  h.bV5BlueMask = 0x000000ff;
  h.bV5AlphaMask = 0xff000000;
  void* bits = nullptr;
  HDC dc = ::GetDC(nullptr);
  HBITMAP color =
      ::CreateDIBSection(dc, reinterpret_cast<BITMAPINFO*>(&h), DIB_RGB_COLORS, &bits, nullptr, 0);
  ::ReleaseDC(nullptr, dc);
  if (color == nullptr) return ::LoadIconW(nullptr, MAKEINTRESOURCEW(32512));
  std::copy(pixels.begin(), pixels.end(), static_cast<uint32_t*>(bits));
  HBITMAP mask = ::CreateBitmap(size, size, 1, 1, nullptr);
  ICONINFO info{};
  info.fIcon = TRUE;
  info.hbmMask = mask;
  info.hbmColor = color;
  HICON icon = ::CreateIconIndirect(&info);
  ::DeleteObject(mask);
  ::DeleteObject(color);
  return icon != nullptr ? icon : ::LoadIconW(nullptr, MAKEINTRESOURCEW(32512));
}

class TrayWindow {
 public:
  TrayWindow(std::unique_ptr<AgentLink> link, const Win32TrayOptions& options)
      : link_(std::move(link)), options_(options), failures_(options.failure_notice_gap_ms) {}
  ~TrayWindow() {
    for (HICON icon : icons_) {
      if (icon != nullptr) ::DestroyIcon(icon);
    }
  }

  int Run() {
    if (!CreateTheWindow()) return 1;
    for (size_t i = 0; i < icons_.size(); ++i) icons_[i] = MakeIcon(static_cast<TrayState>(i));
    StartPoller();
    Dock();
    MSG msg;
    while (::GetMessageW(&msg, nullptr, 0, 0) > 0) {
      ::TranslateMessage(&msg);
      ::DispatchMessageW(&msg);
    }
    poller_.reset();  // waits for the call in progress; its answers are not posted anymore
    while (::PeekMessageW(&msg, nullptr, kStatusMessage, kCommandMessage, PM_REMOVE)) {
      FreePayload(msg.message, msg.lParam);
    }
    return 0;
  }

 private:
  static LRESULT CALLBACK WindowProc(HWND hwnd, UINT msg, WPARAM wparam, LPARAM lparam) {
    if (msg == WM_NCCREATE) {
      auto* self =
          static_cast<TrayWindow*>(reinterpret_cast<CREATESTRUCTW*>(lparam)->lpCreateParams);
      ::SetWindowLongPtrW(hwnd, GWLP_USERDATA, reinterpret_cast<LONG_PTR>(self));
      self->hwnd_ = hwnd;
    }
    auto* self = reinterpret_cast<TrayWindow*>(::GetWindowLongPtrW(hwnd, GWLP_USERDATA));
    if (self == nullptr) return ::DefWindowProcW(hwnd, msg, wparam, lparam);
    return self->Handle(msg, wparam, lparam);
  }

  bool CreateTheWindow() {
    taskbar_created_ = ::RegisterWindowMessageW(L"TaskbarCreated");
    WNDCLASSEXW wc{};
    wc.cbSize = sizeof wc;
    wc.lpfnWndProc = &TrayWindow::WindowProc;
    wc.hInstance = ::GetModuleHandleW(nullptr);
    wc.lpszClassName = kWin32TrayWindowClass;
    if (::RegisterClassExW(&wc) == 0) return false;
    // Never shown: it only receives the icon's messages and the poller's answers.
    return ::CreateWindowExW(0, kWin32TrayWindowClass, L"cardvault-tray", WS_OVERLAPPED, 0, 0, 0, 0,
                             nullptr, nullptr, wc.hInstance, this) != nullptr;
  }

  void StartPoller() {
    HWND hwnd = hwnd_;
    auto post = [hwnd](UINT msg, auto* payload) {
      if (!::PostMessageW(hwnd, msg, 0, reinterpret_cast<LPARAM>(payload))) delete payload;
    };
    AgentPoller::Callbacks callbacks;
    callbacks.on_status = [post](const StatusOr<AgentStatus>& s) {
      post(kStatusMessage, new StatusOr<AgentStatus>(s));
    };
    callbacks.on_events = [post](const std::vector<AgentEvent>& e) {
      post(kEventsMessage, new std::vector<AgentEvent>(e));
    };
    callbacks.on_command_done = [post](AgentCommand c, const Status& s) {
      post(kCommandMessage, new CommandDone{c, s});
    };
    poller_ = std::make_unique<AgentPoller>(std::move(link_), std::move(callbacks),
                                            options_.status_interval_ms, options_.tick_ms);
  }

  static void FreePayload(UINT msg, LPARAM lparam) {
    if (msg == kStatusMessage) delete reinterpret_cast<StatusOr<AgentStatus>*>(lparam);
    if (msg == kEventsMessage) delete reinterpret_cast<std::vector<AgentEvent>*>(lparam);
    if (msg == kCommandMessage) delete reinterpret_cast<CommandDone*>(lparam);
  }

  NOTIFYICONDATAW IconData(UINT flags) const {
    NOTIFYICONDATAW nid{};
    nid.cbSize = sizeof nid;
    nid.hWnd = hwnd_;
    nid.uID = kIconId;
    nid.uFlags = flags;
    return nid;
  }

  // Adds the icon; without a notification area (Explorer not started yet), tries again.
  void Dock() {
    NOTIFYICONDATAW nid = IconData(NIF_MESSAGE | NIF_ICON | NIF_TIP | NIF_SHOWTIP);
    nid.uCallbackMessage = kIconMessage;
    nid.hIcon = icons_[static_cast<size_t>(view_.state)];
    CopyTo(nid.szTip, MenuOf(view_).tooltip);
    docked_ = ::Shell_NotifyIconW(NIM_ADD, &nid) != FALSE;
    if (!docked_) {
      if (!waiting_logged_) {
        Log("no notification area is available (no taskbar yet); waiting for one");
        waiting_logged_ = true;
      }
      ::SetTimer(hwnd_, kDockTimer, static_cast<UINT>(options_.dock_retry_ms), nullptr);
      return;
    }
    nid.uVersion = NOTIFYICON_VERSION_4;
    ::Shell_NotifyIconW(NIM_SETVERSION, &nid);
    ::KillTimer(hwnd_, kDockTimer);
    Log("shown in the notification area");
  }

  void Render() {
    const TrayMenu menu = MenuOf(view_);
    if (menu.tooltip != shown_tooltip_) {
      shown_tooltip_ = menu.tooltip;
      Log(std::string("state: ") + TrayStateName(view_.state) +
          ", tooltip: " + OneLine(menu.tooltip));
    }
    if (!docked_) return;
    NOTIFYICONDATAW nid = IconData(NIF_ICON | NIF_TIP | NIF_SHOWTIP);
    nid.hIcon = icons_[static_cast<size_t>(view_.state)];
    CopyTo(nid.szTip, menu.tooltip);
    ::Shell_NotifyIconW(NIM_MODIFY, &nid);
  }

  void Balloon(const std::string& title, const std::string& message) {
    Log("notice: " + title + ": " + message);
    if (!docked_) return;
    NOTIFYICONDATAW nid = IconData(NIF_INFO);
    CopyTo(nid.szInfoTitle, title);
    CopyTo(nid.szInfo, message);
    nid.dwInfoFlags = NIIF_WARNING;
    ::Shell_NotifyIconW(NIM_MODIFY, &nid);
  }

  void NotifyFailures() {
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now().time_since_epoch())
                            .count();
    if (std::optional<FailureNotice> notice = failures_.Take(now)) {
      Balloon(notice->title, notice->message);
    } else if (std::optional<int64_t> due = failures_.NextDueIn(now)) {
      ::SetTimer(hwnd_, kFailureTimer, static_cast<UINT>(*due), nullptr);
      failure_timer_armed_ = true;
    }
  }

  void ShowMenu() {
    const TrayMenu m = MenuOf(view_);
    HMENU menu = ::CreatePopupMenu();
    auto add = [&](UINT id, const std::string& text, bool enabled) {
      ::AppendMenuW(menu, MF_STRING | (enabled ? MF_ENABLED : MF_GRAYED), id, Wide(text).c_str());
    };
    add(kTrayIdStatus, m.status_text, false);
    ::AppendMenuW(menu, MF_SEPARATOR, 0, nullptr);
    add(kTrayIdPause, m.pause_text, m.pause_enabled);
    add(kTrayIdSyncNow, kSyncNowText, m.sync_enabled);
    add(kTrayIdOpenFolder, kOpenFolderText, m.open_folder_enabled);
    ::AppendMenuW(menu, MF_SEPARATOR, 0, nullptr);
    add(kTrayIdQuit, kQuitText, true);
    POINT at;
    ::GetCursorPos(&at);
    // Without the foreground the menu would not close when the user clicks elsewhere.
    ::SetForegroundWindow(hwnd_);
    ::TrackPopupMenuEx(menu, TPM_RIGHTBUTTON | TPM_BOTTOMALIGN, at.x, at.y, hwnd_, nullptr);
    ::PostMessageW(hwnd_, WM_NULL, 0, 0);
    ::DestroyMenu(menu);
  }

  void OnCommand(UINT id) {
    const TrayMenu m = MenuOf(view_);
    if (id == kTrayIdPause && m.pause_enabled) poller_->Request(m.pause_command);
    if (id == kTrayIdSyncNow && m.sync_enabled) poller_->Request(AgentCommand::kSyncNow);
    if (id == kTrayIdOpenFolder && m.open_folder_enabled) {
      const std::wstring folder = Wide(view_.vault_dir);
      const auto rc = reinterpret_cast<INT_PTR>(
          ::ShellExecuteW(nullptr, L"open", folder.c_str(), nullptr, nullptr, SW_SHOWNORMAL));
      if (rc <= 32) Balloon("cardvault", "Cannot open " + view_.vault_dir);
    }
    if (id == kTrayIdQuit) ::DestroyWindow(hwnd_);
  }

  LRESULT Handle(UINT msg, WPARAM wparam, LPARAM lparam) {
    if (msg == taskbar_created_ && msg != 0) {  // Explorer (re)started: add the icon again
      Dock();
      return 0;
    }
    switch (msg) {
      case kIconMessage:
        switch (LOWORD(lparam)) {  // NOTIFYICON_VERSION_4: the event in the low word
          case WM_CONTEXTMENU:
          case WM_RBUTTONUP:
          case WM_LBUTTONUP:
          case NIN_SELECT:
          case NIN_KEYSELECT:
            ShowMenu();
        }
        return 0;
      case kStatusMessage: {
        std::unique_ptr<StatusOr<AgentStatus>> s(reinterpret_cast<StatusOr<AgentStatus>*>(lparam));
        view_ = ViewOf(*s);
        Render();
        return 0;
      }
      case kEventsMessage: {
        std::unique_ptr<std::vector<AgentEvent>> e(
            reinterpret_cast<std::vector<AgentEvent>*>(lparam));
        failures_.Add(*e);
        if (!failure_timer_armed_) NotifyFailures();
        return 0;
      }
      case kCommandMessage: {
        std::unique_ptr<CommandDone> done(reinterpret_cast<CommandDone*>(lparam));
        const std::string name = AgentCommandName(done->command);
        Log("command " + name + (done->status.ok() ? ": ok" : ": " + done->status.message()));
        if (!done->status.ok()) Balloon("cardvault: " + name + " failed", done->status.message());
        return 0;
      }
      case WM_TIMER:
        ::KillTimer(hwnd_, wparam);
        if (wparam == kDockTimer) Dock();
        if (wparam == kFailureTimer) {
          failure_timer_armed_ = false;
          NotifyFailures();
        }
        return 0;
      case WM_COMMAND:
        OnCommand(LOWORD(wparam));
        return 0;
      case WM_ENDSESSION:
        if (wparam) ::DestroyWindow(hwnd_);
        return 0;
      case WM_DESTROY: {
        NOTIFYICONDATAW nid = IconData(0);
        if (docked_) ::Shell_NotifyIconW(NIM_DELETE, &nid);
        docked_ = false;
        ::PostQuitMessage(0);
        return 0;
      }
    }
    return ::DefWindowProcW(hwnd_, msg, wparam, lparam);
  }

  std::unique_ptr<AgentLink> link_;  // moved into the poller by StartPoller()
  const Win32TrayOptions options_;
  FailureNotices failures_;
  bool failure_timer_armed_ = false;
  TrayView view_;
  std::string shown_tooltip_;
  HWND hwnd_ = nullptr;
  UINT taskbar_created_ = 0;
  bool docked_ = false;
  bool waiting_logged_ = false;
  std::array<HICON, 5> icons_{};  // one per TrayState, in its order
  std::unique_ptr<AgentPoller> poller_;
};

}  // namespace

int RunWin32Tray(std::unique_ptr<AgentLink> link, const Win32TrayOptions& options) {
  TrayWindow window(std::move(link), options);
  return window.Run();
}

}  // namespace cardvault
