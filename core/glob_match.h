// GlobMatch: fnmatch(3)-style glob matching in portable C++ (Windows has no fnmatch).
#ifndef CARDVAULT_CORE_GLOB_MATCH_H_
#define CARDVAULT_CORE_GLOB_MATCH_H_

#include <string_view>

namespace cardvault {

// Whether `subject` matches `pattern` as fnmatch(3) with flags 0 (or FNM_PATHNAME when
// `pathname`) does: '*' any run of characters, '?' one character, "[...]" one of a set
// (ranges "a-z", negation "[!...]" or "[^...]", a ']' first is literal), '\' makes the next
// character literal. With `pathname`, none of them matches '/', which only a '/' matches.
// Bytes are compared as bytes (UTF-8 names match byte for byte). MUST run in time
// O(pattern * subject) for any input (no exponential backtracking).
bool GlobMatch(std::string_view pattern, std::string_view subject, bool pathname = false);

}  // namespace cardvault

#endif  // CARDVAULT_CORE_GLOB_MATCH_H_
