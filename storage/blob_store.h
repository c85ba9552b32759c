// BlobStore: the server's per-user object storage contract (put, read, head, delete, list).
#ifndef CARDVAULT_STORAGE_BLOB_STORE_H_
#define CARDVAULT_STORAGE_BLOB_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/status.h"
#include "core/status_or.h"
#include "storage/object_id.h"

namespace cardvault {

struct ObjectInfo {
  std::string id;
  ObjectKind kind = ObjectKind::kBlob;
  uint64_t size = 0;
  std::string sha256;        // lowercase hex of the content
  int64_t created_unix = 0;  // seconds since the Unix epoch
};

// How an upload without a known SHA-256 (PutOptions::sha256 empty) is checked in transfer.
enum class TransferCheck {
  kSha256,  // "X-Content-SHA256: appended": the content's SHA-256 follows it
  // "X-Content-XXH128: appended": its XXH3-128 follows it, far cheaper to compute; the
  // server computes the SHA-256 itself, which the client then cannot check.
  kXxh128,
};

struct PutOptions {
  ObjectKind kind = ObjectKind::kBlob;
  uint64_t size = 0;  // the exact number of bytes that will be appended
  // The expected content digest, lowercase hex. Empty at BeginPut means "given at commit":
  // the digest is not known yet (an upload whose body ends with its own digest) and MUST
  // be supplied with PendingPut::SetExpectedSha256 before Commit.
  std::string sha256;
  bool create_only = false;  // fail with kAlreadyExists if a live object has this id
  // Client side (ObjectClient::Put) only, and only when sha256 is empty: which digest is
  // appended to the body. Stores ignore it.
  TransferCheck transfer_check = TransferCheck::kSha256;
};

struct ListOptions {
  std::string prefix;              // only ids starting with this (lowercase hex)
  std::string after;               // only ids strictly greater (the previous page's last)
  size_t limit = 1000;             // at most this many (clamped to [1, kMaxListLimit])
  std::optional<ObjectKind> kind;  // only this kind if set
};

struct ListPage {
  std::vector<ObjectInfo> objects;  // in ascending id order
  bool truncated = false;           // more objects follow the last one
};

inline constexpr size_t kMaxListLimit = 1000;

// An upload in progress. Bytes are invisible to every reader until Commit() returns OK.
// Destroying it without a successful Commit aborts: nothing is stored, nothing listed.
class PendingPut {
 public:
  virtual ~PendingPut() = default;
  // Appends the next bytes. More bytes than PutOptions::size is kInvalidArgument
  // ("size_mismatch"); the upload is then dead and MUST be destroyed.
  virtual Status Append(ByteView data) = 0;
  // Supplies the expected digest (64 lowercase hex) of an upload begun with an empty
  // PutOptions::sha256. Such an upload MUST receive it exactly once, before Commit; an
  // implementation MUST NOT publish such an upload without it (Commit then fails with
  // kFailedPrecondition "sha256_missing"). Errors, after which the upload is dead and MUST
  // be destroyed (nothing stored): kInvalidArgument "bad_sha256" for anything but 64
  // lowercase hex; kFailedPrecondition if the digest was given at BeginPut or already set,
  // or the upload already failed or finished. Checks nothing against the content itself:
  // Commit does.
  virtual Status SetExpectedSha256(std::string_view sha256_hex) = 0;
  // Instead of SetExpectedSha256, for an upload begun with an empty PutOptions::sha256
  // whose content the caller checked by other means (the server, an appended XXH3-128):
  // Commit then publishes it under the SHA-256 computed from the content. Same rules as
  // SetExpectedSha256: at most one of the two, once, before Commit; kFailedPrecondition
  // otherwise, after which the upload is dead.
  virtual Status AcceptComputedSha256() = 0;
  // Checks the size and the SHA-256 against the expected digest, from PutOptions::sha256
  // or SetExpectedSha256, unless AcceptComputedSha256 was called (kInvalidArgument, "size_mismatch"
  // or "sha256_mismatch": nothing stored), makes the data durable and publishes it, atomically
  // replacing any live object with the same id (unless create_only, which is re-checked here:
  // kAlreadyExists). Called at most once.
  virtual StatusOr<ObjectInfo> Commit() = 0;
};

// An open object for reading. Keeps reading the version it opened even if the object is
// replaced or deleted meanwhile.
class BlobReader {
 public:
  virtual ~BlobReader() = default;
  virtual const ObjectInfo& info() const = 0;
  // Reads up to buf.size() bytes at `offset`; 0 only at or beyond the end.
  virtual StatusOr<size_t> ReadAt(uint64_t offset, std::span<uint8_t> buf) = 0;
};

// Per-user object storage. Every method takes the authenticated user's name; users are
// fully isolated: another user's object MUST behave exactly like a missing one
// (kNotFound, never listed, never counted). Ids MUST be checked with IsValidObjectId by
// the implementation (kInvalidArgument, "bad_object_id") and MUST NOT reach the file
// system. Implementations MUST be thread-safe.
class BlobStore {
 public:
  virtual ~BlobStore() = default;

  // Starts an upload. options.sha256 MUST be 64 lowercase hex or empty (digest given at
  // commit, see PendingPut::SetExpectedSha256); anything else is kInvalidArgument
  // "bad_sha256". Fails before any byte is read with kResourceExhausted
  // "object_too_large" (size above the store's limit) or "quota_exceeded" (the user's
  // live bytes plus `size` above the quota), or kAlreadyExists if create_only and a live
  // object has this id.
  virtual StatusOr<std::unique_ptr<PendingPut>> BeginPut(std::string_view user, std::string_view id,
                                                         const PutOptions& options) = 0;
  // kNotFound if there is no live object `id` for `user`. kCorrupt "object_damaged" if the
  // stored bytes are known not to match the object's size (or were quarantined): such an
  // object MUST NOT be read as if whole, and a reader whose bytes end early MUST fail
  // ReadAt with the same error rather than return 0 before the end.
  virtual StatusOr<std::unique_ptr<BlobReader>> Open(std::string_view user,
                                                     std::string_view id) = 0;
  // What is left of an object, damaged or not: a reader of its first `end` bytes (ReadAt
  // past them returns 0), e.g. so that a client can still read a damaged object's header
  // and name it. `end` MUST be below the object's size, so that no object is ever read
  // whole this way (kInvalidArgument otherwise). kCorrupt "object_damaged" if fewer than
  // `end` bytes are stored (a missing file, or bytes quarantined), kNotFound as Open.
  virtual StatusOr<std::unique_ptr<BlobReader>> OpenPrefix(std::string_view user,
                                                           std::string_view id, uint64_t end) = 0;
  virtual StatusOr<ObjectInfo> Head(std::string_view user, std::string_view id) = 0;
  // Soft delete: the object disappears at once from Open/Head/List and from the quota;
  // its bytes stay on disk for the retention period (see PurgeExpired). kNotFound if
  // there is no live object.
  virtual Status Delete(std::string_view user, std::string_view id) = 0;
  // One page of live objects in id order; continue with after = last id while truncated.
  virtual StatusOr<ListPage> List(std::string_view user, const ListOptions& options) = 0;
  // Bytes of live objects the user holds.
  virtual StatusOr<uint64_t> UsedBytes(std::string_view user) = 0;
  // The most live bytes the user may hold (the store's default or the user's own).
  virtual StatusOr<uint64_t> QuotaBytes(std::string_view user) = 0;
  // Readiness (GET /v1/ready): whether what this store keeps its objects in answers now,
  // with the reasons of ObjectIndex::Probe and ByteStore::Probe ("index_unavailable",
  // "object_store_unavailable", "object_store_denied"). Reads and changes no object. A store
  // with nothing to reach answers OK.
  virtual Status Probe() { return Status::Ok(); }
};

}  // namespace cardvault

#endif  // CARDVAULT_STORAGE_BLOB_STORE_H_
