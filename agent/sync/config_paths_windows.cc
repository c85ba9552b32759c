// The default config and state places on Windows (agent/sync/config.h): the user's roaming
// application data (%APPDATA%) for the config, the local one (%LOCALAPPDATA%) for the state
// database and spool. Compiled only for Windows (agent/CMakeLists.txt).
#define WIN32_LEAN_AND_MEAN
#define NOMINMAX
#include <windows.h>
// clang-format off: after windows.h
#include <knownfolders.h>
#include <shlobj.h>
// clang-format on

#include "agent/sync/config.h"
#include "core/windows_util.h"

namespace cardvault {
namespace {

// The known folder `id` in UTF-8; "." (the current directory) if Windows cannot say.
std::string KnownFolder(REFKNOWNFOLDERID id) {
  PWSTR wide = nullptr;
  std::string path = ".";
  if (SUCCEEDED(::SHGetKnownFolderPath(id, KF_FLAG_DEFAULT, nullptr, &wide))) {
    path = Utf8FromWide(wide);
  }
  ::CoTaskMemFree(wide);
  return path;
}

}  // namespace

std::string DefaultConfigPath() {
  return KnownFolder(FOLDERID_RoamingAppData) + "\\cardvault\\config.json";
}

std::string DefaultConfigPathHelp() { return "%APPDATA%\\cardvault\\config.json"; }

std::string DefaultStateDir() { return KnownFolder(FOLDERID_LocalAppData) + "\\cardvault"; }

}  // namespace cardvault
