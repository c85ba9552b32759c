// Windows only: what the Windows .cc files share (UTF-8 <-> UTF-16, Win32 errors as Status,
// an owned HANDLE). Free of <windows.h>: a HANDLE is a void*, a DWORD an unsigned long.
#ifndef CARDVAULT_CORE_WINDOWS_UTIL_H_
#define CARDVAULT_CORE_WINDOWS_UTIL_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "core/status_or.h"

namespace cardvault {

// UTF-8 `path` as UTF-16 for Win32, with '/' turned into '\'. kInvalidArgument when `path`
// is not valid UTF-8.
StatusOr<std::wstring> WidePath(const std::string& path);
// UTF-16 from Win32 as UTF-8 (an unpaired surrogate becomes U+FFFD).
std::string Utf8FromWide(std::wstring_view wide);

// The system's text for Win32 error `err`, ending with "(Windows error N)".
std::string WindowsErrorText(unsigned long err);
// The Status for the Win32 error `err` of `operation` on `what`, as ErrnoToStatus does for
// errno: not found, permission denied (a sharing violation too), exists, disk full, else I/O.
Status WindowsErrorToStatus(unsigned long err, std::string_view operation, std::string_view what);
// WindowsErrorToStatus of GetLastError().
Status LastWindowsError(std::string_view operation, std::string_view what);

// An owned HANDLE (INVALID_HANDLE_VALUE when empty), closed by the destructor. For handles
// whose "none" is NULL (events), wrap them only when not NULL.
class WinHandle {
 public:
  static void* Invalid() { return reinterpret_cast<void*>(intptr_t{-1}); }
  explicit WinHandle(void* h = Invalid()) : h_(h) {}
  WinHandle(WinHandle&& other) noexcept : h_(std::exchange(other.h_, Invalid())) {}
  WinHandle& operator=(WinHandle&& other) noexcept {
    if (this != &other) {
      Close();
      h_ = std::exchange(other.h_, Invalid());
    }
    return *this;
  }
  ~WinHandle() { Close(); }
  void* get() const { return h_; }
  bool valid() const { return h_ != Invalid() && h_ != nullptr; }
  // Closes now; false (GetLastError set) when CloseHandle failed.
  bool Close();

 private:
  void* h_;
};

}  // namespace cardvault

#endif  // CARDVAULT_CORE_WINDOWS_UTIL_H_
