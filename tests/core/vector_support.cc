// Manifest parsing and the deterministic Env for the committed test vectors.
#include "tests/core/vector_support.h"

#include <sstream>

namespace cardvault {

std::vector<Vector> ParseVectors(const std::string& text) {
  std::vector<Vector> out;
  Vector cur;
  std::istringstream in(text);
  std::string line;
  auto flush = [&] {
    if (!cur.empty()) out.push_back(cur);
    cur.clear();
  };
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] == '#') continue;
    if (line.empty()) {
      flush();
      continue;
    }
    size_t colon = line.find(": ");
    if (colon == std::string::npos) continue;
    cur[line.substr(0, colon)] = line.substr(colon + 2);
  }
  flush();
  return out;
}

std::string FormatVector(const Vector& v) {
  static const char* kOrder[] = {"name",     "description", "expect",        "blob",    "plaintext",
                                 "identity", "file_key",    "payload_nonce", "path",    "size",
                                 "sha256",   "kind",        "mode",          "recorded"};
  std::string out;
  for (const char* k : kOrder) {
    auto it = v.find(k);
    if (it != v.end()) out += std::string(k) + ": " + it->second + "\n";
  }
  return out;
}

Status FixedRandomEnv::RandomBytes(std::span<uint8_t> out) {
  for (uint8_t& b : out) {
    if (pos_ < prefix_.size()) {
      b = prefix_[pos_++];
      continue;
    }
    size_t k = pos_ - prefix_.size();
    Bytes block_input(seed_.begin(), seed_.end());
    AppendU64(block_input, k / 32);
    b = Sha256(block_input)[k % 32];
    ++pos_;
  }
  ++counter_;
  return Status::Ok();
}

}  // namespace cardvault
