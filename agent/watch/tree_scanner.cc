// ScanTree implementation over opendir/readdir and lstat.
#include "agent/watch/tree_scanner.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>

namespace cardvault {
namespace {

void Walk(const std::string& root, const std::string& rel, const IgnoreRules& rules,
          ScanResult& out) {
  std::string dir = rel.empty() ? root : root + "/" + rel;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  std::vector<std::string> subdirs;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    std::string child = rel.empty() ? name : rel + "/" + name;
    if (rules.IsIgnored(child)) continue;
    struct stat st;
    if (::lstat((root + "/" + child).c_str(), &st) != 0) continue;  // vanished meanwhile
    if (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)) {
      ScannedFile f;
      f.relative_path = child;
      f.info.size = static_cast<uint64_t>(st.st_size);
      f.info.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
      f.info.mode = st.st_mode;
      f.info.inode = st.st_ino;
      f.info.is_regular = S_ISREG(st.st_mode);
      f.info.is_directory = S_ISDIR(st.st_mode);
      if (f.info.is_directory) subdirs.push_back(child);
      (f.info.is_directory ? out.directories : out.files).push_back(std::move(f));
    } else {
      out.skipped.push_back(child);
    }
  }
  ::closedir(d);
  for (const std::string& s : subdirs) Walk(root, s, rules, out);
}

}  // namespace

StatusOr<ScanResult> ScanTree(const std::string& root, const IgnoreRules& rules) {
  struct stat st;
  if (::stat(root.c_str(), &st) != 0) return ErrnoToStatus(errno, "scan", root);
  if (!S_ISDIR(st.st_mode)) return FailedPreconditionError(root + " is not a directory");
  ScanResult out;
  Walk(root, "", rules, out);
  auto by_path = [](const ScannedFile& a, const ScannedFile& b) {
    return a.relative_path < b.relative_path;
  };
  std::sort(out.files.begin(), out.files.end(), by_path);
  std::sort(out.directories.begin(), out.directories.end(), by_path);
  std::sort(out.skipped.begin(), out.skipped.end());
  return out;
}

}  // namespace cardvault
