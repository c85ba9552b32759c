// Tests for GlobMatch: fnmatch(3)'s syntax on every platform, checked against glibc's
// fnmatch itself where it exists.
#include "core/glob_match.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#if __has_include(<fnmatch.h>)
#include <fnmatch.h>
#define CARDVAULT_HAVE_FNMATCH 1
#endif

namespace cardvault {
namespace {

TEST(GlobMatchTest, WildcardsSetsAndEscapes) {
  EXPECT_TRUE(GlobMatch("*.swp", ".notes.txt.swp"));
  EXPECT_FALSE(GlobMatch("*.swp", "notes.swp.txt"));
  EXPECT_TRUE(GlobMatch("~$*", "~$report.docx"));
  EXPECT_TRUE(GlobMatch("#*#", "#todo.org#"));
  EXPECT_FALSE(GlobMatch("#*#", "#todo.org"));
  EXPECT_TRUE(GlobMatch("a?c", "abc"));
  EXPECT_FALSE(GlobMatch("a?c", "ac"));
  EXPECT_TRUE(GlobMatch("[a-c]x", "bx"));
  EXPECT_FALSE(GlobMatch("[!a-c]x", "bx"));
  EXPECT_TRUE(GlobMatch("[^a-c]x", "dx"));
  EXPECT_TRUE(GlobMatch("[]]", "]"));
  EXPECT_TRUE(GlobMatch("\\*", "*"));
  EXPECT_FALSE(GlobMatch("\\*", "x"));
  EXPECT_TRUE(GlobMatch("[", "["));       // an unclosed set is a literal '['
  EXPECT_FALSE(GlobMatch("a\\", "a\\"));  // a lone trailing '\' matches nothing
  EXPECT_TRUE(GlobMatch("*", ""));
  EXPECT_TRUE(GlobMatch("ü*", "über.txt"));
}

TEST(GlobMatchTest, PathnameKeepsWildcardsInsideOneComponent) {
  EXPECT_TRUE(GlobMatch("build/*.o", "build/x.o", true));
  EXPECT_FALSE(GlobMatch("build/*.o", "build/sub/x.o", true));
  EXPECT_TRUE(GlobMatch("build/*.o", "build/sub/x.o", false));
  EXPECT_FALSE(GlobMatch("a?b", "a/b", true));
  EXPECT_FALSE(GlobMatch("a[/]b", "a/b", true));
  EXPECT_TRUE(GlobMatch("*/*", "a/b", true));
  EXPECT_FALSE(GlobMatch("*", "a/b", true));
}

// Long runs of stars against a subject that never matches finish at once.
TEST(GlobMatchTest, NoExponentialBacktracking) {
  const std::string pattern = "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b";
  const std::string subject(10000, 'a');
  EXPECT_FALSE(GlobMatch(pattern, subject));
  EXPECT_FALSE(GlobMatch(pattern, subject, true));
}

#ifdef CARDVAULT_HAVE_FNMATCH
// Random short patterns and names over the special characters agree with glibc's fnmatch,
// with and without FNM_PATHNAME. Left out: patterns glibc treats idiosyncratically and
// that are malformed anyway (an escaped '/' with FNM_PATHNAME, an unclosed '[').
TEST(GlobMatchTest, AgreesWithFnmatch) {
  std::mt19937 rng(19);
  const std::string pattern_chars = "ab/*?[]!^-\\";
  const std::string subject_chars = "ab/[]-!\\";
  int compared = 0;
  for (int i = 0; i < 200000; ++i) {
    std::string p, s;
    for (unsigned k = rng() % 8; k > 0; --k) p += pattern_chars[rng() % pattern_chars.size()];
    for (unsigned k = rng() % 8; k > 0; --k) s += subject_chars[rng() % subject_chars.size()];
    if (p.find("\\/") != std::string::npos) continue;
    const size_t open = p.rfind('[');
    if (open != std::string::npos && p.find(']', open + 2) == std::string::npos) continue;
    for (bool pathname : {false, true}) {
      const bool want = ::fnmatch(p.c_str(), s.c_str(), pathname ? FNM_PATHNAME : 0) == 0;
      ASSERT_EQ(GlobMatch(p, s, pathname), want)
          << "pattern '" << p << "' name '" << s << "' pathname " << pathname;
      ++compared;
    }
  }
  EXPECT_GT(compared, 100000);
}
#endif

}  // namespace
}  // namespace cardvault
