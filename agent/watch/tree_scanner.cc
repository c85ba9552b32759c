// ScanTree implementation over ListDirectory and Env::Stat (which does not follow links),
// the same on every platform.
#include "agent/watch/tree_scanner.h"

#include <algorithm>

#include "agent/watch/dir_listing.h"

namespace cardvault {
namespace {

void Walk(Env& env, const std::string& root, const std::string& rel, const IgnoreRules& rules,
          ScanResult& out) {
  StatusOr<std::vector<std::string>> names = ListDirectory(rel.empty() ? root : root + "/" + rel);
  if (!names.ok()) return;
  std::vector<std::string> subdirs;
  for (const std::string& name : *names) {
    std::string child = rel.empty() ? name : rel + "/" + name;
    if (rules.IsIgnored(child)) continue;
    StatusOr<FileInfo> info = env.Stat(root + "/" + child);
    if (!info.ok()) continue;  // vanished meanwhile
    if (info->is_directory || info->is_regular) {
      if (info->is_directory) subdirs.push_back(child);
      (info->is_directory ? out.directories : out.files).push_back({std::move(child), *info});
    } else {
      out.skipped.push_back(std::move(child));
    }
  }
  for (const std::string& s : subdirs) Walk(env, root, s, rules, out);
}

}  // namespace

StatusOr<ScanResult> ScanTree(const std::string& root, const IgnoreRules& rules) {
  Env& env = *Env::Default();
  StatusOr<FileInfo> top = env.Stat(root + "/.");  // "/." follows a root that is a link
  if (!top.ok()) return top.status();
  if (!top->is_directory) return FailedPreconditionError(root + " is not a directory");
  ScanResult out;
  Walk(env, root, "", rules, out);
  auto by_path = [](const ScannedFile& a, const ScannedFile& b) {
    return a.relative_path < b.relative_path;
  };
  std::sort(out.files.begin(), out.files.end(), by_path);
  std::sort(out.directories.begin(), out.directories.end(), by_path);
  std::sort(out.skipped.begin(), out.skipped.end());
  return out;
}

}  // namespace cardvault
