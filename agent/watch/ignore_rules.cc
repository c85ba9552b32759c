// IgnoreRules implementation over GlobMatch (fnmatch(3) syntax, on every platform).
#include "agent/watch/ignore_rules.h"

#include "core/glob_match.h"

namespace cardvault {

const std::vector<std::string>& IgnoreRules::DefaultGlobs() {
  // Editors' and tools' temporary and backup files (docs/configuration.md lists them):
  // vim's swap files and its write test "4913"; backups; emacs auto-saves and locks; Office
  // locks; gedit's (GIO's) saves; kate's swap files; patch and merge leftovers; downloads
  // and temporary files; macOS folder data; cardvault's own temporary files.
  static const std::vector<std::string> kDefaults = {"*.swp",      "*.swo",     "*.swx",
                                                     "4913",       "*~",        "#*#",
                                                     ".#*",        "~$*",       ".goutputstream-*",
                                                     "*.kate-swp", "*.orig",    "*.part",
                                                     "*.tmp",      ".DS_Store", "*.cv-tmp-*"};
  return kDefaults;
}

IgnoreRules::IgnoreRules(std::vector<std::string> extra_globs, bool use_defaults) {
  if (use_defaults) globs_ = DefaultGlobs();
  for (std::string& g : extra_globs) globs_.push_back(std::move(g));
}

bool IgnoreRules::IsIgnored(std::string_view relative_path) const {
  std::string path(relative_path);
  // Check the path and each of its parent directories.
  while (!path.empty()) {
    size_t slash = path.find_last_of('/');
    std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    for (const std::string& g : globs_) {
      bool has_slash = g.find('/') != std::string::npos;
      const std::string& subject = has_slash ? path : base;
      if (GlobMatch(g, subject, /*pathname=*/has_slash)) return true;
    }
    if (slash == std::string::npos) break;
    path.resize(slash);
  }
  return false;
}

}  // namespace cardvault
