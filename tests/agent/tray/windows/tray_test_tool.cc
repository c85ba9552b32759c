// tray_test_tool.exe: the Win32 tray's test helper under Wine (tests/windows/tray_test.sh).
//   serve PIPE DIR      a stand-in agent: ControlServer on PIPE answering "status" with
//                       DIR/status.json ("state" paused after a pause), publishing the lines
//                       of DIR/events.jsonl (then removed), logging each command to
//                       DIR/commands.log; stops when DIR/stop appears (at most 600 s)
//   command ID          posts WM_COMMAND ID (a menu item, win32_tray.h) to the running tray
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
#include "agent/tray/windows/win32_tray.h"

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

int Command(unsigned id) {
  HWND tray = ::FindWindowW(kWin32TrayWindowClass, nullptr);
  if (tray == nullptr) {
    std::fprintf(stderr, "command: no cardvault-tray window\n");
    return 1;
  }
  if (::PostMessageW(tray, WM_COMMAND, id, 0)) return 0;
  std::fprintf(stderr, "command: PostMessage failed (%lu)\n", ::GetLastError());
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
  if (what == "command" && argc == 3) return cardvault::Command(std::stoul(argv[2]));
  if (what == "windows") return ::EnumWindows(cardvault::PrintWindow, 0) ? 0 : 1;
  if (what == "screenshot" && argc == 3) return cardvault::Screenshot(argv[2]);
  std::fprintf(stderr, "usage: tray_test_tool serve PIPE DIR | command ID | screenshot FILE\n");
  return 2;
}
