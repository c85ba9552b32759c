// The default config and state places on POSIX (agent/sync/config.h): the XDG directories.
#include <cstdlib>

#include "agent/sync/config.h"

namespace cardvault {
namespace {

std::string HomeDir() {
  const char* home = std::getenv("HOME");
  return home != nullptr && *home != '\0' ? home : "/";
}

std::string XdgDir(const char* var, const char* fallback) {
  const char* v = std::getenv(var);
  if (v != nullptr && v[0] == '/') return v;
  return HomeDir() + "/" + fallback;
}

}  // namespace

std::string DefaultConfigPath() {
  return XdgDir("XDG_CONFIG_HOME", ".config") + "/cardvault/config.json";
}

std::string DefaultConfigPathHelp() { return "$XDG_CONFIG_HOME/cardvault/config.json"; }

std::string DefaultStateDir() { return XdgDir("XDG_DATA_HOME", ".local/share") + "/cardvault"; }

}  // namespace cardvault
