// ScanTree: lists the regular files and directories of the watched folder for start-up and
// safety-net rescans, skipping ignored names, symlinks and special files.
#ifndef CARDVAULT_AGENT_WATCH_TREE_SCANNER_H_
#define CARDVAULT_AGENT_WATCH_TREE_SCANNER_H_

#include <functional>
#include <string>
#include <vector>

#include "agent/watch/ignore_rules.h"
#include "core/env.h"

namespace cardvault {

struct ScannedFile {
  std::string relative_path;  // '/'-separated
  FileInfo info;
};

struct ScanResult {
  std::vector<ScannedFile> files;        // sorted by relative_path
  std::vector<ScannedFile> directories;  // below the root, sorted by relative_path
  // Symlinks and special files (devices, FIFOs, sockets), which are never synced.
  std::vector<std::string> skipped;
};

// Walks `root` without following symlinks. A directory that vanishes or cannot be read
// during the walk is skipped (a later scan sees it); the root itself missing is an error.
StatusOr<ScanResult> ScanTree(const std::string& root, const IgnoreRules& rules);

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_WATCH_TREE_SCANNER_H_
