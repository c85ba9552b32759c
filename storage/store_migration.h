// StoreMigration: copies everything a server keeps from one set of stores to another
// (`cardvault-server migrate`: a single-node data directory to PostgreSQL and an object
// store), over the seams only, whatever the backends on either side.
#ifndef CARDVAULT_STORAGE_STORE_MIGRATION_H_
#define CARDVAULT_STORAGE_STORE_MIGRATION_H_

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "core/env.h"
#include "storage/byte_store.h"
#include "storage/object_index.h"
#include "storage/token_store.h"

namespace cardvault {

// The three stores of one server.
struct StoreSet {
  ObjectIndex* index = nullptr;
  ByteStore* bytes = nullptr;
  TokenStore* tokens = nullptr;
};

// A source version whose bytes were not whole (or that was already marked damaged): copied
// as damaged, without bytes, so the destination answers "object_damaged" for it as the
// source's server did or would have.
struct MigratedDamage {
  std::string user;
  std::string id;
  int64_t source_version = 0;
  std::string what;  // the damage mark, as the destination keeps it
};

struct MigrationProgress {
  uint64_t versions_copied = 0;   // imported by this run
  uint64_t versions_earlier = 0;  // found imported by an earlier run (skipped)
  uint64_t bytes_copied = 0;      // object bytes copied by this run (stored and inline)
  int64_t last_source_version = 0;
};

struct MigrationSummary {
  MigrationProgress progress;
  uint64_t versions = 0;  // every version in the destination from the source (both runs)
  uint64_t live_objects = 0;
  uint64_t live_bytes = 0;      // of every user, as the destination counts them
  uint64_t retained_bytes = 0;  // retired versions kept for retention, likewise
  uint64_t users = 0;
  uint64_t tokens = 0;
  uint64_t quotas = 0;  // users with a quota of their own
  std::vector<MigratedDamage> damaged;
  double seconds = 0;
};

struct MigrationOptions {
  // Versions copied, verified and then imported in one index transaction.
  size_t page_versions = 64;
  // Called after users and tokens are copied, then after each page is imported; a non-OK
  // status stops the migration there and is its result (what was committed stays: a new
  // run resumes). Progress reports and tests' stopping points.
  std::function<Status(const MigrationProgress&)> on_progress;
  // Called for each damaged source version as it is copied (not again on a later run).
  std::function<void(const MigratedDamage&)> on_damaged;
};

// Copies users (with their creation times), tokens (their digests and ids: every device
// token keeps working), own quotas and every version the source index holds (live, retired
// with its retire time, damage marks, inline bytes), each stored version's bytes streamed
// into the destination's byte store.
// - Verified: a version's bytes are hashed while read from the source (a mismatch with the
//   source index makes it damaged, see MigratedDamage), then read back from the
//   destination and their SHA-256 compared before the index records them; a mismatch
//   stops the migration (kCorrupt "copy_mismatch", naming the user and object). Inline
//   bytes are read back from the destination index after their import, and again on
//   every later run. At the end, each user's version count and live and retained bytes
//   MUST match the source's (kCorrupt "migration_incomplete" otherwise).
// - Resumable: each version is recorded under its source number (ObjectIndex::Import), a
//   page in one transaction, so a run stopped at any point and run again skips what is
//   recorded and copies the rest; the result is the same as one run's. Bytes written for a
//   page whose import never committed are orphans the destination's sweep removes.
// - Refuses (kFailedPrecondition "destination_not_empty", before writing anything of that
//   user) when the destination holds objects or tokens of a source user that no run of
//   this migration wrote, or "token_id_taken" when a source token's id holds another.
// The source is only read. Not thread-safe; one migration per destination at a time.
class StoreMigration {
 public:
  // The stores and `env` MUST outlive the migration.
  StoreMigration(Env* env, StoreSet from, StoreSet to, MigrationOptions options);

  StatusOr<MigrationSummary> Run();

 private:
  Status CheckTokens(const std::vector<TokenRecord>& tokens);
  Status CheckUser(const std::string& user);
  Status CopyUsersAndTokens();
  Status CopyPage(std::vector<IndexedVersion> page);
  // `v` ready to import into the destination: its bytes copied and verified, or marked
  // damaged. kCorrupt when the destination gives back other bytes.
  StatusOr<IndexedVersion> CopyVersion(IndexedVersion v);
  Status CopyStoredBytes(IndexedVersion& v);
  Status VerifyInline(const IndexedVersion& source, int64_t destination_version);
  Status CheckSame(const IndexedVersion& source, const IndexedVersion& imported) const;
  void NoteDamaged(const IndexedVersion& source, const std::string& what, bool now);
  StatusOr<MigrationSummary> Verify();

  Env* env_;
  StoreSet from_;
  StoreSet to_;
  MigrationOptions options_;
  MigrationProgress progress_;
  std::set<std::string> users_checked_;
  std::vector<MigratedDamage> damaged_;
  uint64_t tokens_ = 0;
  uint64_t quotas_ = 0;
};

}  // namespace cardvault

#endif  // CARDVAULT_STORAGE_STORE_MIGRATION_H_
