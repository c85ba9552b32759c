// FileBlobStore implementation: temp file + fsync + rename + index row per object version.
#include "api/file_blob_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string_view>

#include "api/private_files.h"
#include "core/crypto.h"
#include "storage/sqlite_transaction.h"

namespace cardvault {
namespace {

constexpr std::array<std::string_view, 8> kMigrations = {
    R"sql(
CREATE TABLE objects (
  seq INTEGER PRIMARY KEY,
  user TEXT NOT NULL,
  id TEXT NOT NULL,
  kind INTEGER NOT NULL,
  size INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  created INTEGER NOT NULL,
  deleted INTEGER,
  file TEXT NOT NULL
);
CREATE UNIQUE INDEX objects_live ON objects(user, id) WHERE deleted IS NULL;
CREATE INDEX objects_deleted ON objects(deleted) WHERE deleted IS NOT NULL;
)sql",
    // Quota checks sum the live sizes of one user from the index alone.
    "CREATE INDEX objects_usage ON objects(user, size) WHERE deleted IS NULL;",
    // SweepOrphans looks files up by name.
    "CREATE INDEX objects_file ON objects(file);",
    // Small objects live in the index itself (`file` is then empty): one WAL append instead
    // of a file, two fsyncs and a rename.
    "ALTER TABLE objects ADD COLUMN data BLOB;",
    // Live bytes per user, kept by triggers in the same transactions as the rows, so a
    // quota check reads one row instead of summing every object of the user.
    R"sql(
CREATE TABLE usage (user TEXT PRIMARY KEY, live_bytes INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO usage SELECT user, SUM(size) FROM objects WHERE deleted IS NULL GROUP BY user;
CREATE TRIGGER usage_insert AFTER INSERT ON objects WHEN NEW.deleted IS NULL BEGIN
  INSERT INTO usage VALUES (NEW.user, NEW.size)
    ON CONFLICT(user) DO UPDATE SET live_bytes = live_bytes + NEW.size;
END;
CREATE TRIGGER usage_retire AFTER UPDATE OF deleted ON objects
    WHEN OLD.deleted IS NULL AND NEW.deleted IS NOT NULL BEGIN
  UPDATE usage SET live_bytes = live_bytes - OLD.size WHERE user = OLD.user;
END;
CREATE TRIGGER usage_delete AFTER DELETE ON objects WHEN OLD.deleted IS NULL BEGIN
  UPDATE usage SET live_bytes = live_bytes - OLD.size WHERE user = OLD.user;
END;
)sql",
    // A user's own quota (NULL: the server's default); the insert trigger names its columns.
    R"sql(
ALTER TABLE usage ADD COLUMN quota_bytes INTEGER;
DROP TRIGGER usage_insert;
CREATE TRIGGER usage_insert AFTER INSERT ON objects WHEN NEW.deleted IS NULL BEGIN
  INSERT INTO usage (user, live_bytes) VALUES (NEW.user, NEW.size)
    ON CONFLICT(user) DO UPDATE SET live_bytes = live_bytes + NEW.size;
END;
)sql",
    // A row whose bytes `cardvault-server check --quarantine` moved aside: what was wrong.
    // The row stays live (listed, counted), and reading it answers "object_damaged".
    "ALTER TABLE objects ADD COLUMN damaged TEXT;",
    // Bytes of deleted and replaced versions still on disk (until PurgeExpired), per user:
    // they count against the storage limit, so deleting or overwriting cannot fill the disk.
    R"sql(
ALTER TABLE usage ADD COLUMN retained_bytes INTEGER NOT NULL DEFAULT 0;
UPDATE usage SET retained_bytes = (SELECT COALESCE(SUM(size), 0) FROM objects
                                   WHERE objects.user = usage.user AND deleted IS NOT NULL);
DROP TRIGGER usage_retire;
CREATE TRIGGER usage_retire AFTER UPDATE OF deleted ON objects
    WHEN OLD.deleted IS NULL AND NEW.deleted IS NOT NULL BEGIN
  UPDATE usage SET live_bytes = live_bytes - OLD.size, retained_bytes = retained_bytes + OLD.size
    WHERE user = OLD.user;
END;
CREATE TRIGGER usage_purge AFTER DELETE ON objects WHEN OLD.deleted IS NOT NULL BEGIN
  UPDATE usage SET retained_bytes = retained_bytes - OLD.size WHERE user = OLD.user;
END;
)sql",
};

// The error of an object whose stored bytes do not match its index row. `detail` names
// sizes and ids only, never a path: the message goes to the client.
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

StatusOr<std::string> RandomName(Env& env) {
  std::array<uint8_t, 16> bytes;
  CV_RETURN_IF_ERROR(env.RandomBytes(bytes));
  return HexEncode(bytes);
}

class FileReader final : public BlobReader {
 public:
  FileReader(int fd, ObjectInfo info) : fd_(fd), info_(std::move(info)) {}
  ~FileReader() override { ::close(fd_); }
  const ObjectInfo& info() const override { return info_; }
  StatusOr<size_t> ReadAt(uint64_t offset, std::span<uint8_t> buf) override {
    if (offset >= info_.size) return size_t{0};
    size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), info_.size - offset));
    while (true) {
      ssize_t n = ::pread(fd_, buf.data(), want, static_cast<off_t>(offset));
      if (n > 0) return static_cast<size_t>(n);
      // The file was cut short after Open checked its size: never end the object early.
      if (n == 0) {
        return ObjectDamaged(info_.id, "its file ended at byte " + std::to_string(offset) +
                                           " while being read, " + std::to_string(info_.size) +
                                           " indexed");
      }
      if (errno != EINTR) return ErrnoToStatus(errno, "read", "object " + info_.id);
    }
  }

 private:
  int fd_;
  ObjectInfo info_;
};

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

}  // namespace

// One upload in progress: a temporary file, or for an inline object a memory buffer of at
// most inline_max_bytes (`file_` is then null and `tmp_path_` empty).
class FileBlobStore::Pending final : public PendingPut {
 public:
  Pending(FileBlobStore* store, std::string user, std::string id, PutOptions options,
          std::string tmp_path, std::unique_ptr<WritableFile> file)
      : store_(store),
        user_(std::move(user)),
        id_(std::move(id)),
        options_(std::move(options)),
        tmp_path_(std::move(tmp_path)),
        file_(std::move(file)) {
    if (file_ == nullptr) inline_data_.reserve(static_cast<size_t>(options_.size));
  }

  ~Pending() override {
    if (file_ != nullptr) file_.reset();
    if (!committed_ && !tmp_path_.empty()) store_->env_->RemoveFile(tmp_path_).IgnoreError();
  }

  Status Append(ByteView data) override {
    if (dead_) return FailedPreconditionError("upload already failed or finished");
    if (received_ + data.size() > options_.size) {
      dead_ = true;
      return InvalidArgumentError(
          "more bytes than the declared size " + std::to_string(options_.size), "size_mismatch");
    }
    if (file_ != nullptr) {
      Status status = file_->Append(data);
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
    if (dead_) return FailedPreconditionError("upload already failed or finished");
    if (!options_.sha256.empty() || accept_computed_) {
      dead_ = true;
      return FailedPreconditionError("the expected SHA-256 is already known");
    }
    if (!IsValidSha256Hex(sha256_hex)) {
      dead_ = true;
      return InvalidArgumentError("SHA-256 must be 64 lowercase hex characters", "bad_sha256");
    }
    options_.sha256 = std::string(sha256_hex);
    return Status::Ok();
  }

  Status AcceptComputedSha256() override {
    if (dead_) return FailedPreconditionError("upload already failed or finished");
    if (!options_.sha256.empty() || accept_computed_) {
      dead_ = true;
      return FailedPreconditionError("the expected SHA-256 is already known");
    }
    accept_computed_ = true;
    return Status::Ok();
  }

  StatusOr<ObjectInfo> Commit() override {
    if (dead_) return FailedPreconditionError("upload already failed or finished");
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
    if (file_ == nullptr) {
      IndexWrite w;
      w.user = &user_;
      w.id = &id_;
      w.options = &options_;
      w.data = &inline_data_;
      return store_->CommitIndexWrite(w);
    }
    CV_RETURN_IF_ERROR(file_->Sync());
    CV_RETURN_IF_ERROR(file_->Close());
    file_.reset();
    CV_ASSIGN_OR_RETURN(ObjectInfo info, store_->CommitPut(user_, id_, options_, tmp_path_));
    committed_ = true;  // the temp file was renamed away
    return info;
  }

 private:
  FileBlobStore* store_;
  std::string user_;
  std::string id_;
  PutOptions options_;
  std::string tmp_path_;
  std::unique_ptr<WritableFile> file_;
  Bytes inline_data_;
  Sha256Hasher hasher_;
  uint64_t received_ = 0;
  bool dead_ = false;
  bool committed_ = false;
  bool accept_computed_ = false;  // AcceptComputedSha256: publish under the computed digest
};

StatusOr<std::unique_ptr<FileBlobStore>> FileBlobStore::Open(Env* env, const std::string& data_dir,
                                                             Options options) {
  CV_RETURN_IF_ERROR(env->CreateDirs(data_dir + "/tmp"));
  CV_RETURN_IF_ERROR(env->CreateDirs(data_dir + "/blobs"));
  CV_RETURN_IF_ERROR(env->SyncDir(data_dir));
  // Uploads interrupted by a crash or kill were never visible: drop them.
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(data_dir + "/tmp", ec)) {
    if (entry.path().extension() == ".part") {
      env->RemoveFile(entry.path().string()).IgnoreError();
    }
  }
  if (ec) return IoError("cannot list " + data_dir + "/tmp: " + ec.message());
  CV_ASSIGN_OR_RETURN(auto db, OpenIndex(data_dir));
  return std::unique_ptr<FileBlobStore>(new FileBlobStore(env, data_dir, options, std::move(db)));
}

StatusOr<std::unique_ptr<SqliteDb>> FileBlobStore::OpenIndex(const std::string& data_dir) {
  CV_RETURN_IF_ERROR(MakeDatabaseFilePrivate(data_dir + "/index.db"));
  CV_ASSIGN_OR_RETURN(auto db, SqliteDb::Open(data_dir + "/index.db"));
  CV_RETURN_IF_ERROR(db->Migrate(kMigrations));
  return db;
}

std::string FileBlobStore::BlobPathIn(const std::string& data_dir, const std::string& file) {
  return data_dir + "/blobs/" + file.substr(0, 2) + "/" + file;
}

StatusOr<FileBlobStore::Row> FileBlobStore::FindLiveLocked(std::string_view user,
                                                           std::string_view id, bool with_data) {
  // Without the data, only whether there is any: Head and the put checks need no bytes.
  CV_ASSIGN_OR_RETURN(
      Statement stmt,
      db_->Prepare(with_data ? "SELECT kind, size, sha256, created, file, data IS NOT NULL, "
                               "IFNULL(damaged, ''), data "
                               "FROM objects WHERE user = ?1 AND id = ?2 AND deleted IS NULL"
                             : "SELECT kind, size, sha256, created, file, data IS NOT NULL, "
                               "IFNULL(damaged, '') "
                               "FROM objects WHERE user = ?1 AND id = ?2 AND deleted IS NULL"));
  CV_RETURN_IF_ERROR(stmt.BindText(1, user));
  CV_RETURN_IF_ERROR(stmt.BindText(2, id));
  CV_ASSIGN_OR_RETURN(bool found, stmt.Step());
  if (!found) return NotFoundError("no such object", "no_such_object");
  Row row;
  row.info.id = std::string(id);
  row.info.kind = static_cast<ObjectKind>(stmt.ColumnInt64(0));
  row.info.size = static_cast<uint64_t>(stmt.ColumnInt64(1));
  row.info.sha256 = stmt.ColumnText(2);
  row.info.created_unix = stmt.ColumnInt64(3);
  row.file = stmt.ColumnText(4);
  row.is_inline = stmt.ColumnInt64(5) != 0;
  row.damaged = stmt.ColumnText(6);
  if (with_data && row.is_inline) row.data = stmt.ColumnBlob(7);
  return row;
}

StatusOr<FileBlobStore::Usage> FileBlobStore::UsageLocked(std::string_view user) {
  CV_ASSIGN_OR_RETURN(Statement stmt,
                      db_->Prepare("SELECT live_bytes, quota_bytes, retained_bytes FROM usage "
                                   "WHERE user = ?1"));
  CV_RETURN_IF_ERROR(stmt.BindText(1, user));
  CV_ASSIGN_OR_RETURN(bool row, stmt.Step());
  Usage usage{0, options_.quota_bytes, 0};
  if (!row) return usage;
  usage.used = static_cast<uint64_t>(stmt.ColumnInt64(0));
  if (!stmt.ColumnIsNull(1)) usage.quota = static_cast<uint64_t>(stmt.ColumnInt64(1));
  usage.retained = static_cast<uint64_t>(stmt.ColumnInt64(2));
  return usage;
}

StatusOr<std::optional<FileBlobStore::Row>> FileBlobStore::CheckPutLocked(
    std::string_view user, std::string_view id, const PutOptions& options) {
  StatusOr<Row> existing = FindLiveLocked(user, id);
  if (!existing.ok() && existing.status().code() != StatusCode::kNotFound) {
    return existing.status();
  }
  if (existing.ok() && options.create_only) {
    return AlreadyExistsError("object exists", "object_exists");
  }
  CV_ASSIGN_OR_RETURN(Usage usage, UsageLocked(user));
  const uint64_t freed = existing.ok() ? existing->info.size : 0;
  if (usage.used - freed + options.size > usage.quota) {
    return ResourceExhaustedError("quota of " + std::to_string(usage.quota) + " bytes exceeded",
                                  "quota_exceeded");
  }
  // The replaced version stays on disk for the retention period: the put adds its whole size.
  const uint64_t limit = StorageLimit(usage.quota);
  if (usage.used + usage.retained + options.size > limit) {
    return ResourceExhaustedError(
        "storage limit of " + std::to_string(limit) + " bytes exceeded: live objects (" +
            std::to_string(usage.used) + " bytes) plus deleted and replaced versions kept for " +
            std::to_string(options_.retention_seconds / 3600) + " hours (" +
            std::to_string(usage.retained) +
            " bytes) may use the quota plus retained_quota_percent of it; wait for the retention "
            "to pass or ask the operator to raise the quota",
        "retained_quota_exceeded");
  }
  if (!existing.ok()) return std::optional<Row>();
  return std::optional<Row>(std::move(*existing));
}

uint64_t FileBlobStore::StorageLimit(uint64_t quota) const {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  const uint64_t percent = options_.retained_quota_percent;
  if (percent > 0 && quota / 100 > (kMax - 100) / percent) return kMax;
  const uint64_t extra = quota / 100 * percent + quota % 100 * percent / 100;
  return quota > kMax - extra ? kMax : quota + extra;
}

StatusOr<uint64_t> FileBlobStore::QuotaBytes(std::string_view user) {
  std::lock_guard lock(mu_);
  CV_ASSIGN_OR_RETURN(Usage usage, UsageLocked(user));
  return usage.quota;
}

Status FileBlobStore::SetUserQuota(const std::string& data_dir, std::string_view user,
                                   std::optional<uint64_t> quota_bytes) {
  if (quota_bytes.has_value() &&
      *quota_bytes > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return InvalidArgumentError("quota too large");
  }
  CV_ASSIGN_OR_RETURN(auto db, OpenIndex(data_dir));
  CV_ASSIGN_OR_RETURN(Statement stmt,
                      db->Prepare("INSERT INTO usage (user, live_bytes, quota_bytes) "
                                  "VALUES (?1, 0, ?2) ON CONFLICT(user) DO UPDATE SET "
                                  "quota_bytes = excluded.quota_bytes"));
  CV_RETURN_IF_ERROR(stmt.BindText(1, user));
  if (quota_bytes.has_value()) {
    CV_RETURN_IF_ERROR(stmt.BindInt64(2, static_cast<int64_t>(*quota_bytes)));
  } else {
    CV_RETURN_IF_ERROR(stmt.BindNull(2));
  }
  return stmt.Run();
}

StatusOr<uint64_t> FileBlobStore::UsedBytes(std::string_view user) {
  std::lock_guard lock(mu_);
  CV_ASSIGN_OR_RETURN(Usage usage, UsageLocked(user));
  return usage.used;
}

StatusOr<std::unique_ptr<PendingPut>> FileBlobStore::BeginPut(std::string_view user,
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
  {
    // Checked up front so a doomed upload is refused before its body, and again at commit.
    std::lock_guard lock(mu_);
    CV_RETURN_IF_ERROR(CheckPutLocked(user, id, options).status());
  }
  if (options.size <= options_.inline_max_bytes) {
    return std::unique_ptr<PendingPut>(
        new Pending(this, std::string(user), std::string(id), options, "", nullptr));
  }
  CV_ASSIGN_OR_RETURN(std::string name, RandomName(*env_));
  std::string tmp_path = data_dir_ + "/tmp/" + name + ".part";
  CV_ASSIGN_OR_RETURN(auto file, env_->NewWritableFile(tmp_path, 0600));
  return std::unique_ptr<PendingPut>(
      new Pending(this, std::string(user), std::string(id), options, tmp_path, std::move(file)));
}

StatusOr<ObjectInfo> FileBlobStore::CommitPut(const std::string& user, const std::string& id,
                                              const PutOptions& options,
                                              const std::string& tmp_path) {
  CV_ASSIGN_OR_RETURN(std::string name, RandomName(*env_));
  std::string final_path = BlobPath(name);
  const std::string shard = DirName(final_path);
  if (!env_->Stat(shard).ok()) {
    // First object in this shard: create it and make its entry in blobs/ durable.
    CV_RETURN_IF_ERROR(env_->CreateDirs(shard));
    CV_RETURN_IF_ERROR(env_->SyncDir(data_dir_ + "/blobs"));
  }
  CV_RETURN_IF_ERROR(env_->RenameFile(tmp_path, final_path));
  if (Status synced = env_->SyncDir(DirName(final_path)); !synced.ok()) {
    env_->RemoveFile(final_path).IgnoreError();
    return synced;
  }
  IndexWrite w;
  w.user = &user;
  w.id = &id;
  w.options = &options;
  w.file = name;
  StatusOr<ObjectInfo> result = CommitIndexWrite(w);
  if (!result.ok()) env_->RemoveFile(final_path).IgnoreError();
  return result;
}

StatusOr<ObjectInfo> FileBlobStore::CommitIndexWrite(IndexWrite& w) {
  std::unique_lock<std::mutex> queue_lock(queue_mu_);
  write_queue_.push_back(&w);
  while (!w.done && write_queue_.front() != &w) w.cv.wait(queue_lock);
  if (w.done) return w.result;  // a leader committed it
  // This write leads: it commits every write queued so far, its own first.
  std::vector<IndexWrite*> group(write_queue_.begin(), write_queue_.end());
  queue_lock.unlock();
  {
    std::lock_guard lock(mu_);
    const int64_t now = NowUnix();
    StatusOr<Transaction> txn = Transaction::Begin(*db_);
    Status commit = txn.status();
    if (commit.ok()) {
      for (IndexWrite* g : group) {
        // A savepoint per write: one that fails halfway leaves no trace in the group.
        commit = db_->Exec("SAVEPOINT put");
        if (!commit.ok()) break;
        g->result = ApplyIndexWriteLocked(*g, now);
        if (!g->result.ok()) commit = db_->Exec("ROLLBACK TO put");
        if (commit.ok()) commit = db_->Exec("RELEASE put");
        if (!commit.ok()) break;
      }
      if (commit.ok()) commit = txn->Commit();
    }
    if (!commit.ok()) {
      for (IndexWrite* g : group) g->result = commit;
    }
  }
  queue_lock.lock();
  for (IndexWrite* g : group) {
    write_queue_.pop_front();
    g->done = true;
    if (g != &w) g->cv.notify_one();
  }
  if (!write_queue_.empty()) write_queue_.front()->cv.notify_one();  // the next leader
  return w.result;
}

StatusOr<ObjectInfo> FileBlobStore::ApplyIndexWriteLocked(const IndexWrite& w, int64_t now) {
  const std::string& user = *w.user;
  const std::string& id = *w.id;
  const PutOptions& options = *w.options;
  CV_ASSIGN_OR_RETURN(std::optional<Row> existing, CheckPutLocked(user, id, options));
  if (existing.has_value()) {
    CV_ASSIGN_OR_RETURN(Statement retire,
                        db_->Prepare("UPDATE objects SET deleted = ?3 "
                                     "WHERE user = ?1 AND id = ?2 AND deleted IS NULL"));
    CV_RETURN_IF_ERROR(retire.BindText(1, user));
    CV_RETURN_IF_ERROR(retire.BindText(2, id));
    CV_RETURN_IF_ERROR(retire.BindInt64(3, now));
    CV_RETURN_IF_ERROR(retire.Run());
  }
  CV_ASSIGN_OR_RETURN(Statement insert,
                      db_->Prepare("INSERT INTO objects (user, id, kind, size, sha256, created, "
                                   "file, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"));
  CV_RETURN_IF_ERROR(insert.BindText(1, user));
  CV_RETURN_IF_ERROR(insert.BindText(2, id));
  CV_RETURN_IF_ERROR(insert.BindInt64(3, static_cast<int64_t>(options.kind)));
  CV_RETURN_IF_ERROR(insert.BindInt64(4, static_cast<int64_t>(options.size)));
  CV_RETURN_IF_ERROR(insert.BindText(5, options.sha256));
  CV_RETURN_IF_ERROR(insert.BindInt64(6, now));
  CV_RETURN_IF_ERROR(insert.BindText(7, w.file));
  if (w.data != nullptr) {
    CV_RETURN_IF_ERROR(insert.BindBlob(8, *w.data));
  } else {
    CV_RETURN_IF_ERROR(insert.BindNull(8));
  }
  CV_RETURN_IF_ERROR(insert.Run());
  return ObjectInfo{id, options.kind, options.size, options.sha256, now};
}

StatusOr<std::unique_ptr<BlobReader>> FileBlobStore::Open(std::string_view user,
                                                          std::string_view id) {
  if (!IsValidObjectId(id)) return BadId();
  Row row;
  {
    std::lock_guard lock(mu_);
    CV_ASSIGN_OR_RETURN(row, FindLiveLocked(user, id, /*with_data=*/true));
  }
  if (!row.damaged.empty()) return ObjectDamaged(row.info.id, "quarantined (" + row.damaged + ")");
  if (row.is_inline) {
    if (row.data.size() != row.info.size) {
      return ObjectDamaged(row.info.id, SizeDetail(row.data.size(), row.info.size));
    }
    return std::unique_ptr<BlobReader>(new InlineReader(std::move(row.data), std::move(row.info)));
  }
  std::string path = BlobPath(row.file);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) return ObjectDamaged(row.info.id, "its file is missing");
  if (fd < 0) return ErrnoToStatus(errno, "open", "object " + row.info.id);
  // The size of the file actually opened, so a file replaced after this check is still the
  // one checked; a file that shrinks later fails in ReadAt.
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    Status status = ErrnoToStatus(errno, "stat", "object " + row.info.id);
    ::close(fd);
    return status;
  }
  if (static_cast<uint64_t>(st.st_size) != row.info.size) {
    ::close(fd);
    return ObjectDamaged(row.info.id, SizeDetail(static_cast<uint64_t>(st.st_size), row.info.size));
  }
  return std::unique_ptr<BlobReader>(new FileReader(fd, std::move(row.info)));
}

StatusOr<std::unique_ptr<BlobReader>> FileBlobStore::OpenPrefix(std::string_view user,
                                                                std::string_view id, uint64_t end) {
  if (!IsValidObjectId(id)) return BadId();
  Row row;
  {
    std::lock_guard lock(mu_);
    CV_ASSIGN_OR_RETURN(row, FindLiveLocked(user, id, /*with_data=*/true));
  }
  if (end >= row.info.size) {
    return InvalidArgumentError("a prefix ends before the object's last byte", "bad_range");
  }
  if (!row.damaged.empty()) return ObjectDamaged(row.info.id, "quarantined (" + row.damaged + ")");
  // The reader's info says `end` bytes: it never reads, nor claims, more.
  ObjectInfo prefix = row.info;
  prefix.size = end;
  if (row.is_inline) {
    if (row.data.size() < end) {
      return ObjectDamaged(row.info.id, SizeDetail(row.data.size(), row.info.size));
    }
    row.data.resize(end);
    return std::unique_ptr<BlobReader>(new InlineReader(std::move(row.data), std::move(prefix)));
  }
  const std::string path = BlobPath(row.file);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) return ObjectDamaged(row.info.id, "its file is missing");
  if (fd < 0) return ErrnoToStatus(errno, "open", "object " + row.info.id);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || static_cast<uint64_t>(st.st_size) < end) {
    const uint64_t found = static_cast<uint64_t>(st.st_size);
    ::close(fd);
    return ObjectDamaged(row.info.id, SizeDetail(found, row.info.size));
  }
  return std::unique_ptr<BlobReader>(new FileReader(fd, std::move(prefix)));
}

StatusOr<ObjectInfo> FileBlobStore::Head(std::string_view user, std::string_view id) {
  if (!IsValidObjectId(id)) return BadId();
  std::lock_guard lock(mu_);
  CV_ASSIGN_OR_RETURN(Row row, FindLiveLocked(user, id));
  return row.info;
}

Status FileBlobStore::Delete(std::string_view user, std::string_view id) {
  if (!IsValidObjectId(id)) return BadId();
  std::lock_guard lock(mu_);
  CV_ASSIGN_OR_RETURN(Statement stmt,
                      db_->Prepare("UPDATE objects SET deleted = ?3 "
                                   "WHERE user = ?1 AND id = ?2 AND deleted IS NULL"));
  CV_RETURN_IF_ERROR(stmt.BindText(1, user));
  CV_RETURN_IF_ERROR(stmt.BindText(2, id));
  CV_RETURN_IF_ERROR(stmt.BindInt64(3, NowUnix()));
  CV_RETURN_IF_ERROR(stmt.Run());
  if (db_->Changes() == 0) return NotFoundError("no such object", "no_such_object");
  return Status::Ok();
}

StatusOr<ListPage> FileBlobStore::List(std::string_view user, const ListOptions& options) {
  if (!IsValidObjectIdPrefix(options.prefix)) {
    return InvalidArgumentError("prefix must be lowercase hex", "bad_prefix");
  }
  if (!options.after.empty() && !IsValidObjectIdPrefix(options.after)) {
    return InvalidArgumentError("after must be lowercase hex", "bad_after");
  }
  size_t limit = std::clamp<size_t>(options.limit, 1, kMaxListLimit);
  std::lock_guard lock(mu_);
  CV_ASSIGN_OR_RETURN(
      Statement stmt,
      db_->Prepare("SELECT id, kind, size, sha256, created FROM objects "
                   "WHERE user = ?1 AND deleted IS NULL AND id > ?2 AND id >= ?3 AND id < ?4 "
                   "AND (?5 < 0 OR kind = ?5) ORDER BY id LIMIT ?6"));
  CV_RETURN_IF_ERROR(stmt.BindText(1, user));
  CV_RETURN_IF_ERROR(stmt.BindText(2, options.after));
  CV_RETURN_IF_ERROR(stmt.BindText(3, options.prefix));
  // 'g' sorts after every hex digit, so prefix + "g" bounds the ids with that prefix.
  CV_RETURN_IF_ERROR(stmt.BindText(4, options.prefix + "g"));
  CV_RETURN_IF_ERROR(
      stmt.BindInt64(5, options.kind.has_value() ? static_cast<int64_t>(*options.kind) : -1));
  CV_RETURN_IF_ERROR(stmt.BindInt64(6, static_cast<int64_t>(limit + 1)));
  ListPage page;
  while (true) {
    CV_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    if (page.objects.size() == limit) {
      page.truncated = true;
      break;
    }
    ObjectInfo info;
    info.id = stmt.ColumnText(0);
    info.kind = static_cast<ObjectKind>(stmt.ColumnInt64(1));
    info.size = static_cast<uint64_t>(stmt.ColumnInt64(2));
    info.sha256 = stmt.ColumnText(3);
    info.created_unix = stmt.ColumnInt64(4);
    page.objects.push_back(std::move(info));
  }
  return page;
}

StatusOr<size_t> FileBlobStore::PurgeExpired(int64_t now_unix) {
  std::vector<std::pair<int64_t, std::string>> expired;
  {
    std::lock_guard lock(mu_);
    CV_ASSIGN_OR_RETURN(Statement stmt,
                        db_->Prepare("SELECT seq, file FROM objects "
                                     "WHERE deleted IS NOT NULL AND deleted <= ?1"));
    CV_RETURN_IF_ERROR(stmt.BindInt64(1, now_unix - options_.retention_seconds));
    while (true) {
      CV_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      expired.emplace_back(stmt.ColumnInt64(0), stmt.ColumnText(1));
    }
  }
  for (const auto& [seq, file] : expired) {
    if (!file.empty()) {  // an inline version goes with its row
      Status removed = env_->RemoveFile(BlobPath(file));
      if (!removed.ok() && removed.code() != StatusCode::kNotFound) return removed;
    }
    std::lock_guard lock(mu_);
    CV_ASSIGN_OR_RETURN(Statement del, db_->Prepare("DELETE FROM objects WHERE seq = ?1"));
    CV_RETURN_IF_ERROR(del.BindInt64(1, seq));
    CV_RETURN_IF_ERROR(del.Run());
  }
  return expired.size();
}

StatusOr<size_t> FileBlobStore::SweepOrphans(int64_t now_unix, int64_t min_age_seconds) {
  std::vector<std::string> candidates;
  std::error_code ec;
  for (const auto& shard : std::filesystem::directory_iterator(data_dir_ + "/blobs", ec)) {
    if (!shard.is_directory()) continue;
    for (const auto& entry : std::filesystem::directory_iterator(shard.path(), ec)) {
      auto info = env_->Stat(entry.path().string());
      if (!info.ok() || !info->is_regular) continue;
      if (info->mtime_ns / 1000000000 > now_unix - min_age_seconds) continue;
      candidates.push_back(entry.path().filename().string());
    }
  }
  if (ec) return IoError("cannot list " + data_dir_ + "/blobs: " + ec.message());
  size_t removed = 0;
  for (const std::string& name : candidates) {
    {
      std::lock_guard lock(mu_);
      CV_ASSIGN_OR_RETURN(Statement stmt, db_->Prepare("SELECT 1 FROM objects WHERE file = ?1"));
      CV_RETURN_IF_ERROR(stmt.BindText(1, name));
      CV_ASSIGN_OR_RETURN(bool referenced, stmt.Step());
      if (referenced) continue;
    }
    Status status = env_->RemoveFile(BlobPath(name));
    if (!status.ok() && status.code() != StatusCode::kNotFound) return status;
    ++removed;
  }
  return removed;
}

}  // namespace cardvault
