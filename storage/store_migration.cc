// StoreMigration implementation: users and tokens first, then the source index a page of
// versions at a time (bytes copied and verified, then one import transaction), then totals.
#include "storage/store_migration.h"

#include <algorithm>
#include <map>

#include "core/crypto.h"

namespace cardvault {
namespace {

constexpr size_t kCopyBlock = 1 << 20;

std::string Named(const IndexedVersion& v) {
  return "object " + v.info.id + " of user " + v.user + " (source version " +
         std::to_string(v.version) + ")";
}

Status NotEmpty(const std::string& what) {
  return FailedPreconditionError(
      "the destination already holds " + what +
          " that no run of this migration wrote; migrate into stores without this data "
          "directory's users (or remove what is there), then run migrate again",
      "destination_not_empty");
}

// Reads `size` bytes of `reader` block by block into `fn`; the SHA-256 of what was read,
// or "" if the bytes ended early.
StatusOr<std::string> HashStream(ByteReader& reader, uint64_t size,
                                 const std::function<Status(ByteView)>& fn) {
  Sha256Hasher hasher;
  Bytes block(static_cast<size_t>(std::min<uint64_t>(size, kCopyBlock)));
  for (uint64_t offset = 0; offset < size;) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(block.size(), size - offset));
    CV_ASSIGN_OR_RETURN(size_t n, reader.ReadAt(offset, std::span(block).first(want)));
    if (n == 0) return std::string();
    const ByteView got(block.data(), n);
    hasher.Update(got);
    if (fn) CV_RETURN_IF_ERROR(fn(got));
    offset += n;
  }
  return HexEncode(hasher.Finish());
}

}  // namespace

StoreMigration::StoreMigration(Env* env, StoreSet from, StoreSet to, MigrationOptions options)
    : env_(env), from_(from), to_(to), options_(std::move(options)) {
  options_.page_versions = std::max<size_t>(options_.page_versions, 1);
}

StatusOr<MigrationSummary> StoreMigration::Run() {
  const int64_t start = env_->MonotonicNanos();
  CV_RETURN_IF_ERROR(CopyUsersAndTokens());
  if (options_.on_progress) CV_RETURN_IF_ERROR(options_.on_progress(progress_));
  int64_t after = 0;
  while (true) {
    CV_ASSIGN_OR_RETURN(std::vector<IndexedVersion> page,
                        from_.index->VersionPage(after, options_.page_versions, true));
    if (page.empty()) break;
    after = page.back().version;
    CV_RETURN_IF_ERROR(CopyPage(std::move(page)));
    progress_.last_source_version = after;
    if (options_.on_progress) CV_RETURN_IF_ERROR(options_.on_progress(progress_));
  }
  CV_ASSIGN_OR_RETURN(MigrationSummary summary, Verify());
  summary.seconds = static_cast<double>(env_->MonotonicNanos() - start) / 1e9;
  return summary;
}

Status StoreMigration::CheckTokens(const std::vector<TokenRecord>& tokens) {
  CV_ASSIGN_OR_RETURN(std::vector<TokenRecord> there, to_.tokens->ExportTokens());
  std::map<int64_t, const TokenRecord*> ours;
  std::set<std::string> users;
  for (const TokenRecord& t : tokens) {
    ours[t.id] = &t;
    users.insert(t.user);
  }
  for (const TokenRecord& t : there) {
    auto it = ours.find(t.id);
    const bool same =
        it != ours.end() && it->second->user == t.user && it->second->digest == t.digest;
    if (same) continue;
    if (it != ours.end()) {
      return AlreadyExistsError(
          "token id " + std::to_string(t.id) +
              " of this data directory is taken by another token in the destination; "
              "migrate into a token store without other tokens",
          "token_id_taken");
    }
    if (users.count(t.user) > 0)
      return NotEmpty("token " + std::to_string(t.id) + " of user " + t.user);
  }
  return Status::Ok();
}

Status StoreMigration::CheckUser(const std::string& user) {
  if (!users_checked_.insert(user).second) return Status::Ok();
  CV_ASSIGN_OR_RETURN(VersionCounts there, to_.index->CountVersions(user));
  if (there.versions > there.imported) {
    return NotEmpty(std::to_string(there.versions - there.imported) + " objects of user " + user);
  }
  CV_ASSIGN_OR_RETURN(VersionCounts here, from_.index->CountVersions(user));
  if (there.imported > here.versions) {
    return NotEmpty(std::to_string(there.imported) + " imported versions of user " + user +
                    " (this data directory has " + std::to_string(here.versions) + ")");
  }
  return Status::Ok();
}

Status StoreMigration::CopyUsersAndTokens() {
  CV_ASSIGN_OR_RETURN(std::vector<UserRecord> users, from_.tokens->ExportUsers());
  CV_ASSIGN_OR_RETURN(std::vector<TokenRecord> tokens, from_.tokens->ExportTokens());
  CV_ASSIGN_OR_RETURN(auto quotas, from_.index->OwnQuotas());
  // Every check before the first write.
  CV_RETURN_IF_ERROR(CheckTokens(tokens));
  for (const UserRecord& u : users) CV_RETURN_IF_ERROR(CheckUser(u.name));
  for (const auto& [user, bytes] : quotas) CV_RETURN_IF_ERROR(CheckUser(user));
  for (const UserRecord& u : users) CV_RETURN_IF_ERROR(to_.tokens->ImportUser(u));
  for (const TokenRecord& t : tokens) {
    CV_RETURN_IF_ERROR(to_.tokens->ImportToken(t).WithContext("token " + std::to_string(t.id)));
  }
  for (const auto& [user, bytes] : quotas) CV_RETURN_IF_ERROR(to_.index->SetQuota(user, bytes));
  tokens_ = tokens.size();
  quotas_ = quotas.size();
  return Status::Ok();
}

Status StoreMigration::CopyPage(std::vector<IndexedVersion> page) {
  std::vector<IndexedVersion> sources;  // without their bytes, to compare after the import
  std::vector<IndexedVersion> ready;
  for (IndexedVersion& v : page) {
    CV_RETURN_IF_ERROR(CheckUser(v.user));
    CV_ASSIGN_OR_RETURN(std::optional<IndexedVersion> earlier,
                        to_.index->FindImported(v.user, v.version));
    if (earlier.has_value()) {
      CV_RETURN_IF_ERROR(CheckSame(v, *earlier));
      if (v.is_inline && earlier->is_inline) CV_RETURN_IF_ERROR(VerifyInline(v, earlier->version));
      if (!earlier->damaged.empty()) NoteDamaged(v, earlier->damaged, false);
      ++progress_.versions_earlier;
      continue;
    }
    IndexedVersion source = v;
    source.data.clear();
    CV_ASSIGN_OR_RETURN(IndexedVersion copy, CopyVersion(std::move(v)));
    progress_.bytes_copied += copy.damaged.empty() ? copy.info.size : 0;
    sources.push_back(std::move(source));
    ready.push_back(std::move(copy));
  }
  if (ready.empty()) return Status::Ok();
  CV_ASSIGN_OR_RETURN(std::vector<ImportResult> imported, to_.index->Import(ready));
  for (size_t i = 0; i < imported.size(); ++i) {
    CV_RETURN_IF_ERROR(CheckSame(sources[i], imported[i].version));
    if (ready[i].is_inline) CV_RETURN_IF_ERROR(VerifyInline(ready[i], imported[i].version.version));
    if (!ready[i].damaged.empty()) NoteDamaged(sources[i], ready[i].damaged, true);
  }
  progress_.versions_copied += ready.size();
  return Status::Ok();
}

StatusOr<IndexedVersion> StoreMigration::CopyVersion(IndexedVersion v) {
  if (!v.damaged.empty()) {  // marked in the source (its bytes quarantined or dropped)
    v.byte_key.clear();
    v.is_inline = false;
    v.data.clear();
    return v;
  }
  if (v.is_inline) {
    const std::string sha = HexEncode(Sha256(v.data));
    if (v.data.size() != v.info.size || sha != v.info.sha256) {
      v.damaged = v.data.size() != v.info.size
                      ? "migrate: size: " + std::to_string(v.data.size()) + " bytes inline, " +
                            std::to_string(v.info.size) + " indexed"
                      : "migrate: sha256: the inline bytes hash to " + sha;
      v.is_inline = false;
      v.data.clear();
    }
    return v;
  }
  CV_RETURN_IF_ERROR(CopyStoredBytes(v));
  return v;
}

Status StoreMigration::CopyStoredBytes(IndexedVersion& v) {
  StatusOr<std::unique_ptr<ByteReader>> reader = from_.bytes->Open(v.byte_key);
  if (!reader.ok() && reader.status().code() != StatusCode::kNotFound) {
    return reader.status().WithContext(Named(v));
  }
  const std::string source_key = v.byte_key;
  v.byte_key.clear();
  if (!reader.ok()) {
    v.damaged = "migrate: missing: no bytes in the source";
    return Status::Ok();
  }
  if ((*reader)->size() != v.info.size) {
    v.damaged = "migrate: size: " + std::to_string((*reader)->size()) + " bytes stored, " +
                std::to_string(v.info.size) + " indexed";
    return Status::Ok();
  }
  CV_ASSIGN_OR_RETURN(std::unique_ptr<ByteWriter> writer, to_.bytes->NewWriter(v.info.size));
  CV_ASSIGN_OR_RETURN(std::string sha, HashStream(**reader, v.info.size, [&](ByteView data) {
                        return writer->Append(data);
                      }));
  if (sha != v.info.sha256) {  // the writer, destroyed uncommitted, leaves nothing
    v.damaged = sha.empty() ? "migrate: size: the stored bytes ended early"
                            : "migrate: sha256: the stored bytes hash to " + sha;
    return Status::Ok();
  }
  CV_ASSIGN_OR_RETURN(std::string key, writer->Commit());
  // Read back from the destination before the index names it.
  StatusOr<std::unique_ptr<ByteReader>> copy = to_.bytes->Open(key);
  StatusOr<std::string> copied = copy.status();
  if (copy.ok()) copied = HashStream(**copy, v.info.size, nullptr);
  if (!copied.ok() || *copied != v.info.sha256 || (*copy)->size() != v.info.size) {
    to_.bytes->Delete(key).IgnoreError();
    return CorruptError(Named(v) + ": its copy in the destination byte store reads back " +
                            (copied.ok() ? "as SHA-256 " + *copied : copied.status().ToString()) +
                            ", not " + v.info.sha256 +
                            "; nothing of it was recorded. Check the destination store, then "
                            "run migrate again (it resumes)",
                        "copy_mismatch");
  }
  v.byte_key = key;
  return Status::Ok();
}

Status StoreMigration::VerifyInline(const IndexedVersion& source, int64_t destination_version) {
  CV_ASSIGN_OR_RETURN(std::optional<Bytes> data, to_.index->InlineData(destination_version));
  const std::string sha = data.has_value() ? HexEncode(Sha256(*data)) : std::string("nothing");
  if (sha == source.info.sha256) return Status::Ok();
  return CorruptError(Named(source) + ": the destination index gives back bytes with SHA-256 " +
                          sha + ", not " + source.info.sha256 +
                          "; check the destination index before using it",
                      "copy_mismatch");
}

Status StoreMigration::CheckSame(const IndexedVersion& source,
                                 const IndexedVersion& imported) const {
  const bool same = imported.info.id == source.info.id && imported.info.size == source.info.size &&
                    imported.info.sha256 == source.info.sha256 &&
                    imported.info.kind == source.info.kind &&
                    imported.info.created_unix == source.info.created_unix &&
                    imported.retired_unix == source.retired_unix;
  if (same) return Status::Ok();
  return FailedPreconditionError(
      Named(source) + " was imported before as object " + imported.info.id +
          " with other fields: the destination holds another data directory's migration, or "
          "this one changed since (a server ran on it). Migrate into empty stores",
      "destination_not_empty");
}

void StoreMigration::NoteDamaged(const IndexedVersion& source, const std::string& what, bool now) {
  MigratedDamage d{source.user, source.info.id, source.version, what};
  if (now && options_.on_damaged) options_.on_damaged(d);
  damaged_.push_back(std::move(d));
}

StatusOr<MigrationSummary> StoreMigration::Verify() {
  MigrationSummary summary;
  summary.progress = progress_;
  summary.users = users_checked_.size();
  summary.tokens = tokens_;
  summary.quotas = quotas_;
  summary.damaged = damaged_;
  for (const std::string& user : users_checked_) {
    CV_ASSIGN_OR_RETURN(VersionCounts here, from_.index->CountVersions(user));
    CV_ASSIGN_OR_RETURN(VersionCounts there, to_.index->CountVersions(user));
    CV_ASSIGN_OR_RETURN(UserUsage source, from_.index->Usage(user));
    CV_ASSIGN_OR_RETURN(UserUsage copy, to_.index->Usage(user));
    if (there.imported != here.versions || there.versions != there.imported ||
        copy.live_bytes != source.live_bytes || copy.retained_bytes != source.retained_bytes) {
      return CorruptError(
          "user " + user + ": the destination holds " + std::to_string(there.versions) +
              " versions (" + std::to_string(copy.live_bytes) + " live bytes, " +
              std::to_string(copy.retained_bytes) + " retained), the source " +
              std::to_string(here.versions) + " (" + std::to_string(source.live_bytes) + ", " +
              std::to_string(source.retained_bytes) +
              "); was a server running on either side? Stop it and run migrate again",
          "migration_incomplete");
    }
    summary.versions += there.imported;
    summary.live_bytes += copy.live_bytes;
    summary.retained_bytes += copy.retained_bytes;
  }
  int64_t after = 0;
  while (true) {  // live objects, for the summary
    CV_ASSIGN_OR_RETURN(std::vector<IndexedVersion> page, from_.index->LivePage(after, 1000));
    if (page.empty()) break;
    after = page.back().version;
    summary.live_objects += page.size();
  }
  return summary;
}

}  // namespace cardvault
