// Object ids and kinds: the only names a client may give the server, checked before use.
#ifndef CARDVAULT_STORAGE_OBJECT_ID_H_
#define CARDVAULT_STORAGE_OBJECT_ID_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace cardvault {

// An object id is exactly 64 lowercase hex characters (a SHA-256 in hex). Ids are never
// used to build a file path: blob files are named by the server (see FileBlobStore).
inline constexpr size_t kObjectIdLength = 64;

// True iff `id` has the length and alphabet above.
bool IsValidObjectId(std::string_view id);
// True iff `prefix` is at most 64 lowercase hex characters (empty is valid).
bool IsValidObjectIdPrefix(std::string_view prefix);
// True iff `hex` is a SHA-256 digest in lowercase hex (same shape as an id).
inline bool IsValidSha256Hex(std::string_view hex) { return IsValidObjectId(hex); }

// "X-Content-SHA256: appended": the upload's body ends with the raw SHA-256 (this many
// bytes) of the bytes before it (docs/server.md).
inline constexpr std::string_view kAppendedDigest = "appended";
inline constexpr uint64_t kAppendedDigestBytes = 32;
// "X-Content-XXH128: appended" (instead of X-Content-SHA256): the body ends with the
// canonical (big-endian) XXH3-128, seed 0, of the bytes before it (this many bytes). A
// cheap transfer check; the server still computes and returns the object's SHA-256.
inline constexpr std::string_view kXxh128Header = "X-Content-XXH128";
inline constexpr std::string_view kXxh128Appended = kAppendedDigest;
inline constexpr uint64_t kAppendedXxh128Bytes = 16;
// The longest appended digest, whatever the mode.
inline constexpr uint64_t kMaxAppendedDigestBytes = kAppendedDigestBytes;

// Objects of different kinds share the id space of a user but list separately, so the
// client can fetch its (few) key objects without paging through all blobs.
enum class ObjectKind { kBlob = 0, kKey = 1 };

std::string_view ObjectKindName(ObjectKind kind);  // "blob" or "key"
std::optional<ObjectKind> ParseObjectKind(std::string_view name);

// A user name: 1 to 32 characters from [a-z0-9_-], starting with a letter or digit.
bool IsValidUserName(std::string_view name);

}  // namespace cardvault

#endif  // CARDVAULT_STORAGE_OBJECT_ID_H_
