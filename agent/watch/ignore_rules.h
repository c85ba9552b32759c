// IgnoreRules: which names in the watched folder are never synced (editor and partial
// files by default, plus user globs).
#ifndef CARDVAULT_AGENT_WATCH_IGNORE_RULES_H_
#define CARDVAULT_AGENT_WATCH_IGNORE_RULES_H_

#include <string>
#include <string_view>
#include <vector>

namespace cardvault {

// Globs use fnmatch(3) syntax (GlobMatch, core/glob_match.h). A glob without '/' matches a file or
// directory's base name at any depth; a glob with '/' matches the whole relative path. Everything
// under an ignored directory is ignored too.
class IgnoreRules {
 public:
  // The defaults: "*.swp", "*~", "~$*", ".#*", "*.part", "*.tmp", ".DS_Store", and the
  // agent's own temporary files "*.cv-tmp-*".
  static const std::vector<std::string>& DefaultGlobs();

  explicit IgnoreRules(std::vector<std::string> extra_globs = {}, bool use_defaults = true);

  // `relative_path` is '/'-separated, relative to the watched root.
  bool IsIgnored(std::string_view relative_path) const;

 private:
  std::vector<std::string> globs_;
};

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_WATCH_IGNORE_RULES_H_
