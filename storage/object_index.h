// ObjectIndex: the server's record of object versions (who owns which id, its size, digest,
// where its bytes are, when it was retired), live and retained bytes per user, and quotas.
#ifndef CARDVAULT_STORAGE_OBJECT_INDEX_H_
#define CARDVAULT_STORAGE_OBJECT_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/bytes.h"
#include "core/status.h"
#include "core/status_or.h"
#include "storage/blob_store.h"

namespace cardvault {

// One recorded version of an object.
struct IndexedVersion {
  // The index's own number for this version: unique within the index, never reused, and
  // increasing in the order versions were recorded.
  int64_t version = 0;
  std::string user;
  ObjectInfo info;
  std::string byte_key;                 // where its bytes are in the ByteStore; empty when inline
  bool is_inline = false;               // its bytes are kept in the index itself
  Bytes data;                           // those bytes, when asked for
  std::string damaged;                  // non-empty: marked damaged (MarkDamaged), what was wrong
  std::optional<int64_t> retired_unix;  // when it was deleted or replaced; nullopt: live
};

// How many versions (live and retired) a user has, and how many of them were imported
// (ObjectIndex::Import) rather than recorded by uploads.
struct VersionCounts {
  uint64_t versions = 0;
  uint64_t imported = 0;
};

// What Import did with one version.
struct ImportResult {
  IndexedVersion version;  // as this index holds it (its own number), without inline bytes
  bool inserted = false;   // false: it was imported before, and nothing changed
};

// What a user holds. live_bytes and retained_bytes MUST always equal the sums over the
// user's live and retired (not yet forgotten) versions.
struct UserUsage {
  uint64_t live_bytes = 0;
  uint64_t retained_bytes = 0;          // retired versions not forgotten yet
  std::optional<uint64_t> quota_bytes;  // the user's own quota; nullopt: the store's default
};

// ObjectIndex::FindLiveAndUsage's answer.
struct LiveAndUsage {
  std::optional<IndexedVersion> live;
  UserUsage usage;
};

// A version to record. The views MUST stay valid for the call.
struct NewVersion {
  std::string_view user;
  std::string_view id;
  ObjectKind kind = ObjectKind::kBlob;
  uint64_t size = 0;
  std::string_view sha256;
  std::string_view byte_key;    // empty for an inline version
  const Bytes* data = nullptr;  // the bytes of an inline version (size() == size)
};

// The reads and changes of one step inside an index transaction (ObjectIndex::WriteBatch).
// What a step reads MUST NOT change under it until its transaction commits or rolls back:
// two steps of any two transactions (on any instance sharing the index) behave as if run
// one after the other.
class IndexTransaction {
 public:
  virtual ~IndexTransaction() = default;
  // The live version of `id` for `user` (without its inline bytes), or nullopt.
  virtual StatusOr<std::optional<IndexedVersion>> FindLive(std::string_view user,
                                                           std::string_view id) = 0;
  virtual StatusOr<UserUsage> Usage(std::string_view user) = 0;
  // Retires the live version of `id` at `now_unix` (it leaves the live bytes and joins the
  // retained ones). Returns false if there was none.
  virtual StatusOr<bool> RetireLive(std::string_view user, std::string_view id,
                                    int64_t now_unix) = 0;
  // Records `v` as the live version of its id, created at `now_unix`. The id MUST have no
  // live version (retire it first in the same step).
  virtual Status Insert(const NewVersion& v, int64_t now_unix) = 0;
};

using IndexStep = std::function<Status(IndexTransaction&)>;

// The index. Ids and user names reach it already checked (BlobStore does). Implementations
// MUST be thread-safe, and MUST keep a committed change through a crash or power loss.
class ObjectIndex {
 public:
  virtual ~ObjectIndex() = default;

  // Readiness (GET /v1/ready): one cheap round trip to where the index lives, reading and
  // changing none of its data. MUST return OK when the index can serve requests now, else
  // kUnavailable "index_unavailable" (whatever failed; the message says what, for the log),
  // within the backend's own connect and query timeouts.
  virtual Status Probe() = 0;

  // Runs every step in one transaction, in order, and commits it durably with one flush
  // (group commit). Each step is all or nothing on its own: a step that returns an error
  // leaves no trace and the error is its result, while the others commit. results.size()
  // MUST equal steps.size(). A non-OK return means the transaction failed as a whole:
  // nothing of it is stored, and every result is that error.
  virtual Status WriteBatch(std::span<const IndexStep* const> steps, std::span<Status> results) = 0;

  // The live version of `id` for `user`, with its inline bytes if `with_data`; kNotFound
  // "no_such_object" if there is none.
  virtual StatusOr<IndexedVersion> FindLive(std::string_view user, std::string_view id,
                                            bool with_data) = 0;
  virtual StatusOr<UserUsage> Usage(std::string_view user) = 0;
  // The live version of `id` for `user` (without its inline bytes; nullopt if none) and the
  // user's usage: what FindLive and Usage answer, for the checks of an upload before its
  // body. Not a transaction: a write between the two reads MAY show in one and not the
  // other, so a caller MUST check again inside WriteBatch. The default reads both in turn; a
  // backend MAY override it to answer in one round trip.
  virtual StatusOr<LiveAndUsage> FindLiveAndUsage(std::string_view user, std::string_view id) {
    LiveAndUsage out;
    StatusOr<IndexedVersion> live = FindLive(user, id, /*with_data=*/false);
    if (live.ok()) {
      out.live = std::move(*live);
    } else if (live.status().code() != StatusCode::kNotFound) {
      return live.status();
    }
    CV_ASSIGN_OR_RETURN(out.usage, Usage(user));
    return out;
  }
  // Sets (or with nullopt clears) the user's own quota; works for a user with no objects.
  virtual Status SetQuota(std::string_view user, std::optional<uint64_t> quota_bytes) = 0;
  // One page of live versions as BlobStore::List defines it. `options` are already checked
  // and options.limit is within [1, kMaxListLimit].
  virtual StatusOr<ListPage> List(std::string_view user, const ListOptions& options) = 0;

  // Up to `limit` versions retired at or before `retired_at_or_before_unix` (any order).
  virtual StatusOr<std::vector<IndexedVersion>> Expired(int64_t retired_at_or_before_unix,
                                                        size_t limit) = 0;
  // Drops the record of a retired version (its bytes already removed); a version already
  // forgotten is OK. MUST NOT forget a live version.
  virtual Status Forget(int64_t version) = 0;
  // Whether any version, live or retired, has its bytes under `byte_key`.
  virtual StatusOr<bool> References(std::string_view byte_key) = 0;

  // Up to `limit` live versions numbered above `after_version`, in ascending version order,
  // without their inline bytes (a walk over every live object: BlobStoreChecker). Each call
  // MAY be its own short read transaction.
  virtual StatusOr<std::vector<IndexedVersion>> LivePage(int64_t after_version, size_t limit) = 0;
  // The inline bytes of a version, or nullopt if it is forgotten or has none.
  virtual StatusOr<std::optional<Bytes>> InlineData(int64_t version) = 0;
  // Marks a still-live version damaged with `what` (dropping its inline bytes if
  // `drop_data`); returns false, changing nothing, if it is no longer live.
  virtual StatusOr<bool> MarkDamaged(int64_t version, std::string_view what, bool drop_data) = 0;

  // Migration between indexes (storage/store_migration.h).
  //
  // Up to `limit` versions, live and retired (not yet forgotten), numbered above
  // `after_version`, in ascending version order, with retired_unix and damage marks, and
  // their inline bytes if `with_data`. Each call MAY be its own short read transaction.
  virtual StatusOr<std::vector<IndexedVersion>> VersionPage(int64_t after_version, size_t limit,
                                                            bool with_data) = 0;
  // Every user with a quota of their own (SetQuota), in ascending name order.
  virtual StatusOr<std::vector<std::pair<std::string, uint64_t>>> OwnQuotas() = 0;
  virtual StatusOr<VersionCounts> CountVersions(std::string_view user) = 0;
  // Records versions as another index holds them, in one transaction (all or nothing, one
  // flush). For each `v`: v.version is its number in the other index (its origin, > 0),
  // and user, info (created_unix included), retired_unix, damaged and either the inline
  // bytes (is_inline, data) or byte_key (a key of THIS index's byte store, or empty for a
  // damaged version without bytes) are kept as given; this index numbers it anew, in the
  // order given. Idempotent by (user, origin): a version of `v.user` imported from the same
  // origin before is left as it is and returned with inserted == false. Live and retained
  // bytes MUST follow (a retired version counts as retained). A live version whose id
  // already has another live version is kAlreadyExists "object_exists" (nothing imported).
  virtual StatusOr<std::vector<ImportResult>> Import(std::span<const IndexedVersion> versions) = 0;
  // The version of `user` imported from `origin` (without inline bytes), or nullopt.
  virtual StatusOr<std::optional<IndexedVersion>> FindImported(std::string_view user,
                                                               int64_t origin) = 0;
};

}  // namespace cardvault

#endif  // CARDVAULT_STORAGE_OBJECT_INDEX_H_
