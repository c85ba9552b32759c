// ListDirectory: the names in one directory, on every platform (opendir on POSIX,
// FindFirstFileExW on Windows; the build picks the file).
#ifndef CARDVAULT_AGENT_WATCH_DIR_LISTING_H_
#define CARDVAULT_AGENT_WATCH_DIR_LISTING_H_

#include <string>
#include <vector>

#include "core/status_or.h"

namespace cardvault {

// The names of the entries of directory `dir` (UTF-8; "." and ".." left out), in no
// particular order. kNotFound when `dir` is missing, kPermissionDenied when it cannot be
// read. Follows nothing: what each name is, Env::Stat says.
StatusOr<std::vector<std::string>> ListDirectory(const std::string& dir);

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_WATCH_DIR_LISTING_H_
