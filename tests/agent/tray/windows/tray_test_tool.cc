// tray_test_tool.exe: the Win32 tray's test helper under Wine (tests/windows/tray_test.sh).
//   serve PIPE DIR      a stand-in agent: ControlServer on PIPE answering "status" with
//                       DIR/status.json ("state" paused after a pause), publishing the lines
//                       of DIR/events.jsonl (then removed), logging each command to
//                       DIR/commands.log; stops when DIR/stop appears (at most 600 s)
//   menu-pick X Y N [FILE]  right-clicks (X, Y), the icon, waits for the popup menu (saving
//                       a screenshot of it to FILE) and picks the item N arrow presses
//                       down (Enter)
//   tooltip X Y         hovers over (X, Y) and prints the tray host's tooltip text
//   balloon TEXT        waits for the tray host to show a balloon with TEXT, prints it
//   windows             lists the visible top-level windows (class, title, rectangle)
//   screenshot FILE     saves the screen as a 24-bit BMP and prints, per tray state, how many
//                       pixels have its disc colour: "pixels STATE N"
#define WIN32_LEAN_AND_MEAN
#include <windows.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "agent/control/control_server.h"
#include "agent/tray/common/tray_icon_pixels.h"

namespace cardvault {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int Serve(const std::string& pipe, const std::string& dir) {
  std::mutex mu;
  bool paused = false;
  std::ofstream log(dir + "/commands.log", std::ios::app);
  auto server = ControlServer::Start(pipe, [&](const std::string& cmd) -> StatusOr<std::string> {
    std::lock_guard<std::mutex> lock(mu);
    log << cmd << "\n" << std::flush;
    if (cmd == "pause") paused = true;
    if (cmd == "resume") paused = false;
    if (cmd == "pause" || cmd == "resume" || cmd == "sync_now") return std::string("{}");
    if (cmd != "status") return InvalidArgumentError("unknown command " + cmd, "unknown_command");
    std::string status = ReadAll(dir + "/status.json");
    const std::string running = R"("state":"running")";
    const size_t at = status.find(running);
    if (paused && at != std::string::npos)
      status.replace(at, running.size(), R"("state":"paused")");
    return status;
  });
  if (!server.ok()) {
    std::fprintf(stderr, "serve: %s\n", server.status().ToString().c_str());
    return 1;
  }
  std::printf("serving %s\n", pipe.c_str());
  std::fflush(stdout);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(600);
  while (!std::filesystem::exists(dir + "/stop") && std::chrono::steady_clock::now() < deadline) {
    const std::string events = dir + "/events.jsonl";
    if (std::filesystem::exists(events)) {
      std::istringstream lines(ReadAll(events));
      std::filesystem::remove(events);
      for (std::string line; std::getline(lines, line);) {
        if (!line.empty()) (*server)->Publish(line);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return 0;
}

int Screenshot(const std::string& file);

void SendMouse(DWORD flags) {
  INPUT in{};
  in.type = INPUT_MOUSE;
  in.mi.dwFlags = flags;
  ::SendInput(1, &in, sizeof in);
}

void SendKey(WORD vk) {
  INPUT in[2] = {};
  in[0].type = in[1].type = INPUT_KEYBOARD;
  in[0].ki.wVk = in[1].ki.wVk = vk;
  in[1].ki.dwFlags = KEYEVENTF_KEYUP;
  ::SendInput(2, in, sizeof in[0]);
}

// The visible top-level window of class `cls`, waiting up to 5 s for it.
HWND WaitForWindow(const wchar_t* cls) {
  for (int i = 0; i < 50; ++i) {
    HWND w = ::FindWindowW(cls, nullptr);
    if (w != nullptr && ::IsWindowVisible(w)) return w;
    ::Sleep(100);
  }
  return nullptr;
}

// Clicks the right button at (x, y), the tray icon, waits for the popup menu, saves a
// screenshot of it to `shot` (unless empty) and picks its item `downs` arrow presses down
// with Enter.
int MenuPick(int x, int y, int downs, const std::string& shot) {
  ::SetCursorPos(x, y);
  ::Sleep(200);
  SendMouse(MOUSEEVENTF_RIGHTDOWN);
  SendMouse(MOUSEEVENTF_RIGHTUP);
  if (WaitForWindow(L"#32768") == nullptr) {
    std::fprintf(stderr, "menu-pick: no popup menu appeared after a click at %d,%d\n", x, y);
    return 1;
  }
  if (!shot.empty() && Screenshot(shot) != 0) return 1;
  for (int i = 0; i < downs; ++i) SendKey(VK_DOWN);
  SendKey(VK_RETURN);
  return 0;
}

// Moves the mouse away (until the tray host's tooltip hides), then onto (x, y), the tray
// icon, and prints the tooltip the tray host shows there.
int Tooltip(int x, int y) {
  ::SetCursorPos(0, 0);
  for (int i = 0; i < 20; ++i) {
    HWND shown = ::FindWindowW(L"tooltips_class32", nullptr);
    if (shown == nullptr || !::IsWindowVisible(shown)) break;
    ::Sleep(100);
  }
  ::SetCursorPos(x, y);
  HWND tip = WaitForWindow(L"tooltips_class32");
  if (tip == nullptr) {
    std::fprintf(stderr, "tooltip: none shown at %d,%d\n", x, y);
    return 1;
  }
  wchar_t text[512] = {};
  ::SendMessageW(tip, WM_GETTEXT, 512, reinterpret_cast<LPARAM>(text));
  char utf8[2048] = {};
  ::WideCharToMultiByte(CP_UTF8, 0, text, -1, utf8, sizeof utf8, nullptr, nullptr);
  std::printf("%s\n", utf8);
  return 0;
}

// Moves the mouse away from the icon and waits up to 15 s for the tray host to show a
// balloon (a visible tooltip window) with the text `expected`, and prints it. The icon's own
// tooltip may still be up from an earlier hover, so other texts are skipped (and printed on
// stderr if no balloon with `expected` shows).
int Balloon(const std::string& expected) {
  ::SetCursorPos(0, 0);
  std::string seen;
  for (int i = 0; i < 150; ++i) {
    HWND tip = nullptr;
    while ((tip = ::FindWindowExW(nullptr, tip, L"tooltips_class32", nullptr)) != nullptr) {
      if (!::IsWindowVisible(tip)) continue;
      wchar_t text[512] = {};
      ::SendMessageW(tip, WM_GETTEXT, 512, reinterpret_cast<LPARAM>(text));
      if (text[0] == L'\0') continue;
      char utf8[2048] = {};
      ::WideCharToMultiByte(CP_UTF8, 0, text, -1, utf8, sizeof utf8, nullptr, nullptr);
      if (expected != utf8) {
        seen = utf8;
        continue;
      }
      std::printf("%s\n", utf8);
      return 0;
    }
    ::Sleep(100);
  }
  std::fprintf(stderr, "balloon: none shown with that text; last tooltip seen: %s\n", seen.c_str());
  return 1;
}

// Prints each visible top-level window: class, title and rectangle.
BOOL CALLBACK PrintWindow(HWND hwnd, LPARAM) {
  if (!::IsWindowVisible(hwnd)) return TRUE;
  char cls[128] = {}, title[128] = {};
  ::GetClassNameA(hwnd, cls, sizeof cls);
  ::GetWindowTextA(hwnd, title, sizeof title);
  RECT r;
  ::GetWindowRect(hwnd, &r);
  std::printf("window %s \"%s\" %ld %ld %ld %ld\n", cls, title, r.left, r.top, r.right, r.bottom);
  return TRUE;
}

int Screenshot(const std::string& file) {
  const int w = ::GetSystemMetrics(SM_CXSCREEN), h = ::GetSystemMetrics(SM_CYSCREEN);
  HDC screen = ::GetDC(nullptr);
  HDC mem = ::CreateCompatibleDC(screen);
  BITMAPINFO bi{};
  bi.bmiHeader.biSize = sizeof bi.bmiHeader;
  bi.bmiHeader.biWidth = w;
  bi.bmiHeader.biHeight = h;  // bottom-up, as a BMP file stores it
  bi.bmiHeader.biPlanes = 1;
  bi.bmiHeader.biBitCount = 32;
  void* bits = nullptr;
  HBITMAP bmp = ::CreateDIBSection(screen, &bi, DIB_RGB_COLORS, &bits, nullptr, 0);
  HGDIOBJ old = ::SelectObject(mem, bmp);
  ::BitBlt(mem, 0, 0, w, h, screen, 0, 0, SRCCOPY);
  ::GdiFlush();
  const auto* px = static_cast<const uint32_t*>(bits);
  const int row = (w * 3 + 3) & ~3;
  std::vector<char> out(static_cast<size_t>(row) * h, 0);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const uint32_t p = px[static_cast<size_t>(y) * w + x];
      char* o = &out[static_cast<size_t>(y) * row + x * 3];
      o[0] = static_cast<char>(p & 0xff);
      o[1] = static_cast<char>((p >> 8) & 0xff);
      o[2] = static_cast<char>((p >> 16) & 0xff);
    }
  }
  BITMAPFILEHEADER fh{};
  fh.bfType = 0x4d42;  // "BM"
  fh.bfOffBits = sizeof fh + sizeof(BITMAPINFOHEADER);
  fh.bfSize = static_cast<DWORD>(fh.bfOffBits + out.size());
  BITMAPINFOHEADER ih = bi.bmiHeader;
  ih.biBitCount = 24;
  std::ofstream f(file, std::ios::binary);
  f.write(reinterpret_cast<const char*>(&fh), sizeof fh);
  f.write(reinterpret_cast<const char*>(&ih), sizeof ih);
  f.write(out.data(), static_cast<std::streamsize>(out.size()));
  for (int s = 0; s < 5; ++s) {
    const TrayState state = static_cast<TrayState>(s);
    size_t n = 0;
    for (int i = 0; i < w * h; ++i) n += (px[i] & 0xffffff) == TrayStateRgb(state);
    std::printf("pixels %s %zu\n", TrayStateName(state), n);
  }
  ::SelectObject(mem, old);
  ::DeleteObject(bmp);
  ::DeleteDC(mem);
  ::ReleaseDC(nullptr, screen);
  return f.good() ? 0 : 1;
}

}  // namespace
}  // namespace cardvault

int main(int argc, char** argv) {
  const std::string what = argc > 1 ? argv[1] : "";
  if (what == "serve" && argc == 4) return cardvault::Serve(argv[2], argv[3]);
  if (what == "menu-pick" && (argc == 5 || argc == 6)) {
    return cardvault::MenuPick(std::stoi(argv[2]), std::stoi(argv[3]), std::stoi(argv[4]),
                               argc == 6 ? argv[5] : "");
  }
  if (what == "tooltip" && argc == 4)
    return cardvault::Tooltip(std::stoi(argv[2]), std::stoi(argv[3]));
  if (what == "balloon" && argc == 3) return cardvault::Balloon(argv[2]);
  if (what == "windows") return ::EnumWindows(cardvault::PrintWindow, 0) ? 0 : 1;
  if (what == "screenshot" && argc == 3) return cardvault::Screenshot(argv[2]);
  std::fprintf(stderr,
               "usage: tray_test_tool serve PIPE DIR | menu-pick X Y N [FILE] | "
               "tooltip X Y | balloon TEXT | windows | screenshot FILE\n");
  return 2;
}
