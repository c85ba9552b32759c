// IndexedBlobStore implementation: the checks, publish-after-durable and group commit that
// every index and byte store share.
#include "storage/indexed_blob_store.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "core/crypto.h"

namespace cardvault {
namespace {

// The error of an object whose stored bytes do not match its index record. `detail` names
// sizes and ids only, never a key or path: the message goes to the client.
Status ObjectDamaged(std::string_view id, std::string_view detail) {
  return CorruptError("object " + std::string(id) + " is damaged: " + std::string(detail),
                      "object_damaged");
}

std::string SizeDetail(uint64_t found, uint64_t expected) {
  return std::to_string(found) + " bytes stored, " + std::to_string(expected) + " indexed";
}

Status BadId() {
  return InvalidArgumentError("object id must be 64 lowercase hex characters", "bad_object_id");
}

Status Finished() { return FailedPreconditionError("upload already failed or finished"); }

// A small object held in the index, read into memory whole (at most inline_max_bytes).
class InlineReader final : public BlobReader {
 public:
  InlineReader(Bytes data, ObjectInfo info) : data_(std::move(data)), info_(std::move(info)) {}
  const ObjectInfo& info() const override { return info_; }
  StatusOr<size_t> ReadAt(uint64_t offset, std::span<uint8_t> buf) override {
    if (offset >= data_.size()) return size_t{0};
    size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), data_.size() - offset));
    std::memcpy(buf.data(), data_.data() + offset, n);
    return n;
  }

 private:
  Bytes data_;
  ObjectInfo info_;
};

// An object's bytes in the byte store, never read past info().size and never ended early.
class StoredReader final : public BlobReader {
 public:
  StoredReader(std::unique_ptr<ByteReader> bytes, ObjectInfo info)
      : bytes_(std::move(bytes)), info_(std::move(info)) {}
  const ObjectInfo& info() const override { return info_; }
  StatusOr<size_t> ReadAt(uint64_t offset, std::span<uint8_t> buf) override {
    if (offset >= info_.size) return size_t{0};
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), info_.size - offset));
    CV_ASSIGN_OR_RETURN(size_t n, bytes_->ReadAt(offset, buf.first(want)));
    // The bytes were cut short after Open checked their size: never end the object early.
    if (n == 0) {
      return ObjectDamaged(info_.id, "its file ended at byte " + std::to_string(offset) +
                                         " while being read, " + std::to_string(info_.size) +
                                         " indexed");
    }
    return n;
  }

 private:
  std::unique_ptr<ByteReader> bytes_;
  ObjectInfo info_;
};

}  // namespace

// One upload in progress: a ByteWriter, or for an inline object a memory buffer of at most
// inline_max_bytes (`writer_` is then null).
class IndexedBlobStore::Pending final : public PendingPut {
 public:
  Pending(IndexedBlobStore* store, std::string user, std::string id, PutOptions options,
          std::unique_ptr<ByteWriter> writer)
      : store_(store),
        user_(std::move(user)),
        id_(std::move(id)),
        options_(std::move(options)),
        writer_(std::move(writer)) {
    if (writer_ == nullptr) inline_data_.reserve(static_cast<size_t>(options_.size));
  }

  Status Append(ByteView data) override {
    if (dead_) return Finished();
    if (received_ + data.size() > options_.size) {
      dead_ = true;
      return InvalidArgumentError(
          "more bytes than the declared size " + std::to_string(options_.size), "size_mismatch");
    }
    if (writer_ != nullptr) {
      Status status = writer_->Append(data);
      if (!status.ok()) {
        dead_ = true;
        return status;
      }
    } else {
      inline_data_.insert(inline_data_.end(), data.begin(), data.end());
    }
    hasher_.Update(data);
    received_ += data.size();
    return Status::Ok();
  }

  Status SetExpectedSha256(std::string_view sha256_hex) override {
    CV_RETURN_IF_ERROR(ExpectDigestOnce());
    if (!IsValidSha256Hex(sha256_hex)) {
      dead_ = true;
      return InvalidArgumentError("SHA-256 must be 64 lowercase hex characters", "bad_sha256");
    }
    options_.sha256 = std::string(sha256_hex);
    return Status::Ok();
  }

  Status AcceptComputedSha256() override {
    CV_RETURN_IF_ERROR(ExpectDigestOnce());
    accept_computed_ = true;
    return Status::Ok();
  }

  StatusOr<ObjectInfo> Commit() override {
    if (dead_) return Finished();
    dead_ = true;
    if (options_.sha256.empty() && !accept_computed_) {
      return FailedPreconditionError("the expected SHA-256 was never given", "sha256_missing");
    }
    if (received_ != options_.size) {
      return InvalidArgumentError("received " + std::to_string(received_) + " bytes, declared " +
                                      std::to_string(options_.size),
                                  "size_mismatch");
    }
    std::string actual = HexEncode(hasher_.Finish());
    if (accept_computed_) options_.sha256 = actual;
    if (actual != options_.sha256) {
      return InvalidArgumentError("content SHA-256 is " + actual + ", declared " + options_.sha256,
                                  "sha256_mismatch");
    }
    if (writer_ == nullptr) return store_->Publish(user_, id_, options_, "", &inline_data_);
    // Durable in the byte store first; only then listed.
    StatusOr<std::string> key = writer_->Commit();
    writer_.reset();
    CV_RETURN_IF_ERROR(key.status());
    StatusOr<ObjectInfo> info = store_->Publish(user_, id_, options_, *key, nullptr);
    if (!info.ok()) store_->bytes_->Delete(*key).IgnoreError();
    return info;
  }

 private:
  // SetExpectedSha256 and AcceptComputedSha256: at most one of them, once, while alive.
  Status ExpectDigestOnce() {
    if (dead_) return Finished();
    if (!options_.sha256.empty() || accept_computed_) {
      dead_ = true;
      return FailedPreconditionError("the expected SHA-256 is already known");
    }
    return Status::Ok();
  }

  IndexedBlobStore* store_;
  std::string user_;
  std::string id_;
  PutOptions options_;
  std::unique_ptr<ByteWriter> writer_;
  Bytes inline_data_;
  Sha256Hasher hasher_;
  uint64_t received_ = 0;
  bool dead_ = false;
  bool accept_computed_ = false;  // AcceptComputedSha256: publish under the computed digest
};

IndexedBlobStore::IndexedBlobStore(Env* env, std::unique_ptr<ObjectIndex> index,
                                   std::unique_ptr<ByteStore> bytes, Options options)
    : env_(env), index_(std::move(index)), bytes_(std::move(bytes)), options_(options) {}

Status IndexedBlobStore::CheckPut(const std::optional<IndexedVersion>& existing,
                                  const UserUsage& usage, const PutOptions& options) const {
  if (existing.has_value() && options.create_only) {
    return AlreadyExistsError("object exists", "object_exists");
  }
  const uint64_t quota = usage.quota_bytes.value_or(options_.quota_bytes);
  const uint64_t freed = existing.has_value() ? existing->info.size : 0;
  if (usage.live_bytes - freed + options.size > quota) {
    return ResourceExhaustedError("quota of " + std::to_string(quota) + " bytes exceeded",
                                  "quota_exceeded");
  }
  // The replaced version stays for the retention period: the put adds its whole size.
  const uint64_t limit = StorageLimit(quota);
  if (usage.live_bytes + usage.retained_bytes + options.size > limit) {
    return ResourceExhaustedError(
        "storage limit of " + std::to_string(limit) + " bytes exceeded: live objects (" +
            std::to_string(usage.live_bytes) +
            " bytes) plus deleted and replaced versions kept for " +
            std::to_string(options_.retention_seconds / 3600) + " hours (" +
            std::to_string(usage.retained_bytes) +
            " bytes) may use the quota plus retained_quota_percent of it; wait for the retention "
            "to pass or ask the operator to raise the quota",
        "retained_quota_exceeded");
  }
  return Status::Ok();
}

uint64_t IndexedBlobStore::StorageLimit(uint64_t quota) const {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  const uint64_t percent = options_.retained_quota_percent;
  if (percent > 0 && quota / 100 > (kMax - 100) / percent) return kMax;
  const uint64_t extra = quota / 100 * percent + quota % 100 * percent / 100;
  return quota > kMax - extra ? kMax : quota + extra;
}

StatusOr<uint64_t> IndexedBlobStore::UsedBytes(std::string_view user) {
  CV_ASSIGN_OR_RETURN(UserUsage usage, index_->Usage(user));
  return usage.live_bytes;
}

Status IndexedBlobStore::Probe() {
  CV_RETURN_IF_ERROR(index_->Probe());
  return bytes_->Probe();
}

StatusOr<uint64_t> IndexedBlobStore::QuotaBytes(std::string_view user) {
  CV_ASSIGN_OR_RETURN(UserUsage usage, index_->Usage(user));
  return usage.quota_bytes.value_or(options_.quota_bytes);
}

StatusOr<std::unique_ptr<PendingPut>> IndexedBlobStore::BeginPut(std::string_view user,
                                                                 std::string_view id,
                                                                 const PutOptions& options) {
  if (!IsValidObjectId(id)) return BadId();
  if (!options.sha256.empty() && !IsValidSha256Hex(options.sha256)) {
    return InvalidArgumentError("SHA-256 must be 64 lowercase hex characters or empty",
                                "bad_sha256");
  }
  if (options.size > options_.max_object_bytes) {
    return ResourceExhaustedError("object of " + std::to_string(options.size) +
                                      " bytes exceeds the limit of " +
                                      std::to_string(options_.max_object_bytes),
                                  "object_too_large");
  }
  // Checked up front so a doomed upload is refused before its body, and again at commit.
  CV_ASSIGN_OR_RETURN(LiveAndUsage now, index_->FindLiveAndUsage(user, id));
  CV_RETURN_IF_ERROR(CheckPut(now.live, now.usage, options));
  std::unique_ptr<ByteWriter> writer;
  if (options.size > options_.inline_max_bytes) {
    CV_ASSIGN_OR_RETURN(writer, bytes_->NewWriter(options.size));
  }
  return std::unique_ptr<PendingPut>(
      new Pending(this, std::string(user), std::string(id), options, std::move(writer)));
}

StatusOr<ObjectInfo> IndexedBlobStore::Publish(const std::string& user, const std::string& id,
                                               const PutOptions& options,
                                               const std::string& byte_key, const Bytes* data) {
  ObjectInfo info;
  const IndexStep step = [&](IndexTransaction& txn) -> Status {
    const int64_t now = NowUnix();
    CV_ASSIGN_OR_RETURN(std::optional<IndexedVersion> existing, txn.FindLive(user, id));
    CV_ASSIGN_OR_RETURN(UserUsage usage, txn.Usage(user));
    CV_RETURN_IF_ERROR(CheckPut(existing, usage, options));
    if (existing.has_value()) CV_RETURN_IF_ERROR(txn.RetireLive(user, id, now).status());
    NewVersion v{user, id, options.kind, options.size, options.sha256, byte_key, data};
    CV_RETURN_IF_ERROR(txn.Insert(v, now));
    info = ObjectInfo{id, options.kind, options.size, options.sha256, now};
    return Status::Ok();
  };
  CV_RETURN_IF_ERROR(CommitInGroup(step));
  return info;
}

Status IndexedBlobStore::CommitInGroup(const IndexStep& step) {
  QueuedWrite w;
  w.step = &step;
  std::unique_lock<std::mutex> queue_lock(queue_mu_);
  write_queue_.push_back(&w);
  while (!w.done && write_queue_.front() != &w) w.cv.wait(queue_lock);
  if (w.done) return w.result;  // a leader committed it
  // This write leads: it commits every write queued so far, its own first.
  std::vector<QueuedWrite*> group(write_queue_.begin(), write_queue_.end());
  queue_lock.unlock();
  std::vector<const IndexStep*> steps;
  steps.reserve(group.size());
  for (QueuedWrite* g : group) steps.push_back(g->step);
  std::vector<Status> results(group.size());
  index_->WriteBatch(steps, results).IgnoreError();  // its error is every result
  queue_lock.lock();
  for (size_t i = 0; i < group.size(); ++i) {
    write_queue_.pop_front();
    group[i]->result = std::move(results[i]);
    group[i]->done = true;
    if (group[i] != &w) group[i]->cv.notify_one();
  }
  if (!write_queue_.empty()) write_queue_.front()->cv.notify_one();  // the next leader
  return w.result;
}

StatusOr<std::unique_ptr<BlobReader>> IndexedBlobStore::OpenVersion(IndexedVersion v,
                                                                    uint64_t end) {
  const bool whole = end == v.info.size;
  if (!v.damaged.empty()) return ObjectDamaged(v.info.id, "quarantined (" + v.damaged + ")");
  // The reader's info says `end` bytes: it never reads, nor claims, more.
  ObjectInfo info = v.info;
  info.size = end;
  if (v.is_inline) {
    if (whole ? v.data.size() != end : v.data.size() < end) {
      return ObjectDamaged(v.info.id, SizeDetail(v.data.size(), v.info.size));
    }
    v.data.resize(end);
    return std::unique_ptr<BlobReader>(new InlineReader(std::move(v.data), std::move(info)));
  }
  StatusOr<std::unique_ptr<ByteReader>> bytes = bytes_->Open(v.byte_key);
  if (!bytes.ok() && bytes.status().code() == StatusCode::kNotFound) {
    return ObjectDamaged(v.info.id, "its file is missing");
  }
  if (!bytes.ok()) return bytes.status().WithContext("object " + v.info.id);
  // The size of the bytes actually opened: ones replaced after this are still the ones
  // checked, and ones that shrink later fail in ReadAt.
  const uint64_t found = (*bytes)->size();
  if (whole ? found != end : found < end) {
    return ObjectDamaged(v.info.id, SizeDetail(found, v.info.size));
  }
  return std::unique_ptr<BlobReader>(new StoredReader(std::move(*bytes), std::move(info)));
}

StatusOr<std::unique_ptr<BlobReader>> IndexedBlobStore::Open(std::string_view user,
                                                             std::string_view id) {
  if (!IsValidObjectId(id)) return BadId();
  CV_ASSIGN_OR_RETURN(IndexedVersion v, index_->FindLive(user, id, /*with_data=*/true));
  const uint64_t size = v.info.size;
  return OpenVersion(std::move(v), size);
}

StatusOr<std::unique_ptr<BlobReader>> IndexedBlobStore::OpenPrefix(std::string_view user,
                                                                   std::string_view id,
                                                                   uint64_t end) {
  if (!IsValidObjectId(id)) return BadId();
  CV_ASSIGN_OR_RETURN(IndexedVersion v, index_->FindLive(user, id, /*with_data=*/true));
  if (end >= v.info.size) {
    return InvalidArgumentError("a prefix ends before the object's last byte", "bad_range");
  }
  return OpenVersion(std::move(v), end);
}

StatusOr<ObjectInfo> IndexedBlobStore::Head(std::string_view user, std::string_view id) {
  if (!IsValidObjectId(id)) return BadId();
  CV_ASSIGN_OR_RETURN(IndexedVersion v, index_->FindLive(user, id, /*with_data=*/false));
  return v.info;
}

Status IndexedBlobStore::Delete(std::string_view user, std::string_view id) {
  if (!IsValidObjectId(id)) return BadId();
  const IndexStep step = [&](IndexTransaction& txn) -> Status {
    CV_ASSIGN_OR_RETURN(bool retired, txn.RetireLive(user, id, NowUnix()));
    if (!retired) return NotFoundError("no such object", "no_such_object");
    return Status::Ok();
  };
  return CommitInGroup(step);
}

StatusOr<ListPage> IndexedBlobStore::List(std::string_view user, const ListOptions& options) {
  if (!IsValidObjectIdPrefix(options.prefix)) {
    return InvalidArgumentError("prefix must be lowercase hex", "bad_prefix");
  }
  if (!options.after.empty() && !IsValidObjectIdPrefix(options.after)) {
    return InvalidArgumentError("after must be lowercase hex", "bad_after");
  }
  ListOptions checked = options;
  checked.limit = std::clamp<size_t>(options.limit, 1, kMaxListLimit);
  return index_->List(user, checked);
}

StatusOr<size_t> IndexedBlobStore::PurgeExpired(int64_t now_unix) {
  constexpr size_t kPage = 1000;
  const int64_t before = now_unix - options_.retention_seconds;
  size_t purged = 0;
  while (true) {
    CV_ASSIGN_OR_RETURN(std::vector<IndexedVersion> expired, index_->Expired(before, kPage));
    for (const IndexedVersion& v : expired) {
      // The bytes first: a crash between the two leaves a record whose bytes are gone,
      // which the next purge forgets; never bytes that no record names.
      if (!v.byte_key.empty()) CV_RETURN_IF_ERROR(bytes_->Delete(v.byte_key));
      CV_RETURN_IF_ERROR(index_->Forget(v.version));
    }
    purged += expired.size();
    if (expired.size() < kPage) return purged;  // each page forgets what it read: bounded
  }
}

StatusOr<size_t> IndexedBlobStore::SweepOrphans(int64_t now_unix, int64_t min_age_seconds) {
  std::vector<std::string> candidates;
  CV_RETURN_IF_ERROR(bytes_->ForEach([&](const StoredKey& stored) {
    if (stored.modified_unix <= now_unix - min_age_seconds) candidates.push_back(stored.key);
    return Status::Ok();
  }));
  size_t removed = 0;
  for (const std::string& key : candidates) {
    CV_ASSIGN_OR_RETURN(bool referenced, index_->References(key));
    if (referenced) continue;
    CV_RETURN_IF_ERROR(bytes_->Delete(key));
    ++removed;
  }
  return removed;
}

}  // namespace cardvault
