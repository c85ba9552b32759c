// The data directory the previous release's server wrote (commit 1b67926, index schema 6),
// committed as tests/fixtures/data-dir-1b67926 by tests/fixtures/make_old_data_dir.sh: where
// it is and what it holds, for every test that starts from it.
#ifndef CARDVAULT_TESTS_STORAGE_OLD_DATA_DIR_FIXTURE_H_
#define CARDVAULT_TESTS_STORAGE_OLD_DATA_DIR_FIXTURE_H_

#include <string>

#include "core/crypto.h"

namespace cardvault {

inline std::string OldDataDirFixture() {
  return std::string(CARDVAULT_SOURCE_DIR) + "/tests/fixtures/data-dir-1b67926";
}

// `pattern` repeated, cut at `size` bytes: how the fixture's contents (and other tests'
// recognisable test data) are made.
inline std::string RepeatedText(const std::string& pattern, size_t size) {
  std::string out;
  while (out.size() < size) out += pattern;
  out.resize(size);
  return out;
}

// The bytes make_old_data_dir.sh uploaded as object `n` of `user`.
inline std::string FixtureContent(const std::string& user, int n, size_t size,
                                  const std::string& tag = "") {
  return RepeatedText("cardvault fixture " + user + " " + std::to_string(n) + " " + tag, size);
}

// The id make_old_data_dir.sh gave object `n` of `user`.
inline std::string FixtureId(const std::string& user, int n) {
  return HexEncode(Sha256(AsBytes(user + "/" + std::to_string(n))));
}

}  // namespace cardvault

#endif  // CARDVAULT_TESTS_STORAGE_OLD_DATA_DIR_FIXTURE_H_
