// FileBlobStore::Check: every live object's size and SHA-256 against its index row, and the
// quarantine of the damaged ones (`cardvault-server check`).
#include <optional>
#include <utility>
#include <vector>

#include "api/file_blob_store.h"
#include "core/crypto.h"

namespace cardvault {
namespace {

// Index rows read per transaction: a check running beside a server never holds a read
// transaction for long (the WAL can be checkpointed between pages).
constexpr int64_t kPageRows = 256;

std::string Sizes(uint64_t found, uint64_t expected) {
  return std::to_string(found) + " bytes stored, " + std::to_string(expected) + " indexed";
}

}  // namespace

class FileBlobStore::Checker {
 public:
  Checker(Env* env, const std::string& data_dir, SqliteDb& db, const CheckOptions& options,
          const std::function<void(const DamagedObject&)>& on_damaged)
      : env_(env), data_dir_(data_dir), db_(db), options_(options), on_damaged_(on_damaged) {}

  StatusOr<CheckSummary> Run() {
    CheckSummary summary;
    int64_t after = 0;
    while (true) {
      CV_ASSIGN_OR_RETURN(std::vector<Entry> page, NextPage(after));
      if (page.empty()) return summary;
      after = page.back().seq;
      for (const Entry& e : page) {
        ++summary.objects;
        CV_ASSIGN_OR_RETURN(std::optional<DamagedObject> damaged, Verify(e, summary.bytes));
        if (!damaged.has_value()) continue;
        if (options_.quarantine && damaged->problem != "quarantined") {
          CV_RETURN_IF_ERROR(Quarantine(e, *damaged));
        }
        if (on_damaged_) on_damaged_(*damaged);
        summary.damaged.push_back(std::move(*damaged));
      }
    }
  }

 private:
  struct Entry {
    int64_t seq = 0;
    std::string user;
    std::string id;
    uint64_t size = 0;
    std::string sha256;
    std::string file;
    bool is_inline = false;
    std::string damaged;  // set by an earlier quarantine
  };

  StatusOr<std::vector<Entry>> NextPage(int64_t after_seq) {
    CV_ASSIGN_OR_RETURN(Statement stmt,
                        db_.Prepare("SELECT seq, user, id, size, sha256, file, data IS NOT NULL, "
                                    "IFNULL(damaged, '') FROM objects "
                                    "WHERE deleted IS NULL AND seq > ?1 ORDER BY seq LIMIT ?2"));
    CV_RETURN_IF_ERROR(stmt.BindInt64(1, after_seq));
    CV_RETURN_IF_ERROR(stmt.BindInt64(2, kPageRows));
    std::vector<Entry> page;
    while (true) {
      CV_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) return page;
      Entry e;
      e.seq = stmt.ColumnInt64(0);
      e.user = stmt.ColumnText(1);
      e.id = stmt.ColumnText(2);
      e.size = static_cast<uint64_t>(stmt.ColumnInt64(3));
      e.sha256 = stmt.ColumnText(4);
      e.file = stmt.ColumnText(5);
      e.is_inline = stmt.ColumnInt64(6) != 0;
      e.damaged = stmt.ColumnText(7);
      page.push_back(std::move(e));
    }
  }

  static std::optional<DamagedObject> Damaged(const Entry& e, std::string problem,
                                              std::string detail) {
    return DamagedObject{e.user, e.id, std::move(problem), std::move(detail), false};
  }

  // What is wrong with the object of `e`, or nullopt when it is whole. Adds the bytes
  // hashed to `hashed_bytes`.
  StatusOr<std::optional<DamagedObject>> Verify(const Entry& e, uint64_t& hashed_bytes) {
    if (!e.damaged.empty()) return Damaged(e, "quarantined", e.damaged);
    Sha256Digest digest;
    uint64_t found = 0;
    if (e.is_inline) {
      CV_ASSIGN_OR_RETURN(Bytes data, InlineData(e.seq));
      found = data.size();
      if (found != e.size) return Damaged(e, "size", Sizes(found, e.size));
      digest = Sha256(data);
    } else {
      const std::string path = BlobPathIn(data_dir_, e.file);
      StatusOr<FileInfo> info = env_->Stat(path);
      if (!info.ok() && info.status().code() == StatusCode::kNotFound) {
        return Damaged(e, "missing",
                       "its file is missing, " + std::to_string(e.size) + " bytes indexed");
      }
      CV_RETURN_IF_ERROR(info.status());
      if (info->size != e.size) return Damaged(e, "size", Sizes(info->size, e.size));
      CV_ASSIGN_OR_RETURN(digest, Sha256OfPath(*env_, path, &found));  // streamed
      if (found != e.size) return Damaged(e, "size", Sizes(found, e.size));
    }
    hashed_bytes += found;
    const std::string actual = HexEncode(digest);
    if (actual != e.sha256) {
      return Damaged(e, "sha256", "content SHA-256 " + actual + ", indexed " + e.sha256);
    }
    return std::optional<DamagedObject>();
  }

  StatusOr<Bytes> InlineData(int64_t seq) {
    CV_ASSIGN_OR_RETURN(Statement stmt, db_.Prepare("SELECT data FROM objects WHERE seq = ?1"));
    CV_RETURN_IF_ERROR(stmt.BindInt64(1, seq));
    CV_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return Bytes();  // purged meanwhile: nothing to hash
    return stmt.ColumnBlob(0);
  }

  // Marks the row damaged first (a server answers "object_damaged" from then on), then moves
  // the file aside; an inline object's bytes are copied aside first and leave the row in
  // the same update. A row retired meanwhile (replaced, deleted) is left alone.
  Status Quarantine(const Entry& e, DamagedObject& d) {
    const std::string dir = data_dir_ + "/quarantine";
    CV_RETURN_IF_ERROR(env_->CreateDirs(dir));
    const std::string what = d.problem + ": " + d.detail;
    if (e.is_inline) {
      CV_ASSIGN_OR_RETURN(Bytes data, InlineData(e.seq));
      const std::string copy = dir + "/" + std::to_string(e.seq) + "-" + e.id + ".inline";
      CV_ASSIGN_OR_RETURN(auto file, env_->NewWritableFile(copy, 0600));
      CV_RETURN_IF_ERROR(file->Append(data));
      CV_RETURN_IF_ERROR(file->Sync());
      CV_RETURN_IF_ERROR(file->Close());
      CV_ASSIGN_OR_RETURN(bool marked, Mark(e.seq, what, /*drop_data=*/true));
      d.quarantined_now = marked;
      return Status::Ok();
    }
    CV_ASSIGN_OR_RETURN(bool marked, Mark(e.seq, what, /*drop_data=*/false));
    if (!marked) return Status::Ok();
    d.quarantined_now = true;
    if (d.problem == "missing") return Status::Ok();
    Status moved = env_->RenameFile(BlobPathIn(data_dir_, e.file), dir + "/" + e.file);
    if (!moved.ok() && moved.code() != StatusCode::kNotFound) return moved;
    return env_->SyncDir(dir);
  }

  // Sets the row's `damaged` text if it is still live; returns whether it was.
  StatusOr<bool> Mark(int64_t seq, const std::string& what, bool drop_data) {
    CV_ASSIGN_OR_RETURN(
        Statement stmt,
        db_.Prepare(drop_data
                        ? "UPDATE objects SET damaged = ?2, data = NULL "
                          "WHERE seq = ?1 AND deleted IS NULL"
                        : "UPDATE objects SET damaged = ?2 WHERE seq = ?1 AND deleted IS NULL"));
    CV_RETURN_IF_ERROR(stmt.BindInt64(1, seq));
    CV_RETURN_IF_ERROR(stmt.BindText(2, what));
    CV_RETURN_IF_ERROR(stmt.Run());
    return db_.Changes() > 0;
  }

  Env* env_;
  const std::string& data_dir_;
  SqliteDb& db_;
  const CheckOptions& options_;
  const std::function<void(const DamagedObject&)>& on_damaged_;
};

StatusOr<FileBlobStore::CheckSummary> FileBlobStore::Check(
    Env* env, const std::string& data_dir, const CheckOptions& options,
    const std::function<void(const DamagedObject&)>& on_damaged) {
  if (!env->Stat(data_dir + "/index.db").ok()) {
    return FailedPreconditionError(data_dir + " has no index.db (not a data directory?)",
                                   "no_index");
  }
  CV_ASSIGN_OR_RETURN(auto db, OpenIndex(data_dir));
  return Checker(env, data_dir, *db, options, on_damaged).Run();
}

}  // namespace cardvault
