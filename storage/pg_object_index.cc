// PgObjectIndex implementation: the index's SQL for PostgreSQL, versioned migrations, a
// per-user transaction lock for the isolation the SQLite index gets from its one writer.
#include "storage/pg_object_index.h"

#include <array>
#include <limits>
#include <map>
#include <set>
#include <string_view>

#include "storage/pg_migrations.h"

namespace cardvault {
namespace {

// Applied in order, each once (MigratePg, component "index"); never edited once released, only
// appended to. Ids sort byte-wise (COLLATE "C") whatever the database's locale, as in SQLite.
constexpr std::array<std::string_view, 2> kMigrations = {
    R"sql(
CREATE TABLE objects (
  seq BIGSERIAL PRIMARY KEY,
  "user" TEXT NOT NULL,
  id TEXT COLLATE "C" NOT NULL,
  kind INTEGER NOT NULL,
  size BIGINT NOT NULL,
  sha256 TEXT NOT NULL,
  created BIGINT NOT NULL,
  deleted BIGINT,
  file TEXT NOT NULL,
  data BYTEA,
  damaged TEXT
);
CREATE UNIQUE INDEX objects_live ON objects ("user", id) WHERE deleted IS NULL;
CREATE INDEX objects_deleted ON objects (deleted) WHERE deleted IS NOT NULL;
CREATE INDEX objects_file ON objects (file);
CREATE TABLE usage (
  "user" TEXT PRIMARY KEY,
  live_bytes BIGINT NOT NULL DEFAULT 0,
  retained_bytes BIGINT NOT NULL DEFAULT 0,
  quota_bytes BIGINT
);
)sql",
    // A version imported from another index (`cardvault-server migrate`): its number there.
    R"sql(
ALTER TABLE objects ADD COLUMN origin BIGINT;
CREATE UNIQUE INDEX objects_origin ON objects ("user", origin) WHERE origin IS NOT NULL;
)sql",
};

constexpr int kBatchAttempts = 5;

constexpr std::string_view kVersionColumns =
    "seq, \"user\", id, kind, size, sha256, created, file, data IS NOT NULL, "
    "COALESCE(damaged, ''), deleted";
constexpr int kFirstExtraColumn = 11;

std::string Select(std::string_view extra, std::string_view rest) {
  std::string sql = "SELECT " + std::string(kVersionColumns);
  if (!extra.empty()) sql += ", " + std::string(extra);
  return sql + " FROM objects " + std::string(rest);
}

IndexedVersion ReadVersion(const PgRows& rows, int r) {
  IndexedVersion v;
  v.version = rows.Int(r, 0);
  v.user = rows.Text(r, 1);
  v.info.id = rows.Text(r, 2);
  v.info.kind = static_cast<ObjectKind>(rows.Int(r, 3));
  v.info.size = static_cast<uint64_t>(rows.Int(r, 4));
  v.info.sha256 = rows.Text(r, 5);
  v.info.created_unix = rows.Int(r, 6);
  v.byte_key = rows.Text(r, 7);
  v.is_inline = rows.Text(r, 8) == "t";
  v.damaged = rows.Text(r, 9);
  if (!rows.IsNull(r, 10)) v.retired_unix = rows.Int(r, 10);
  return v;
}

int64_t Signed(uint64_t v) { return static_cast<int64_t>(v); }

bool Retryable(const Status& s) { return s.reason() == "pg_40001" || s.reason() == "pg_40P01"; }

constexpr std::string_view kLockSql = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))";
constexpr std::string_view kUsageSql =
    "SELECT live_bytes, quota_bytes, retained_bytes FROM usage WHERE \"user\" = $1";

const std::string& FindLiveSql(bool with_data) {
  static const std::string kWith =
      Select("data", "WHERE \"user\" = $1 AND id = $2 AND deleted IS NULL");
  static const std::string kWithout =
      Select("", "WHERE \"user\" = $1 AND id = $2 AND deleted IS NULL");
  return with_data ? kWith : kWithout;
}

std::optional<IndexedVersion> ReadLive(const PgRows& rows, bool with_data) {
  if (rows.size() == 0) return std::nullopt;
  IndexedVersion v = ReadVersion(rows, 0);
  if (with_data && v.is_inline) v.data = rows.Blob(0, kFirstExtraColumn);
  return v;
}

UserUsage ReadUsage(const PgRows& rows) {
  UserUsage usage;
  if (rows.size() == 0) return usage;
  usage.live_bytes = static_cast<uint64_t>(rows.Int(0, 0));
  if (!rows.IsNull(0, 1)) usage.quota_bytes = static_cast<uint64_t>(rows.Int(0, 1));
  usage.retained_bytes = static_cast<uint64_t>(rows.Int(0, 2));
  return usage;
}

StatusOr<std::optional<IndexedVersion>> FindLiveOn(PgConn& conn, std::string_view user,
                                                   std::string_view id, bool with_data) {
  CV_ASSIGN_OR_RETURN(PgRows rows,
                      conn.Run(FindLiveSql(with_data), {PgParam::Of(user), PgParam::Of(id)}));
  return ReadLive(rows, with_data);
}

StatusOr<UserUsage> UsageOn(PgConn& conn, std::string_view user) {
  CV_ASSIGN_OR_RETURN(PgRows rows, conn.Run(kUsageSql, {PgParam::Of(user)}));
  return ReadUsage(rows);
}

StatusOr<std::vector<IndexedVersion>> Versions(const PgRows& rows, bool with_data = false) {
  std::vector<IndexedVersion> out;
  out.reserve(static_cast<size_t>(rows.size()));
  for (int r = 0; r < rows.size(); ++r) {
    out.push_back(ReadVersion(rows, r));
    if (with_data && out.back().is_inline) out.back().data = rows.Blob(r, kFirstExtraColumn);
  }
  return out;
}

StatusOr<std::optional<IndexedVersion>> FindImportedOn(PgConn& conn, std::string_view user,
                                                       int64_t origin) {
  static const std::string kSql = Select("", "WHERE \"user\" = $1 AND origin = $2");
  CV_ASSIGN_OR_RETURN(PgRows rows, conn.Run(kSql, {PgParam::Of(user), PgParam::Of(origin)}));
  if (rows.size() == 0) return std::optional<IndexedVersion>();
  return std::optional<IndexedVersion>(ReadVersion(rows, 0));
}

// One version of Import, inside its transaction, under its user's lock.
StatusOr<ImportResult> ImportOn(PgConn& conn, const IndexedVersion& v) {
  if (v.version <= 0) return InvalidArgumentError("an imported version needs its origin number");
  CV_RETURN_IF_ERROR(conn.Run(kLockSql, {PgParam::Of(v.user)}).status());
  CV_ASSIGN_OR_RETURN(std::optional<IndexedVersion> before,
                      FindImportedOn(conn, v.user, v.version));
  if (before.has_value()) return ImportResult{std::move(*before), false};
  if (!v.retired_unix.has_value()) {
    CV_ASSIGN_OR_RETURN(auto live, FindLiveOn(conn, v.user, v.info.id, false));
    if (live.has_value()) return AlreadyExistsError("object exists", "object_exists");
  }
  CV_ASSIGN_OR_RETURN(
      PgRows inserted,
      conn.Run(
          "INSERT INTO objects (\"user\", id, kind, size, sha256, created, deleted, file, "
          "data, damaged, origin) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
          "RETURNING seq",
          {PgParam::Of(v.user), PgParam::Of(v.info.id),
           PgParam::Of(static_cast<int64_t>(v.info.kind)), PgParam::Of(Signed(v.info.size)),
           PgParam::Of(v.info.sha256), PgParam::Of(v.info.created_unix),
           v.retired_unix ? PgParam::Of(*v.retired_unix) : PgParam::Null(), PgParam::Of(v.byte_key),
           PgParam::Of(v.is_inline ? &v.data : nullptr),
           v.damaged.empty() ? PgParam::Null() : PgParam::Of(v.damaged), PgParam::Of(v.version)}));
  const bool live = !v.retired_unix.has_value();
  CV_RETURN_IF_ERROR(conn.Run("INSERT INTO usage (\"user\", live_bytes, retained_bytes) "
                              "VALUES ($1, $2, $3) ON CONFLICT (\"user\") DO UPDATE SET "
                              "live_bytes = usage.live_bytes + EXCLUDED.live_bytes, "
                              "retained_bytes = usage.retained_bytes + EXCLUDED.retained_bytes",
                              {PgParam::Of(v.user), PgParam::Of(live ? Signed(v.info.size) : 0),
                               PgParam::Of(live ? 0 : Signed(v.info.size))})
                         .status());
  ImportResult result{v, true};
  result.version.version = inserted.Int(0, 0);
  result.version.data.clear();
  return result;
}

}  // namespace

// The steps of one attempt at a batch, on one connection inside BEGIN ... COMMIT.
class PgObjectIndex::Txn final : public IndexTransaction {
 public:
  explicit Txn(PgConn& conn) : conn_(conn) {}

  // A step runs in its own savepoint, and rolling one back releases the locks taken in it:
  // every step takes its users' locks again (cheap when the transaction still holds them).
  void NewStep() {
    locked_.clear();
    usage_.clear();
  }

  // The first touch of a user in a step sends the lock, this read and the user's usage in
  // one round trip (a pipeline), and keeps the usage for the step's Usage. Under READ
  // COMMITTED every statement takes its snapshot when it starts, and the server runs a
  // pipeline's statements one after the other: both reads start once the lock is held, so
  // they see every step on this user that committed before it, as if sent one by one. The
  // kept usage stays true until this step writes the user (RetireLive, Insert drop it).
  StatusOr<std::optional<IndexedVersion>> FindLive(std::string_view user,
                                                   std::string_view id) override {
    if (locked_.contains(std::string(user))) return FindLiveOn(conn_, user, id, false);
    const PgStatement statements[] = {{kLockSql, {PgParam::Of(user)}},
                                      {FindLiveSql(false), {PgParam::Of(user), PgParam::Of(id)}},
                                      {kUsageSql, {PgParam::Of(user)}}};
    CV_ASSIGN_OR_RETURN(std::vector<PgRows> rows, conn_.RunPipeline(statements));
    locked_.insert(std::string(user));
    usage_[std::string(user)] = ReadUsage(rows[2]);
    return ReadLive(rows[1], false);
  }
  StatusOr<UserUsage> Usage(std::string_view user) override {
    if (auto kept = usage_.find(std::string(user)); kept != usage_.end()) return kept->second;
    if (locked_.contains(std::string(user))) return UsageOn(conn_, user);
    const PgStatement statements[] = {{kLockSql, {PgParam::Of(user)}},
                                      {kUsageSql, {PgParam::Of(user)}}};
    CV_ASSIGN_OR_RETURN(std::vector<PgRows> rows, conn_.RunPipeline(statements));
    locked_.insert(std::string(user));
    return ReadUsage(rows[1]);
  }
  // One statement: the version leaves the live bytes and joins the retained ones.
  StatusOr<bool> RetireLive(std::string_view user, std::string_view id, int64_t now_unix) override {
    CV_RETURN_IF_ERROR(Lock(user));
    usage_.erase(std::string(user));
    CV_ASSIGN_OR_RETURN(
        PgRows rows,
        conn_.Run("WITH r AS (UPDATE objects SET deleted = $3 WHERE \"user\" = $1 AND id = $2 "
                  "AND deleted IS NULL RETURNING size), u AS (UPDATE usage SET "
                  "live_bytes = usage.live_bytes - r.size, retained_bytes = "
                  "usage.retained_bytes + r.size FROM r WHERE usage.\"user\" = $1) "
                  "SELECT size FROM r",
                  {PgParam::Of(user), PgParam::Of(id), PgParam::Of(now_unix)}));
    return rows.size() > 0;
  }
  // One statement: the row and its live bytes.
  Status Insert(const NewVersion& v, int64_t now_unix) override {
    CV_RETURN_IF_ERROR(Lock(v.user));
    usage_.erase(std::string(v.user));
    return conn_
        .Run(
            "WITH ins AS (INSERT INTO objects (\"user\", id, kind, size, sha256, created, "
            "file, data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)) INSERT INTO usage "
            "(\"user\", live_bytes) VALUES ($1, $4) ON CONFLICT (\"user\") DO UPDATE SET "
            "live_bytes = usage.live_bytes + EXCLUDED.live_bytes",
            {PgParam::Of(v.user), PgParam::Of(v.id), PgParam::Of(static_cast<int64_t>(v.kind)),
             PgParam::Of(Signed(v.size)), PgParam::Of(v.sha256), PgParam::Of(now_unix),
             PgParam::Of(v.byte_key), PgParam::Of(v.data)})
        .status();
  }

 private:
  // Steps on one user run one after the other, on every instance (see the class comment).
  Status Lock(std::string_view user) {
    if (!locked_.insert(std::string(user)).second) return Status::Ok();
    Status locked = conn_.Run(kLockSql, {PgParam::Of(user)}).status();
    if (!locked.ok()) locked_.erase(std::string(user));
    return locked;
  }

  PgConn& conn_;
  std::set<std::string> locked_;
  std::map<std::string, UserUsage> usage_;  // read with the lock, this step (see FindLive)
};

StatusOr<std::unique_ptr<PgObjectIndex>> PgObjectIndex::Open(const std::string& conninfo,
                                                             Options options) {
  CV_ASSIGN_OR_RETURN(auto pool, PgPool::Create(conninfo, options.pool_size));
  CV_RETURN_IF_ERROR(MigratePg(*pool, "index", kMigrations));
  return std::unique_ptr<PgObjectIndex>(new PgObjectIndex(std::move(pool)));
}

Status PgObjectIndex::TryBatch(PgConn& conn, std::span<const IndexStep* const> steps,
                               std::span<Status> results) {
  if (steps.empty()) return Status::Ok();
  // A savepoint per step: one that fails halfway leaves no trace in the batch. The control
  // statements between steps share one round trip (PQexec stops at the first that fails and
  // returns its error). The last step's savepoint is released before COMMIT, not left to it:
  // COMMIT of an aborted transaction answers "ROLLBACK" without an error, RELEASE fails.
  CV_RETURN_IF_ERROR(conn.Exec("BEGIN; SAVEPOINT step"));
  Txn txn(conn);
  for (size_t i = 0; i < steps.size(); ++i) {
    txn.NewStep();
    results[i] = (*steps[i])(txn);
    if (Retryable(results[i])) return results[i];  // the whole batch again
    std::string control =
        results[i].ok() ? "RELEASE SAVEPOINT step; " : "ROLLBACK TO SAVEPOINT step; ";
    control += i + 1 < steps.size() ? "SAVEPOINT step" : "COMMIT";
    CV_RETURN_IF_ERROR(conn.Exec(control));
  }
  return Status::Ok();
}

Status PgObjectIndex::Probe() {
  StatusOr<std::unique_ptr<PgConn>> conn = pool_->Acquire();
  Status s = conn.ok() ? (*conn)->Run("SELECT 1").status() : conn.status();
  if (s.ok()) return s;
  return UnavailableError("PostgreSQL does not answer: " + s.ToString(), "index_unavailable");
}

Status PgObjectIndex::WriteBatch(std::span<const IndexStep* const> steps,
                                 std::span<Status> results) {
  if (steps.size() != results.size()) return InvalidArgumentError("one result per step");
  Status status;
  for (int attempt = 0; attempt < kBatchAttempts; ++attempt) {
    CV_ASSIGN_OR_RETURN(auto conn, pool_->Acquire());
    status = TryBatch(*conn, steps, results);
    if (status.ok()) return status;
    conn->Exec("ROLLBACK").IgnoreError();
    if (!Retryable(status)) break;
  }
  for (Status& result : results) result = status;
  return status;
}

StatusOr<IndexedVersion> PgObjectIndex::FindLive(std::string_view user, std::string_view id,
                                                 bool with_data) {
  CV_ASSIGN_OR_RETURN(auto conn, pool_->Acquire());
  CV_ASSIGN_OR_RETURN(std::optional<IndexedVersion> found, FindLiveOn(*conn, user, id, with_data));
  if (!found.has_value()) return NotFoundError("no such object", "no_such_object");
  return std::move(*found);
}

StatusOr<UserUsage> PgObjectIndex::Usage(std::string_view user) {
  CV_ASSIGN_OR_RETURN(auto conn, pool_->Acquire());
  return UsageOn(*conn, user);
}

StatusOr<LiveAndUsage> PgObjectIndex::FindLiveAndUsage(std::string_view user, std::string_view id) {
  CV_ASSIGN_OR_RETURN(auto conn, pool_->Acquire());
  const PgStatement statements[] = {{FindLiveSql(false), {PgParam::Of(user), PgParam::Of(id)}},
                                    {kUsageSql, {PgParam::Of(user)}}};
  CV_ASSIGN_OR_RETURN(std::vector<PgRows> rows, conn->RunPipeline(statements));
  return LiveAndUsage{ReadLive(rows[0], false), ReadUsage(rows[1])};
}

Status PgObjectIndex::SetQuota(std::string_view user, std::optional<uint64_t> quota_bytes) {
  if (quota_bytes.has_value() &&
      *quota_bytes > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return InvalidArgumentError("quota too large");
  }
  CV_ASSIGN_OR_RETURN(auto conn, pool_->Acquire());
  return conn
      ->Run(
          "INSERT INTO usage (\"user\", live_bytes, quota_bytes) VALUES ($1, 0, $2) "
          "ON CONFLICT (\"user\") DO UPDATE SET quota_bytes = EXCLUDED.quota_bytes",
          {PgParam::Of(user),
           quota_bytes.has_value() ? PgParam::Of(Signed(*quota_bytes)) : PgParam::Null()})
      .status();
}

StatusOr<ListPage> PgObjectIndex::List(std::string_view user, const ListOptions& options) {
  CV_ASSIGN_OR_RETURN(auto conn, pool_->Acquire());
  // 'g' sorts after every hex digit, so prefix + "g" bounds the ids with that prefix.
  CV_ASSIGN_OR_RETURN(
      PgRows rows,
      conn->Run("SELECT id, kind, size, sha256, created FROM objects WHERE \"user\" = $1 AND "
                "deleted IS NULL AND id > $2 AND id >= $3 AND id < $4 AND "
                "($5::integer < 0 OR kind = $5::integer) ORDER BY id LIMIT $6",
                {PgParam::Of(user), PgParam::Of(options.after), PgParam::Of(options.prefix),
                 PgParam::Of(options.prefix + "g"),
                 PgParam::Of(options.kind.has_value() ? static_cast<int64_t>(*options.kind)
                                                      : int64_t{-1}),
                 PgParam::Of(static_cast<int64_t>(options.limit + 1))}));
  ListPage page;
  for (int r = 0; r < rows.size(); ++r) {
    if (page.objects.size() == options.limit) {
      page.truncated = true;
      break;
    }
    page.objects.push_back(ObjectInfo{rows.Text(r, 0), static_cast<ObjectKind>(rows.Int(r, 1)),
                                      static_cast<uint64_t>(rows.Int(r, 2)), rows.Text(r, 3),
                                      rows.Int(r, 4)});
  }
  return page;
}

StatusOr<std::vector<IndexedVersion>> PgObjectIndex::Expired(int64_t retired_at_or_before_unix,
                                                             size_t limit) {
  static const std::string kSql =
      Select("", "WHERE deleted IS NOT NULL AND deleted <= $1 LIMIT $2");
  CV_ASSIGN_OR_RETURN(auto conn, pool_->Acquire());
  CV_ASSIGN_OR_RETURN(PgRows rows, conn->Run(kSql, {PgParam::Of(retired_at_or_before_unix),
                                                    PgParam::Of(static_cast<int64_t>(limit))}));
  return Versions(rows);
}

Status PgObjectIndex::Forget(int64_t version) {
  CV_ASSIGN_OR_RETURN(auto conn, pool_->Acquire());
  // One statement: the row and its retained bytes go together.
  return conn
      ->Run(
          "WITH gone AS (DELETE FROM objects WHERE seq = $1 AND deleted IS NOT NULL "
          "RETURNING \"user\", size) UPDATE usage SET retained_bytes = "
          "usage.retained_bytes - gone.size FROM gone WHERE usage.\"user\" = gone.\"user\"",
          {PgParam::Of(version)})
      .status();
}

StatusOr<bool> PgObjectIndex::References(std::string_view byte_key) {
  CV_ASSIGN_OR_RETURN(auto conn, pool_->Acquire());
  CV_ASSIGN_OR_RETURN(PgRows rows, conn->Run("SELECT 1 FROM objects WHERE file = $1 LIMIT 1",
                                             {PgParam::Of(byte_key)}));
  return rows.size() > 0;
}

StatusOr<std::vector<IndexedVersion>> PgObjectIndex::LivePage(int64_t after_version, size_t limit) {
  static const std::string kSql =
      Select("", "WHERE deleted IS NULL AND seq > $1 ORDER BY seq LIMIT $2");
  CV_ASSIGN_OR_RETURN(auto conn, pool_->Acquire());
  CV_ASSIGN_OR_RETURN(PgRows rows, conn->Run(kSql, {PgParam::Of(after_version),
                                                    PgParam::Of(static_cast<int64_t>(limit))}));
  return Versions(rows);
}

StatusOr<std::optional<Bytes>> PgObjectIndex::InlineData(int64_t version) {
  CV_ASSIGN_OR_RETURN(auto conn, pool_->Acquire());
  CV_ASSIGN_OR_RETURN(PgRows rows,
                      conn->Run("SELECT data FROM objects WHERE seq = $1", {PgParam::Of(version)}));
  if (rows.size() == 0 || rows.IsNull(0, 0)) return std::optional<Bytes>();
  return std::optional<Bytes>(rows.Blob(0, 0));
}

StatusOr<bool> PgObjectIndex::MarkDamaged(int64_t version, std::string_view what, bool drop_data) {
  CV_ASSIGN_OR_RETURN(auto conn, pool_->Acquire());
  CV_ASSIGN_OR_RETURN(
      PgRows rows,
      conn->Run(drop_data ? "UPDATE objects SET damaged = $2, data = NULL "
                            "WHERE seq = $1 AND deleted IS NULL"
                          : "UPDATE objects SET damaged = $2 WHERE seq = $1 AND deleted IS NULL",
                {PgParam::Of(version), PgParam::Of(what)}));
  return rows.affected() > 0;
}

StatusOr<std::vector<IndexedVersion>> PgObjectIndex::VersionPage(int64_t after_version,
                                                                 size_t limit, bool with_data) {
  static const std::string kWith = Select("data", "WHERE seq > $1 ORDER BY seq LIMIT $2");
  static const std::string kWithout = Select("", "WHERE seq > $1 ORDER BY seq LIMIT $2");
  CV_ASSIGN_OR_RETURN(auto conn, pool_->Acquire());
  CV_ASSIGN_OR_RETURN(PgRows rows, conn->Run(with_data ? kWith : kWithout,
                                             {PgParam::Of(after_version),
                                              PgParam::Of(static_cast<int64_t>(limit))}));
  return Versions(rows, with_data);
}

StatusOr<std::vector<std::pair<std::string, uint64_t>>> PgObjectIndex::OwnQuotas() {
  CV_ASSIGN_OR_RETURN(auto conn, pool_->Acquire());
  CV_ASSIGN_OR_RETURN(PgRows rows,
                      conn->Run("SELECT \"user\", quota_bytes FROM usage WHERE "
                                "quota_bytes IS NOT NULL ORDER BY \"user\" COLLATE \"C\""));
  std::vector<std::pair<std::string, uint64_t>> quotas;
  for (int r = 0; r < rows.size(); ++r) {
    quotas.emplace_back(rows.Text(r, 0), static_cast<uint64_t>(rows.Int(r, 1)));
  }
  return quotas;
}

StatusOr<VersionCounts> PgObjectIndex::CountVersions(std::string_view user) {
  CV_ASSIGN_OR_RETURN(auto conn, pool_->Acquire());
  CV_ASSIGN_OR_RETURN(PgRows rows, conn->Run("SELECT COUNT(*), COUNT(origin) FROM objects "
                                             "WHERE \"user\" = $1",
                                             {PgParam::Of(user)}));
  return VersionCounts{static_cast<uint64_t>(rows.Int(0, 0)),
                       static_cast<uint64_t>(rows.Int(0, 1))};
}

StatusOr<std::optional<IndexedVersion>> PgObjectIndex::FindImported(std::string_view user,
                                                                    int64_t origin) {
  CV_ASSIGN_OR_RETURN(auto conn, pool_->Acquire());
  return FindImportedOn(*conn, user, origin);
}

StatusOr<std::vector<ImportResult>> PgObjectIndex::Import(
    std::span<const IndexedVersion> versions) {
  Status status;
  for (int attempt = 0; attempt < kBatchAttempts; ++attempt) {
    CV_ASSIGN_OR_RETURN(auto conn, pool_->Acquire());
    status = conn->Exec("BEGIN");
    std::vector<ImportResult> results;
    for (size_t i = 0; status.ok() && i < versions.size(); ++i) {
      StatusOr<ImportResult> r = ImportOn(*conn, versions[i]);
      status = r.status();
      if (r.ok()) results.push_back(std::move(*r));
    }
    if (status.ok()) status = conn->Exec("COMMIT");
    if (status.ok()) return results;
    conn->Exec("ROLLBACK").IgnoreError();
    if (!Retryable(status)) break;
  }
  return status;
}

}  // namespace cardvault
