// SyncEngine implementation.
#include "agent/sync/sync_engine.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "agent/sync/stream_pipe.h"
#include "agent/watch/tree_scanner.h"
#include "core/background_appender.h"
#include "core/encryptor.h"
#include "core/key_epoch.h"
#include "core/memory_file.h"

namespace cardvault {
namespace {

std::string JoinPath(const std::string& root, const std::string& rel) { return root + "/" + rel; }

// Between a streamed file's encryption and its upload: enough to ride out the upload's
// pauses, small enough for constant memory.
constexpr size_t kStreamPipeBytes = 4 << 20;

// Writes a blob to its spool file and, as long as the upload reads, to the upload's pipe.
// An upload that gave up (the pipe was cancelled) does not stop the spool file. The spool
// file gets whole aligned blocks, so that it is written around the page cache
// (AdviseWriteOnce): it is read again only if the upload must be retried. While the pipe
// takes the bytes, the blocks are written from its ring, which keeps the last
// kStreamPipeBytes written, and on a second thread, so that the encryption goes on while
// the disk writes; once the pipe stops, they are gathered in a block of their own. Sync or
// Close ends the blob; Wait before `file` goes.
class TeeToPipe final : public WritableFile {
 public:
  TeeToPipe(WritableFile* file, StreamPipe* pipe) : file_(file), pipe_(pipe), appender_(file) {
    file_->AdviseWriteOnce();
  }
  Status Append(ByteView data) override {
    while (piping_ && !data.empty()) {
      const ByteView piece = data.first(std::min(data.size(), kBlock));
      if (!pipe_->Write(piece).ok()) {
        CV_RETURN_IF_ERROR(StopPiping());
        break;
      }
      written_ += piece.size();
      data = data.subspan(piece.size());
      // At most a block and a piece are in the ring and not in the file yet.
      while (written_ - flushed_ >= kBlock) CV_RETURN_IF_ERROR(FlushFromRing(kBlock));
    }
    written_ += data.size();
    while (!data.empty()) {
      const size_t n = std::min(data.size(), kBlock - used_);
      std::copy_n(data.data(), n, block_.get() + used_);
      used_ += n;
      data = data.subspan(n);
      if (used_ == kBlock) CV_RETURN_IF_ERROR(FlushBlock());
    }
    return Status::Ok();
  }
  Status WriteAt(uint64_t, ByteView) override {
    return InternalError("a streamed blob is written front to back");
  }
  Status Sync() override {
    CV_RETURN_IF_ERROR(FlushRest());
    return file_->Sync();
  }
  Status Close() override {
    CV_RETURN_IF_ERROR(FlushRest());
    return file_->Close();
  }
  // Waits for the block being written.
  Status Wait() { return appender_.Wait(); }
  uint64_t written() const { return written_; }

 private:
  static constexpr size_t kBlock = 1 << 20;
  // A block's bytes never wrap around the ring's end, and stay in it while they are
  // written: the block in flight, at most a block and a piece after it.
  static_assert(kStreamPipeBytes % kBlock == 0 && kStreamPipeBytes >= 3 * kBlock);

  Status FlushFromRing(size_t n) {
    const std::optional<ByteView> bytes = pipe_->Written(flushed_, n);
    if (!bytes) return InternalError("the spool file's next bytes are no longer in the pipe");
    CV_RETURN_IF_ERROR(appender_.Submit(*bytes));
    flushed_ += n;
    return Status::Ok();
  }
  // The upload gave up: the bytes not in the file yet move from the ring to block_.
  Status StopPiping() {
    piping_ = false;
    CV_RETURN_IF_ERROR(appender_.Wait());
    block_ = NewDirectIoBuffer(kBlock);
    const size_t n = static_cast<size_t>(written_ - flushed_);
    const std::optional<ByteView> bytes = pipe_->Written(flushed_, n);
    if (!bytes) return InternalError("the spool file's next bytes are no longer in the pipe");
    std::copy(bytes->begin(), bytes->end(), block_.get());
    used_ = n;
    flushed_ += n;
    return Status::Ok();
  }
  Status FlushBlock() {  // not piping: block_ is reused at once, so it is written here
    CV_RETURN_IF_ERROR(appender_.Wait());
    Status s = file_->Append({block_.get(), used_});
    used_ = 0;
    return s;
  }
  Status FlushRest() {
    if (!piping_) return FlushBlock();
    if (written_ > flushed_) {
      CV_RETURN_IF_ERROR(FlushFromRing(static_cast<size_t>(written_ - flushed_)));
    }
    return appender_.Wait();
  }

  WritableFile* file_;
  StreamPipe* pipe_;
  bool piping_ = true;
  uint64_t written_ = 0;  // bytes appended
  uint64_t flushed_ = 0;  // of which in the file, or (once not piping) in block_
  DirectIoBuffer block_;  // once not piping
  size_t used_ = 0;
  BackgroundAppender appender_;  // declared last: joined first
};

// The `size` bytes of a blob: `head`, then what arrives through `pipe`. The last byte is
// held back until the pipe's writer finished: released on Finish(OK), never on an error, so
// an upload reading this completes only once the writer allows it.
class CommitGatedFile final : public SequentialFile {
 public:
  CommitGatedFile(ByteView head, StreamPipe* pipe, uint64_t size)
      : head_(head), pipe_(pipe), size_(size) {}
  StatusOr<size_t> Read(std::span<uint8_t> buf) override {
    CV_ASSIGN_OR_RETURN(ByteView got, ReadInPlace(buf.size()));
    std::copy(got.begin(), got.end(), buf.begin());
    return got.size();
  }
  // The upload sends the pipe's bytes from the ring itself.
  bool ReadsInPlace() const override { return true; }
  StatusOr<ByteView> ReadInPlace(size_t max) override {
    if (pos_ == size_ || max == 0) return ByteView();
    const uint64_t left = size_ - pos_;
    if (left > 1) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(max, left - 1));
      ByteView got;
      if (!head_.empty()) {
        got = head_.first(std::min(want, head_.size()));
        head_ = head_.subspan(got.size());
      } else {
        CV_ASSIGN_OR_RETURN(got, pipe_->ReadInPlace(want));
        if (got.empty()) return InternalError("the stream ended early", "size_mismatch");
      }
      pos_ += got.size();
      return got;
    }
    uint8_t extra;
    CV_ASSIGN_OR_RETURN(size_t n, ReadFull(*pipe_, {&last_, 1}));
    if (n != 1) return InternalError("the stream ended early", "size_mismatch");
    CV_ASSIGN_OR_RETURN(n, ReadFull(*pipe_, {&extra, 1}));  // waits for Finish
    if (n != 0) return InternalError("the stream is longer than its blob", "size_mismatch");
    ++pos_;
    return ByteView(&last_, 1);
  }

 private:
  ByteView head_;
  StreamPipe* pipe_;
  const uint64_t size_;
  uint64_t pos_ = 0;
  uint8_t last_ = 0;
};

// A small blob, encrypted into memory to be spooled in the state database. The file may
// have grown since it was detected: past `limit` the encryption stops ("source_changed")
// and the file is detected again, instead of taking memory without bound.
class BoundedBlobSink final : public WritableFile {
 public:
  BoundedBlobSink(Bytes* out, size_t limit) : out_(out), limit_(limit) {}
  Status Append(ByteView data) override {
    if (data.size() > limit_ - out_->size()) {
      return FailedPreconditionError("the file grew while it was encrypted", "source_changed");
    }
    out_->insert(out_->end(), data.begin(), data.end());
    return Status::Ok();
  }
  Status WriteAt(uint64_t offset, ByteView data) override {
    return MemoryWritableFile(out_).WriteAt(offset, data);
  }
  Status Sync() override { return Status::Ok(); }
  Status Close() override { return Status::Ok(); }

 private:
  Bytes* out_;
  size_t limit_;
};

// Uploads the v2 blob that arrives through `pipe` (the blob's size follows from its
// preamble and the plaintext's size). Its last byte waits for the pipe's Finish(OK), so the
// server, which publishes only a complete body, publishes nothing before. Cancels the pipe
// when it gives up.
StatusOr<ObjectInfo> PutStreamed(ObjectClient& client, const std::string& id,
                                 uint64_t plaintext_size, StreamPipe& pipe) {
  std::array<uint8_t, format::kPreambleSize> preamble;
  StatusOr<ObjectInfo> r = [&]() -> StatusOr<ObjectInfo> {
    CV_ASSIGN_OR_RETURN(size_t got, ReadFull(pipe, preamble));
    if (got != preamble.size()) return InternalError("the stream ended inside its preamble");
    CV_ASSIGN_OR_RETURN(uint32_t header_length, format::ParsePreamble(preamble));
    PutOptions put;
    put.kind = ObjectKind::kBlob;
    put.size = format::BlobSize(format::kVersion2, header_length, plaintext_size);
    put.create_only = true;
    put.transfer_check = TransferCheck::kXxh128;  // sha256 empty: checked as in PutBlob
    bool opened = false;
    return client.Put(id, put, [&]() -> StatusOr<std::unique_ptr<SequentialFile>> {
      if (opened) {
        return FailedPreconditionError("a streamed upload cannot be sent twice", "stream_consumed");
      }
      opened = true;
      return std::unique_ptr<SequentialFile>(new CommitGatedFile(preamble, &pipe, put.size));
    });
  }();
  if (!r.ok()) pipe.Cancel();
  return r;
}

}  // namespace

std::string KeyObjectId(const X25519Recipient& epoch) {
  Bytes input =
      Bytes(AsBytes("cardvault key object").begin(), AsBytes("cardvault key object").end());
  AppendBytes(input, epoch.public_key());
  Sha256Digest d = Sha256(input);
  return HexEncode(epoch.key_id()) + HexEncode(ByteView(d).subspan(0, 24));
}

SyncEngine::SyncEngine(StateDb* db, ObjectClient* client, SyncEngineOptions options)
    : db_(db),
      client_(client),
      options_(std::move(options)),
      env_(options_.env != nullptr ? options_.env : Env::Default()) {
  std::vector<std::string> sorted = options_.recipient_strings;
  std::sort(sorted.begin(), sorted.end());
  std::string joined;
  for (const std::string& r : sorted) joined += r + "\n";
  recipients_hash_ = HexEncode(Sha256(AsBytes(joined)));
  // Flushing a whole file system may be refused (Windows without administrator rights):
  // then each spool file is made durable by itself, as a restore does.
  sync_file_system_ = env_->CanSyncFileSystem(options_.spool_dir);
}

StatusOr<std::unique_ptr<SyncEngine>> SyncEngine::New(StateDb* db, ObjectClient* client,
                                                      SyncEngineOptions options) {
  if (options.card_recipients.empty()) {
    return InvalidArgumentError(
        "no recipients: run 'cardvault card init' or add one with "
        "'cardvault recipients add'");
  }
  if (options.card_recipients.size() != options.recipient_strings.size()) {
    return InvalidArgumentError("each recipient needs its text form");
  }
  Env* env = options.env != nullptr ? options.env : Env::Default();
  CV_RETURN_IF_ERROR(env->CreateDirs(options.spool_dir));
  // Spool files no version refers to were left by a crash before their step was committed:
  // their versions are still queued and will be encrypted again.
  CV_ASSIGN_OR_RETURN(std::vector<VersionRecord> encrypted,
                      db->ListVersions(VersionState::kEncrypted));
  std::set<std::string> in_use;
  for (const VersionRecord& v : encrypted) in_use.insert(v.spool_path);
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(options.spool_dir, ec)) {
    if (in_use.count(entry.path().string()) == 0)
      env->RemoveFile(entry.path().string()).IgnoreError();
  }
  return std::unique_ptr<SyncEngine>(new SyncEngine(db, client, std::move(options)));
}

void SyncEngine::Emit(const std::string& type, const std::string& path, const std::string& detail) {
  if (sink_) sink_({type, path, detail});
}

Status SyncEngine::CheckVaultOnServer() {
  if (vault_check_ == VaultCheck::kPassed) return Status::Ok();
  const int64_t now = env_->MonotonicNanos();
  if (vault_check_ == VaultCheck::kRefused && now - vault_checked_ns_ < kVaultRecheckNs) {
    return vault_refusal_;
  }
  CV_ASSIGN_OR_RETURN(bool may_upload, db_->MayUpload());
  if (!may_upload) {
    ListOptions keys;
    keys.kind = ObjectKind::kKey;
    keys.limit = 100;
    CV_ASSIGN_OR_RETURN(ListPage page, client_->List(keys));
    if (!page.objects.empty()) {
      vault_check_ = VaultCheck::kRefused;
      vault_checked_ns_ = now;
      vault_refusal_ = FailedPreconditionError(
          "the server already holds a vault for this device token (" +
              std::to_string(page.objects.size()) + (page.truncated ? "+" : "") +
              " key objects) that the state database " + db_->path() +
              " did not write: the state directory was deleted or replaced. Uploading now "
              "would store every file a second time, so nothing is uploaded. Run: cardvault "
              "adopt (the card and its PIN once: it records every file that matches the "
              "server's latest version), then sync again; only the files that differ are "
              "uploaded",
          "vault_already_on_server");
      // What a scan recorded before the server could be asked goes, so that adopt starts
      // from an empty state (nothing was encrypted: there is no epoch yet).
      CV_RETURN_IF_ERROR(db_->ForgetUnsynced());
      Emit("vault_refused", "", vault_refusal_.message());
      return vault_refusal_;
    }
    CV_RETURN_IF_ERROR(db_->SetMeta("vault_check", "passed"));
  }
  vault_check_ = VaultCheck::kPassed;
  return Status::Ok();
}

Status SyncEngine::CheckVaultBeforeRecording() {
  Status s = CheckVaultOnServer();
  // A server that cannot be asked now does not stop the scan: the check runs again before
  // the first encryption, and a refusal then forgets what was recorded meanwhile.
  return IsRetryable(s) ? Status::Ok() : s;
}

Status SyncEngine::Detect(const std::string& path, bool force) {
  if (options_.ignore.IsIgnored(path)) return Status::Ok();
  CV_RETURN_IF_ERROR(CheckVaultBeforeRecording());
  const std::string full = JoinPath(options_.vault_dir, path);
  auto info = env_->Stat(full);
  if (!info.ok()) {
    if (info.status().code() == StatusCode::kNotFound) return DetectRemoved(path, false);
    return info.status();
  }
  if (info->is_directory) return DetectDirectory(path, *info);
  if (!info->is_regular) {
    Emit("skipped", path, info->is_symlink ? "symbolic link" : "special file");
    return Status::Ok();
  }
  CV_ASSIGN_OR_RETURN(std::optional<FileRecord> rec, db_->GetFile(path));
  const uint32_t mode = info->mode & 07777;
  if (!force && rec && !rec->deleted && rec->size == info->size &&
      rec->mtime_ns == info->mtime_ns && rec->inode == info->inode && rec->mode == mode) {
    return Status::Ok();
  }
  // A new file, or one whose size changed, is a new version whatever its content: its
  // encryption hashes it (Spool). Only a file that may be unchanged is read to compare.
  uint64_t size = info->size;
  StatusOr<Sha256Digest> digest = kNotHashed;
  const bool changed = !rec || rec->deleted || rec->size != info->size;
  if (!changed) digest = Sha256OfPath(*env_, full, &size);
  if (!digest.ok()) {
    if (digest.status().code() == StatusCode::kNotFound) return DetectRemoved(path, false);
    return digest.status();
  }
  FileRecord f{path, size, info->mtime_ns, info->inode, mode, *digest, false};
  std::optional<VersionRecord> version;
  if (changed || rec->sha256 != *digest || rec->mode != mode) {
    VersionRecord v;
    v.path = path;
    v.kind = format::Kind::kFile;
    v.sha256 = *digest;
    v.size = size;
    v.mtime_ns = info->mtime_ns;
    v.mode = mode;
    v.created_ns = env_->NowUnixNanos();
    version = v;
  }
  CV_ASSIGN_OR_RETURN(std::vector<std::string> stale, db_->RecordFile(f, version));
  for (const std::string& s : stale) RemoveSpoolFile(s);
  if (version) Emit("file_queued", path);
  return Status::Ok();
}

Status SyncEngine::DetectDirectory(const std::string& path, const FileInfo& info) {
  if (path.empty()) return Status::Ok();  // the vault itself
  const FileRecord f = DirectoryFileRecord(path, info);
  CV_ASSIGN_OR_RETURN(std::optional<FileRecord> rec, db_->GetFile(f.path));
  // Only a new directory or a new mode is a new version: its mtime changes with every entry.
  if (rec && !rec->deleted && rec->mode == f.mode) return Status::Ok();
  VersionRecord v;
  v.path = f.path;
  v.kind = format::Kind::kDirectory;
  v.sha256 = f.sha256;
  v.mtime_ns = f.mtime_ns;
  v.mode = f.mode;
  v.created_ns = env_->NowUnixNanos();
  CV_ASSIGN_OR_RETURN(std::vector<std::string> stale, db_->RecordFile(f, v));
  for (const std::string& s : stale) RemoveSpoolFile(s);
  Emit("file_queued", f.path);
  return Status::Ok();
}

Status SyncEngine::DetectRemoved(const std::string& path, bool is_directory) {
  std::vector<FileRecord> gone;
  if (is_directory) {
    CV_ASSIGN_OR_RETURN(std::vector<FileRecord> live, db_->ListLiveFiles());
    const std::string prefix = path + "/";
    for (FileRecord& f : live) {
      if (f.path.compare(0, prefix.size(), prefix) == 0) gone.push_back(std::move(f));
    }
  } else {
    CV_ASSIGN_OR_RETURN(std::optional<FileRecord> rec, db_->GetFile(path));
    if (rec && !rec->deleted) gone.push_back(*rec);
  }
  for (FileRecord& f : gone) {
    // Still there (e.g. a rename back)? Then it is not a deletion.
    if (env_->Stat(JoinPath(options_.vault_dir, f.path)).ok()) continue;
    f.deleted = true;
    VersionRecord v;
    v.path = f.path;
    v.kind = format::Kind::kDeletion;
    v.sha256 = Sha256({});
    v.mtime_ns = env_->NowUnixNanos();
    v.created_ns = v.mtime_ns;
    CV_ASSIGN_OR_RETURN(std::vector<std::string> stale, db_->RecordFile(f, v));
    for (const std::string& s : stale) RemoveSpoolFile(s);
    Emit("file_queued", f.path, "deleted");
  }
  return Status::Ok();
}

Status SyncEngine::Rescan() {
  CV_RETURN_IF_ERROR(CheckVaultBeforeRecording());
  CV_ASSIGN_OR_RETURN(ScanResult scan, ScanTree(options_.vault_dir, options_.ignore));
  for (const std::string& s : scan.skipped) Emit("skipped", s, "symbolic link or special file");
  // The records of many files commit together (Detect's own transactions nest).
  for (size_t i = 0; i < scan.files.size(); i += kBatchSize * 4) {
    CV_ASSIGN_OR_RETURN(Transaction batch, db_->BeginBatch());
    for (size_t j = i; j < std::min(scan.files.size(), i + kBatchSize * 4); ++j) {
      CV_RETURN_IF_ERROR(Detect(scan.files[j].relative_path));
    }
    CV_RETURN_IF_ERROR(batch.Commit());
  }
  {
    CV_ASSIGN_OR_RETURN(Transaction batch, db_->BeginBatch());
    for (const ScannedFile& d : scan.directories) {
      CV_RETURN_IF_ERROR(DetectDirectory(d.relative_path, d.info));
    }
    CV_RETURN_IF_ERROR(batch.Commit());
  }
  CV_ASSIGN_OR_RETURN(std::vector<FileRecord> live, db_->ListLiveFiles());
  for (const FileRecord& f : live) {
    // Both lists are sorted by relative_path; a directory's record path ends with '/'.
    const std::string path = MetadataPath(f.path);
    const std::vector<ScannedFile>& scanned = path != f.path ? scan.directories : scan.files;
    auto it = std::lower_bound(
        scanned.begin(), scanned.end(), path,
        [](const ScannedFile& a, const std::string& p) { return a.relative_path < p; });
    const bool present = it != scanned.end() && it->relative_path == path;
    if (!present) CV_RETURN_IF_ERROR(DetectRemoved(f.path, false));
  }
  return Status::Ok();
}

StatusOr<int> SyncEngine::RetryFailed() {
  CV_ASSIGN_OR_RETURN(std::vector<VersionRecord> again, db_->RequeueFailed());
  for (const VersionRecord& v : again) {
    RemoveSpoolFile(v.spool_path);  // a failed version's spool file is not used again
    Emit("file_queued", v.path, "retrying after: " + v.last_error);
  }
  return static_cast<int>(again.size());
}

StatusOr<EpochRecord> SyncEngine::CurrentEpoch() {
  CV_ASSIGN_OR_RETURN(std::optional<EpochRecord> current, db_->CurrentEpoch(recipients_hash_));
  if (current) return *current;
  std::vector<Recipient*> rs;
  for (auto& r : options_.card_recipients) rs.push_back(r.get());
  const int64_t now = env_->NowUnixNanos();
  CV_ASSIGN_OR_RETURN(NewEpoch epoch, CreateEpoch(rs, now, env_));
  EpochRecord e;
  e.epoch_id = epoch.epoch_id;
  e.recipient = epoch.recipient.ToString();
  e.object_id = KeyObjectId(epoch.recipient);
  e.key_object = std::move(epoch.key_object);
  e.recipients_hash = recipients_hash_;
  e.created_ns = now;
  CV_RETURN_IF_ERROR(db_->AddEpoch(e));
  Emit("epoch_created", "", HexEncode(e.epoch_id));
  return e;
}

Status SyncEngine::LoadEpoch() {
  if (epoch_.has_value()) return Status::Ok();
  // The epoch of this engine's recipients does not change while it runs.
  CV_ASSIGN_OR_RETURN(EpochRecord record, CurrentEpoch());
  CV_ASSIGN_OR_RETURN(X25519Recipient recipient, X25519Recipient::Parse(record.recipient));
  epoch_.emplace(std::move(record), std::move(recipient));
  return Status::Ok();
}

StatusOr<std::string> SyncEngine::NewObjectId() {
  uint8_t rnd[32];
  CV_RETURN_IF_ERROR(env_->RandomBytes(rnd));
  return HexEncode(rnd);
}

bool SyncEngine::StillAsDetected(VersionRecord& v, const format::Metadata& encrypted) {
  if (encrypted.mode != v.mode || encrypted.size != v.size) return false;
  if (v.sha256 != kNotHashed) return encrypted.sha256 == v.sha256;
  // Hashed by this encryption: the file MUST still be what Detect saw, so that a write that
  // came meanwhile never makes a half-written version.
  StatusOr<FileInfo> now = env_->Stat(JoinPath(options_.vault_dir, v.path));
  if (!now.ok() || now->size != v.size || now->mtime_ns != v.mtime_ns) return false;
  v.sha256 = encrypted.sha256;
  return true;
}

void SyncEngine::RemoveSpoolFile(const std::string& spool_path) {
  if (spool_path.empty() || spool_path == kSpoolInStateDb) return;
  env_->RemoveFile(spool_path).IgnoreError();
}

Status SyncEngine::Spool(VersionRecord& v, bool sync_each) {
  v.spool_path.clear();
  v.spool_blob.clear();
  CV_RETURN_IF_ERROR(LoadEpoch());
  const EpochRecord& epoch = epoch_->first;
  Recipient* rs[] = {&epoch_->second};
  CV_ASSIGN_OR_RETURN(const std::string object_id, NewObjectId());
  const bool in_db = v.kind != format::Kind::kFile || v.size <= options_.spool_in_db_up_to;
  const std::string spool =
      in_db ? std::string(kSpoolInStateDb) : JoinPath(options_.spool_dir, object_id + ".cvb");
  EncryptOptions opts;
  opts.env = env_;
  // Made durable below (sync_each), or with the whole batch at once before it is recorded.
  opts.sync = false;
  opts.recorded_ns = v.created_ns;  // orders this version among the path's on restore
  Bytes blob;
  // Room for the file as detected plus as much again: a header, tags, and some growth.
  BoundedBlobSink blob_sink(&blob,
                            2 * static_cast<size_t>(options_.spool_in_db_up_to) + (64 << 10));
  if (v.kind == format::Kind::kFile) {
    const std::string full = JoinPath(options_.vault_dir, v.path);
    auto m = in_db ? EncryptFileTo(*env_, full, blob_sink, rs, v.path, opts)
                   : EncryptFile(*env_, full, spool, rs, v.path, opts);
    if (!m.ok()) {
      if (m.status().code() == StatusCode::kNotFound) return DetectRemoved(v.path, false);
      if (in_db && m.status().reason() == "source_changed") return Detect(v.path, /*force=*/true);
      return m.status();
    }
    if (!StillAsDetected(v, *m)) {
      // The file changed after it was detected: record what it is now instead.
      RemoveSpoolFile(spool);
      return Detect(v.path, /*force=*/true);
    }
  } else {
    format::Metadata m;  // a deletion or a directory: no content
    m.kind = v.kind;
    m.path = MetadataPath(v.path);
    m.mtime_ns = v.mtime_ns;
    m.mode = v.mode;
    m.recorded_ns = v.created_ns;
    MemorySequentialFile empty(ByteView{});
    CV_RETURN_IF_ERROR(EncryptStream(empty, blob_sink, rs, m, opts).status());
  }
  uint64_t blob_size = blob.size();
  if (!in_db) {
    // The blob's own SHA-256 is computed while it is uploaded (PutBlob), not by another read.
    StatusOr<FileInfo> file = env_->Stat(spool);
    if (!file.ok()) {
      RemoveSpoolFile(spool);
      return file.status();
    }
    blob_size = file->size;
    if (sync_each) CV_RETURN_IF_ERROR(SyncSpoolFile(spool, blob_size));
  }
  v.object_id = object_id;
  v.epoch_id = epoch.epoch_id;
  v.spool_path = spool;
  v.spool_blob = std::move(blob);
  v.blob_sha256.clear();
  v.blob_size = blob_size;
  return Status::Ok();
}

Status SyncEngine::SyncSpoolFile(const std::string& spool, uint64_t size) {
  Status s = [&]() -> Status {
    CV_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> f, env_->ReopenWritableFile(spool, size));
    CV_RETURN_IF_ERROR(f->Sync());
    CV_RETURN_IF_ERROR(f->Close());
    return env_->SyncDir(options_.spool_dir);
  }();
  if (s.ok()) return s;
  RemoveSpoolFile(spool);
  if (s.code() == StatusCode::kResourceExhausted) return s;  // disk full, as while writing
  return IoError("cannot make the spool file durable (" + s.ToString() +
                     "): the file stays queued; check the disk of " + options_.spool_dir,
                 std::string(kSpoolNotDurable));
}

Status SyncEngine::StreamOne(VersionRecord& v, PassResult& result) {
  CV_RETURN_IF_ERROR(LoadEpoch());
  const EpochRecord& epoch = epoch_->first;
  // The blob may be published before this function returns: its key object goes first.
  if (Status key = EnsureEpochUploaded(epoch.epoch_id); !key.ok()) {
    // The server is not reachable (or refuses): spool as usual, the upload waits.
    CV_RETURN_IF_ERROR(Spool(v, /*sync_each=*/true));
    if (v.spool_path.empty()) return Status::Ok();
    std::vector<VersionRecord*> one = {&v};
    CV_RETURN_IF_ERROR(RecordSpooled(one, /*synced_each=*/true));
    if (v.state != VersionState::kEncrypted) return Status::Ok();  // superseded
    return FinishUpload(v, key, result);
  }
  const std::string full = JoinPath(options_.vault_dir, v.path);
  StatusOr<FileInfo> info = env_->Stat(full);
  StatusOr<std::unique_ptr<SequentialFile>> source =
      info.ok() ? env_->NewSequentialFile(full) : info.status();
  if (!source.ok()) {
    if (source.status().code() == StatusCode::kNotFound) return DetectRemoved(v.path, false);
    return source.status();
  }
  if (!info->is_regular) return FailedPreconditionError(full + " is no longer a regular file");
  if (info->size != v.size) return Detect(v.path, /*force=*/true);  // a newer version
  CV_ASSIGN_OR_RETURN(const std::string object_id, NewObjectId());
  const std::string spool = JoinPath(options_.spool_dir, object_id + ".cvb");
  const std::string tmp = spool + ".tmp";
  CV_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, env_->NewWritableFile(tmp, 0600));

  StreamPipe pipe(kStreamPipeBytes);
  TeeToPipe tee(file.get(), &pipe);
  StatusOr<ObjectInfo> uploaded = InternalError("not run");
  std::thread uploader([&] { uploaded = PutStreamed(*client_, object_id, v.size, pipe); });
  bool joined = false;
  auto join = [&] {
    if (!joined) uploader.join();
    joined = true;
  };
  // On every return before the version is recorded: the upload ends without its last byte
  // (the server publishes nothing) and the spool file goes.
  struct Guard {
    std::function<void()> f;
    ~Guard() {
      if (f) f();
    }
  } abandon{[&] {
    pipe.Finish(CancelledError("the streamed upload was abandoned"));
    join();
    tee.Wait().IgnoreError();  // no spool write in flight when the file goes
    file.reset();
    env_->RemoveFile(tmp).IgnoreError();
    env_->RemoveFile(spool).IgnoreError();
  }};

  format::Metadata m;
  m.kind = format::Kind::kFile;
  m.path = v.path;
  m.size = info->size;
  m.mtime_ns = info->mtime_ns;
  m.mode = info->mode & 07777;
  m.recorded_ns = v.created_ns;
  EncryptOptions opts;
  opts.env = env_;
  opts.version = format::kVersion2;
  Recipient* rs[] = {&epoch_->second};
  StatusOr<format::Metadata> encrypted = EncryptStream(**source, tee, rs, m, opts);
  if (!encrypted.ok()) {
    if (encrypted.status().reason() == "source_changed") return Detect(v.path, /*force=*/true);
    if (encrypted.status().code() == StatusCode::kNotFound) return DetectRemoved(v.path, false);
    return encrypted.status();
  }
  // As in Spool: the version is what Detect saw, or it is detected again.
  if (!StillAsDetected(v, *encrypted)) return Detect(v.path, /*force=*/true);
  // The spool file is durable and the version recorded before the server may publish.
  CV_RETURN_IF_ERROR(tee.Sync());
  CV_RETURN_IF_ERROR(tee.Close());
  CV_RETURN_IF_ERROR(env_->RenameFile(tmp, spool));
  CV_RETURN_IF_ERROR(env_->SyncDir(options_.spool_dir));
  v.object_id = object_id;
  v.epoch_id = epoch.epoch_id;
  v.spool_path = spool;
  v.blob_sha256.clear();
  v.blob_size = tee.written();
  if (Status recorded = db_->MarkEncrypted(v); !recorded.ok()) {
    return recorded.reason() == "superseded" ? Status::Ok() : recorded;  // abandoned
  }
  abandon.f = nullptr;  // the spool file is the version's now
  v.state = VersionState::kEncrypted;
  pipe.Finish(Status::Ok());  // the upload's last byte goes out: the server publishes
  join();
  Status outcome = uploaded.status();
  if (uploaded.ok()) v.blob_sha256 = uploaded->sha256;
  CV_RETURN_IF_ERROR(FinishUpload(v, outcome, result));
  if (outcome.ok()) env_->RemoveFile(spool).IgnoreError();
  return Status::Ok();
}

Status SyncEngine::RecordSpooled(std::vector<VersionRecord*>& spooled, bool synced_each) {
  if (spooled.empty()) return Status::Ok();
  // On failure nothing of the batch is recorded, so none of its spool files may stay.
  auto discard = [&] {
    for (VersionRecord* v : spooled) RemoveSpoolFile(v->spool_path);
  };
  // One flush makes every spool file of the batch (and its directory entry) durable
  // before any of them is recorded as encrypted. Blobs spooled in the database are durable
  // with the commit that records them.
  const bool files = std::any_of(spooled.begin(), spooled.end(), [](const VersionRecord* v) {
    return v->spool_path != kSpoolInStateDb;
  });
  if (Status flushed =
          synced_each || !files ? Status::Ok() : env_->SyncFileSystem(options_.spool_dir);
      !flushed.ok()) {
    discard();
    return flushed;
  }
  CV_ASSIGN_OR_RETURN(Transaction batch, db_->BeginBatch());
  std::vector<VersionRecord*> recorded;
  for (VersionRecord* v : spooled) {
    Status s = db_->MarkEncrypted(*v);
    if (!s.ok() && s.reason() == "superseded") {
      RemoveSpoolFile(v->spool_path);
      continue;
    }
    if (!s.ok()) {
      discard();  // the batch rolls back
      return s;
    }
    recorded.push_back(v);
  }
  if (Status committed = batch.Commit(); !committed.ok()) {
    discard();
    return committed;
  }
  for (VersionRecord* v : recorded) v->state = VersionState::kEncrypted;
  return Status::Ok();
}

Status SyncEngine::EnsureEpochUploaded(const Bytes& epoch_id) {
  CV_ASSIGN_OR_RETURN(std::optional<EpochRecord> e, db_->GetEpoch(epoch_id));
  if (!e) return InternalError("unknown epoch " + HexEncode(epoch_id));
  if (e->uploaded) return Status::Ok();
  PutOptions put;
  put.kind = ObjectKind::kKey;
  put.size = e->key_object.size();
  put.sha256 = HexEncode(Sha256(e->key_object));
  put.create_only = true;
  const Bytes& blob = e->key_object;
  auto r = client_->Put(e->object_id, put, [&blob]() -> StatusOr<std::unique_ptr<SequentialFile>> {
    return std::unique_ptr<SequentialFile>(new MemorySequentialFile(blob));
  });
  if (!r.ok() && r.status().code() != StatusCode::kAlreadyExists) return r.status();
  if (!r.ok()) {
    CV_ASSIGN_OR_RETURN(ObjectInfo info, client_->Head(e->object_id));
    if (info.sha256 != put.sha256) {
      return FailedPreconditionError("the server holds a different key object under " +
                                     e->object_id);
    }
  }
  CV_RETURN_IF_ERROR(db_->MarkEpochUploaded(epoch_id));
  Emit("epoch_uploaded", "", HexEncode(epoch_id));
  return Status::Ok();
}

Status SyncEngine::PutBlob(ObjectClient& client, VersionRecord& v) {
  PutOptions put;
  put.kind = ObjectKind::kBlob;
  put.size = v.blob_size;
  put.sha256 = v.blob_sha256;  // empty: the client checksums what it sends and appends it
  put.create_only = true;
  // XXH3-128 detects a damaged transfer at a fifth of SHA-256's cost; the blob itself is
  // authenticated by its AEAD. The server computes the SHA-256 that is recorded.
  put.transfer_check = TransferCheck::kXxh128;
  Env* env = env_;
  const std::string spool = v.spool_path;
  const bool in_db = spool == kSpoolInStateDb;
  const ByteView blob = v.spool_blob;
  auto r = client.Put(v.object_id, put,
                      [env, spool, in_db, blob]() -> StatusOr<std::unique_ptr<SequentialFile>> {
                        if (in_db)
                          return std::unique_ptr<SequentialFile>(new MemorySequentialFile(blob));
                        return env->NewSequentialFile(spool);
                      });
  if (r.ok()) {
    v.blob_sha256 = r->sha256;
    return Status::Ok();
  }
  if (r.status().code() != StatusCode::kAlreadyExists) return r.status();
  // An earlier attempt got through before it was recorded: the same bytes must be there.
  if (v.blob_sha256.empty()) {
    Sha256Digest digest;
    if (in_db) {
      digest = Sha256(blob);
    } else {
      CV_ASSIGN_OR_RETURN(digest, Sha256OfPath(*env_, spool));
    }
    v.blob_sha256 = HexEncode(digest);
  }
  auto info = client.Head(v.object_id);
  return info.ok() && info->sha256 == v.blob_sha256
             ? Status::Ok()
             : FailedPreconditionError("the server holds a different object under " + v.object_id);
}

Status SyncEngine::FinishUpload(VersionRecord& v, const Status& s, PassResult& result) {
  if (s.ok() || s.reason() != "network") unreachable_since_ns_.reset();  // it answered
  if (!s.ok() && s.reason() == "network" && !unreachable_since_ns_) {
    unreachable_since_ns_ = env_->NowUnixNanos();
  }
  if (s.ok()) {
    CV_RETURN_IF_ERROR(db_->MarkUploaded(v.id, env_->NowUnixNanos(), v.blob_sha256));
    ++result.uploaded;
    Emit("file_uploaded", v.path);
    return Status::Ok();
  }
  if (s.code() == StatusCode::kNotFound && s.message().find(v.spool_path) != std::string::npos) {
    // The spool file is gone (e.g. cleaned by hand): encrypt again.
    return db_->Requeue(v.id);
  }
  if (IsRetryable(s)) {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    int64_t delay = options_.retry_base_ns << std::min(v.attempts, 20);
    delay = std::min(delay, options_.retry_max_ns);
    delay += static_cast<int64_t>((static_cast<double>(rng() % 1000) / 1000.0 - 0.5) * 0.5 *
                                  static_cast<double>(delay));
    CV_RETURN_IF_ERROR(db_->MarkRetry(v.id, s.ToString(), env_->NowUnixNanos() + delay));
    ++result.retrying;
    Emit("file_retry", v.path, s.ToString());
    return Status::Ok();
  }
  CV_RETURN_IF_ERROR(db_->MarkFailed(v.id, s.ToString()));
  ++result.failed;
  Emit("file_failed", v.path, s.ToString());
  return Status::Ok();
}

StatusOr<bool> SyncEngine::ProbeServer() {
  if (!unreachable_since_ns_ || !health_probe_ || !health_probe_().ok()) return false;
  unreachable_since_ns_.reset();
  CV_ASSIGN_OR_RETURN(int due, db_->MakeRetriesDue());
  Emit("server_back", "", std::to_string(due) + " uploads due now");
  return true;
}

bool SyncEngine::Stopping() const { return stop_ != nullptr && stop_->load(); }

// One batch of uploads in flight, a thread per connection, while the engine's thread
// encrypts the next batch. The destructor joins the threads.
struct SyncEngine::UploadJob {
  std::vector<VersionRecord> versions;
  std::vector<std::optional<Status>> outcome;  // preset when the epoch upload failed
  std::atomic<size_t> next{0};
  std::vector<std::thread> threads;
  ~UploadJob() {
    for (std::thread& t : threads) t.join();
  }
};

void SyncEngine::StartUploads(std::vector<VersionRecord> encrypted,
                              std::unique_ptr<UploadJob>& job) {
  job = std::make_unique<UploadJob>();
  job->versions = std::move(encrypted);
  // Each epoch's key object, once, before any file that uses it (on this thread: no upload
  // runs now). A file whose epoch failed gets that failure as its outcome.
  std::map<Bytes, Status> epochs;
  for (const VersionRecord& v : job->versions) {
    auto [it, added] = epochs.try_emplace(v.epoch_id);
    if (added) it->second = EnsureEpochUploaded(v.epoch_id);
    job->outcome.push_back(it->second.ok() ? std::nullopt : std::optional<Status>(it->second));
  }
  UploadJob* j = job.get();
  auto worker = [this, j](ObjectClient* client) {
    for (size_t i = j->next++; i < j->versions.size() && !Stopping(); i = j->next++) {
      if (!j->outcome[i].has_value()) j->outcome[i] = PutBlob(*client, j->versions[i]);
    }
  };
  j->threads.emplace_back(worker, client_);
  for (size_t t = 0; t < upload_clients_.size() && t + 1 < j->versions.size(); ++t) {
    j->threads.emplace_back(worker, upload_clients_[t]);
  }
}

Status SyncEngine::FinishUploads(std::unique_ptr<UploadJob>& job, PassResult& result) {
  if (job == nullptr) return Status::Ok();
  for (std::thread& t : job->threads) t.join();
  job->threads.clear();
  CV_ASSIGN_OR_RETURN(Transaction batch, db_->BeginBatch());
  std::vector<std::string> uploaded_spool;
  for (size_t i = 0; i < job->versions.size(); ++i) {
    if (!job->outcome[i].has_value()) continue;  // not attempted: stopping
    CV_RETURN_IF_ERROR(FinishUpload(job->versions[i], *job->outcome[i], result));
    if (job->outcome[i]->ok()) uploaded_spool.push_back(job->versions[i].spool_path);
  }
  CV_RETURN_IF_ERROR(batch.Commit());
  job.reset();
  // Only once the uploads are recorded: a spool file goes after its step is committed.
  for (const std::string& spool : uploaded_spool) RemoveSpoolFile(spool);
  return Status::Ok();
}

StatusOr<SyncEngine::PassResult> SyncEngine::ProcessDue() {
  PassResult result;
  if (Status vault = CheckVaultOnServer(); !vault.ok()) {
    if (!IsRetryable(vault)) return vault;
    // The server cannot be asked yet: what is due waits as if its upload had failed so.
    while (true) {
      CV_ASSIGN_OR_RETURN(std::vector<VersionRecord> due,
                          db_->DueVersions(env_->NowUnixNanos(), kBatchSize));
      if (due.empty()) return result;
      CV_ASSIGN_OR_RETURN(Transaction batch, db_->BeginBatch());
      for (VersionRecord& v : due) CV_RETURN_IF_ERROR(FinishUpload(v, vault, result));
      CV_RETURN_IF_ERROR(batch.Commit());
    }
  }
  std::unique_ptr<UploadJob> job;  // the previous batch's uploads, still running
  while (!Stopping()) {
    std::set<int64_t> in_flight;
    if (job != nullptr) {
      for (const VersionRecord& v : job->versions) in_flight.insert(v.id);
    }
    CV_ASSIGN_OR_RETURN(std::vector<VersionRecord> due,
                        db_->DueVersions(env_->NowUnixNanos(), kBatchSize + in_flight.size()));
    std::erase_if(due, [&](const VersionRecord& v) { return in_flight.count(v.id) > 0; });
    if (due.empty()) {
      if (job == nullptr) break;
      CV_RETURN_IF_ERROR(FinishUploads(job, result));
      continue;
    }
    // 0. Large files, one at a time, each uploaded while it is encrypted over the first
    // connection once the previous batch's uploads are recorded.
    auto large = [&](const VersionRecord& v) {
      return v.state == VersionState::kQueued && v.kind == format::Kind::kFile &&
             v.size >= options_.stream_from_bytes;
    };
    if (std::any_of(due.begin(), due.end(), large)) {
      CV_RETURN_IF_ERROR(FinishUploads(job, result));
      for (VersionRecord& v : due) {
        if (!large(v) || Stopping()) continue;
        Status s = StreamOne(v, result);
        // Disk full, or a spool that cannot be made durable: stop here.
        if (s.code() == StatusCode::kResourceExhausted || s.reason() == kSpoolNotDurable) {
          return s;
        }
        if (!s.ok()) {
          CV_RETURN_IF_ERROR(db_->MarkFailed(v.id, s.ToString()));
          ++result.failed;
          Emit("file_failed", v.path, s.ToString());
        }
      }
      continue;  // what is due now, without the streamed files
    }
    // 1. Encrypt what is queued into the spool, flush the batch once, record it. A few
    // files are each fsynced instead: a file system flush would also wait for everything
    // else dirty on the disk, which makes a single file's latency unpredictable.
    std::vector<VersionRecord*> spooled;
    const bool sync_each =
        !sync_file_system_ || std::count_if(due.begin(), due.end(), [](const VersionRecord& v) {
                                return v.state == VersionState::kQueued;
                              }) <= kSyncEachUpTo;
    for (VersionRecord& v : due) {
      if (v.state != VersionState::kQueued) continue;
      Status s = Spool(v, sync_each);
      if (!s.ok()) {
        // Disk full, or a spool file that cannot be made durable (as a failed flush of the
        // batch): stop here, nothing of the batch recorded.
        if (s.code() == StatusCode::kResourceExhausted || s.reason() == kSpoolNotDurable) {
          for (VersionRecord* done : spooled) RemoveSpoolFile(done->spool_path);
          CV_RETURN_IF_ERROR(FinishUploads(job, result));
          return s;
        }
        CV_RETURN_IF_ERROR(db_->MarkFailed(v.id, s.ToString()));
        ++result.failed;
        Emit("file_failed", v.path, s.ToString());
        continue;
      }
      if (!v.spool_path.empty()) spooled.push_back(&v);  // else superseded or re-detected
    }
    CV_RETURN_IF_ERROR(RecordSpooled(spooled, sync_each));
    // 2. The previous batch's outcomes are recorded, then this batch goes out over every
    // connection while the next one is encrypted.
    CV_RETURN_IF_ERROR(FinishUploads(job, result));
    std::vector<VersionRecord> encrypted;
    for (VersionRecord& v : due) {
      if (v.state != VersionState::kEncrypted) continue;
      if (v.spool_path == kSpoolInStateDb && v.spool_blob.empty()) {  // spooled in a past pass
        StatusOr<Bytes> blob = db_->SpooledBlob(v.id);
        if (!blob.ok() && blob.status().code() != StatusCode::kNotFound) return blob.status();
        if (!blob.ok()) {  // cannot happen while the trigger holds: encrypt it again
          CV_RETURN_IF_ERROR(db_->Requeue(v.id));
          continue;
        }
        v.spool_blob = std::move(*blob);
      }
      encrypted.push_back(std::move(v));
    }
    if (!encrypted.empty()) StartUploads(std::move(encrypted), job);
  }
  CV_RETURN_IF_ERROR(FinishUploads(job, result));
  return result;
}

}  // namespace cardvault
