// GlobMatch implementation: the classic single-backtrack wildcard matcher (only the last
// '*' is retried), extended with sets and escapes.
#include "core/glob_match.h"

#include <optional>

namespace cardvault {
namespace {

// Matches the set starting at pattern[p] == '[' against `c`. Returns the index just after
// the set and whether `c` is in it, or nullopt when the set is not closed (then '[' is a
// literal, as in fnmatch).
std::optional<std::pair<size_t, bool>> MatchSet(std::string_view pattern, size_t p, char c,
                                                bool pathname) {
  size_t i = p + 1;
  bool negate = false;
  if (i < pattern.size() && (pattern[i] == '!' || pattern[i] == '^')) {
    negate = true;
    ++i;
  }
  bool found = false;
  bool first = true;
  while (i < pattern.size() && (first || pattern[i] != ']')) {
    first = false;
    char lo = pattern[i];
    if (lo == '\\' && i + 1 < pattern.size()) lo = pattern[++i];
    ++i;
    char hi = lo;
    if (i + 1 < pattern.size() && pattern[i] == '-' && pattern[i + 1] != ']') {
      hi = pattern[i + 1];
      i += 2;
      if (hi == '\\' && i < pattern.size()) hi = pattern[i++];
    }
    const auto u = static_cast<unsigned char>(c);
    if (static_cast<unsigned char>(lo) <= u && u <= static_cast<unsigned char>(hi)) found = true;
  }
  if (i >= pattern.size()) return std::nullopt;
  if (pathname && c == '/') return std::make_pair(i + 1, false);
  return std::make_pair(i + 1, found != negate);
}

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view subject, bool pathname) {
  size_t p = 0, s = 0;
  size_t star_p = std::string_view::npos, star_s = 0;
  while (s < subject.size()) {
    if (p < pattern.size()) {
      const char pc = pattern[p];
      if (pc == '*') {
        star_p = ++p;
        star_s = s;
        continue;
      }
      if (pc == '?' && !(pathname && subject[s] == '/')) {
        ++p;
        ++s;
        continue;
      }
      if (pc == '[') {
        if (auto set = MatchSet(pattern, p, subject[s], pathname)) {
          if (set->second) {
            p = set->first;
            ++s;
            continue;
          }
        } else if (subject[s] == '[') {
          ++p;
          ++s;
          continue;
        }
      } else if (pc != '?') {
        if (pc == '\\' && p + 1 == pattern.size()) return false;  // a lone '\' matches nothing
        const bool escaped = pc == '\\';
        if (subject[s] == (escaped ? pattern[p + 1] : pc)) {
          p += escaped ? 2 : 1;
          ++s;
          continue;
        }
      }
    }
    // Mismatch: let the last '*' take one more character, unless that is a '/' it may not
    // cross (then no earlier '*' can help either: they are cut off by that '/').
    if (star_p == std::string_view::npos || (pathname && subject[star_s] == '/')) return false;
    p = star_p;
    s = ++star_s;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace cardvault
