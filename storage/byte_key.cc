// Byte store keys and quarantine names.
#include "storage/byte_key.h"

#include <array>

#include "core/crypto.h"

namespace cardvault {

StatusOr<std::string> NewByteKey(Env& env) {
  std::array<uint8_t, 16> bytes;
  CV_RETURN_IF_ERROR(env.RandomBytes(bytes));
  return HexEncode(bytes);
}

bool IsValidByteKey(std::string_view key) {
  if (key.size() < 3 || key.size() > 64) return false;
  for (char c : key) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'))) return false;
  }
  return true;
}

Status BadByteKey() { return InvalidArgumentError("not a key of this byte store", "bad_byte_key"); }

bool IsValidQuarantineName(std::string_view name) {
  if (name.empty() || name[0] == '.') return false;
  for (char c : name) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '.' || c == '-')) return false;
  }
  return true;
}

}  // namespace cardvault
