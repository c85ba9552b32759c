// Validation of object ids, prefixes, kinds and user names.
#include "storage/object_id.h"

namespace cardvault {
namespace {

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

bool AllLowerHex(std::string_view s) {
  for (char c : s) {
    if (!IsLowerHex(c)) return false;
  }
  return true;
}

}  // namespace

bool IsValidObjectId(std::string_view id) {
  return id.size() == kObjectIdLength && AllLowerHex(id);
}

bool IsValidObjectIdPrefix(std::string_view prefix) {
  return prefix.size() <= kObjectIdLength && AllLowerHex(prefix);
}

std::string_view ObjectKindName(ObjectKind kind) {
  return kind == ObjectKind::kKey ? "key" : "blob";
}

std::optional<ObjectKind> ParseObjectKind(std::string_view name) {
  if (name == "blob") return ObjectKind::kBlob;
  if (name == "key") return ObjectKind::kKey;
  return std::nullopt;
}

bool IsValidUserName(std::string_view name) {
  if (name.empty() || name.size() > 32) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '_' && c != '-'))) return false;
  }
  return true;
}

}  // namespace cardvault
