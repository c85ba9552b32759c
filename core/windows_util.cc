// Windows-only helpers (core/windows_util.h).
#define WIN32_LEAN_AND_MEAN
#define NOMINMAX
#include <windows.h>
// clang-format off: after windows.h
#include "core/windows_util.h"
// clang-format on

#include <algorithm>

namespace cardvault {

StatusOr<std::wstring> WidePath(const std::string& path) {
  if (path.empty()) return std::wstring();
  const int n = ::MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path.data(),
                                      static_cast<int>(path.size()), nullptr, 0);
  if (n <= 0) return InvalidArgumentError("the path is not valid UTF-8: " + path);
  std::wstring out(static_cast<size_t>(n), L'\0');
  ::MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path.data(), static_cast<int>(path.size()),
                        out.data(), n);
  std::replace(out.begin(), out.end(), L'/', L'\\');
  return out;
}

std::string Utf8FromWide(std::wstring_view wide) {
  if (wide.empty()) return std::string();
  const int n = ::WideCharToMultiByte(CP_UTF8, 0, wide.data(), static_cast<int>(wide.size()),
                                      nullptr, 0, nullptr, nullptr);
  std::string out(static_cast<size_t>(std::max(n, 0)), '\0');
  ::WideCharToMultiByte(CP_UTF8, 0, wide.data(), static_cast<int>(wide.size()), out.data(), n,
                        nullptr, nullptr);
  return out;
}

std::string WindowsErrorText(unsigned long err) {
  char* text = nullptr;
  const DWORD n = ::FormatMessageA(
      FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
      nullptr, err, 0, reinterpret_cast<char*>(&text), 0, nullptr);
  std::string out = n > 0 && text != nullptr ? std::string(text, n) : std::string();
  if (text != nullptr) ::LocalFree(text);
  while (!out.empty() &&
         (out.back() == '\n' || out.back() == '\r' || out.back() == ' ' || out.back() == '.')) {
    out.pop_back();
  }
  return out + " (Windows error " + std::to_string(err) + ")";
}

Status WindowsErrorToStatus(unsigned long err, std::string_view operation, std::string_view what) {
  std::string message =
      std::string(operation) + " " + std::string(what) + ": " + WindowsErrorText(err);
  switch (err) {
    case ERROR_DISK_FULL:
    case ERROR_HANDLE_DISK_FULL:
      return ResourceExhaustedError(std::move(message), "disk_full");
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
      return NotFoundError(std::move(message));
    case ERROR_ACCESS_DENIED:
    case ERROR_SHARING_VIOLATION:
      return PermissionDeniedError(std::move(message));
    case ERROR_ALREADY_EXISTS:
    case ERROR_FILE_EXISTS:
      return AlreadyExistsError(std::move(message));
    default:
      return IoError(std::move(message));
  }
}

Status LastWindowsError(std::string_view operation, std::string_view what) {
  return WindowsErrorToStatus(::GetLastError(), operation, what);
}

bool WinHandle::Close() {
  const bool ok = !valid() || ::CloseHandle(h_) != 0;
  h_ = Invalid();
  return ok;
}

}  // namespace cardvault
