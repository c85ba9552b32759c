// Shared by the vector generator and the vector test: the manifest format of
// tests/vectors/vectors.txt and a deterministic Env for fixed file keys and nonces.
#ifndef CARDVAULT_TESTS_CORE_VECTOR_SUPPORT_H_
#define CARDVAULT_TESTS_CORE_VECTOR_SUPPORT_H_

#include <map>
#include <string>
#include <vector>

#include "core/crypto.h"
#include "core/env.h"

namespace cardvault {

// One vector: "key: value" lines; blocks separated by blank lines; '#' starts a comment.
// Keys: name, description, blob, plaintext (ok vectors), identity, file_key,
// payload_nonce, expect ("ok" or an error reason), path, size, sha256.
using Vector = std::map<std::string, std::string>;

std::vector<Vector> ParseVectors(const std::string& text);
std::string FormatVector(const Vector& v);

// RandomBytes yields `prefix` first (e.g. a file key then a nonce), then a SHA-256 counter
// stream of `seed`. Everything else goes to the default Env.
class FixedRandomEnv : public EnvWrapper {
 public:
  FixedRandomEnv(Bytes prefix, std::string seed)
      : EnvWrapper(Env::Default()), prefix_(std::move(prefix)), seed_(std::move(seed)) {}
  Status RandomBytes(std::span<uint8_t> out) override;

 private:
  Bytes prefix_;
  std::string seed_;
  size_t pos_ = 0;
  uint64_t counter_ = 0;
};

}  // namespace cardvault

#endif  // CARDVAULT_TESTS_CORE_VECTOR_SUPPORT_H_
