// ListDirectory over FindFirstFileExW (UTF-16 names returned as UTF-8).
#define WIN32_LEAN_AND_MEAN
#define NOMINMAX
#include <windows.h>
// clang-format off: after windows.h
#include "agent/watch/dir_listing.h"
// clang-format on

#include "core/windows_util.h"

namespace cardvault {

StatusOr<std::vector<std::string>> ListDirectory(const std::string& dir) {
  CV_ASSIGN_OR_RETURN(std::wstring pattern, WidePath(dir + "/*"));
  WIN32_FIND_DATAW data;
  HANDLE find = ::FindFirstFileExW(pattern.c_str(), FindExInfoBasic, &data, FindExSearchNameMatch,
                                   nullptr, FIND_FIRST_EX_LARGE_FETCH);
  if (find == INVALID_HANDLE_VALUE) {
    const DWORD err = ::GetLastError();
    if (err == ERROR_FILE_NOT_FOUND) return std::vector<std::string>();  // no entry at all
    return WindowsErrorToStatus(err, "list", dir);
  }
  std::vector<std::string> names;
  do {
    const std::wstring_view name = data.cFileName;
    if (name == L"." || name == L"..") continue;
    names.push_back(Utf8FromWide(name));
  } while (::FindNextFileW(find, &data) != 0);
  const DWORD err = ::GetLastError();
  ::FindClose(find);
  if (err != ERROR_NO_MORE_FILES) return WindowsErrorToStatus(err, "list", dir);
  return names;
}

}  // namespace cardvault
