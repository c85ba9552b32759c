// OpenServerStores: SQLite and files, or PostgreSQL and files or S3.
#include "api/server_stores.h"

#include "api/auth_limiter.h"
#include "storage/file_byte_store.h"
#include "storage/s3_byte_store.h"
#include "storage/sqlite_object_index.h"
#include "storage/sqlite_token_store.h"
#ifdef CARDVAULT_HAVE_PG
#include "storage/pg_auth_backoff.h"
#include "storage/pg_job_lock.h"
#include "storage/pg_object_index.h"
#include "storage/pg_pool.h"
#include "storage/pg_token_store.h"
#endif

namespace cardvault {
namespace {

// Partial writes younger than this in a shared directory may be another instance's upload.
constexpr int64_t kSharedPartialMaxAgeSeconds = 24 * 3600;

AuthBackoffPolicy BackoffPolicy(const ServerConfig& config) {
  return AuthBackoffPolicy{config.auth_failures_before_backoff, config.auth_failure_window_seconds,
                           config.auth_backoff_seconds};
}

// The S3 byte store of config.s3 (its credentials read from their file; checks the bucket).
StatusOr<std::unique_ptr<ByteStore>> OpenS3(Env* env, const std::string& data_dir,
                                            const ServerS3Config& s3) {
  S3ByteStoreOptions options;
  options.endpoint = s3.endpoint;
  options.bucket = s3.bucket;
  options.region = s3.region;
  options.prefix = s3.prefix;
  options.ca_file = s3.ca_file.empty() ? "" : ResolveDataPath(data_dir, s3.ca_file);
  options.multipart_threshold_bytes = s3.multipart_threshold_bytes;
  options.part_bytes = s3.part_bytes;
  options.parts_in_flight = s3.parts_in_flight;
  CV_RETURN_IF_ERROR(
      LoadS3Credentials(*env, ResolveDataPath(data_dir, s3.credentials_file), options));
  return NewS3ByteStore(std::move(options));
}

StatusOr<std::unique_ptr<ByteStore>> OpenBytes(Env* env, const std::string& data_dir,
                                               const ServerConfig& config, bool shared,
                                               StoresFor use) {
  if (config.bytes == "s3") return OpenS3(env, data_dir, config.s3);
  if (use == StoresFor::kCheck) {
    // Attached: a running server's uploads in tmp/ stay.
    std::unique_ptr<ByteStore> attached = FileByteStore::Attach(env, data_dir);
    return attached;
  }
  CV_ASSIGN_OR_RETURN(auto files,
                      FileByteStore::Open(env, data_dir, shared ? kSharedPartialMaxAgeSeconds : 0));
  return std::unique_ptr<ByteStore>(std::move(files));
}

Status OpenSqlite(Env* env, const std::string& data_dir, const ServerConfig& config,
                  ServerStores& stores) {
  CV_ASSIGN_OR_RETURN(stores.index, SqliteObjectIndex::Open(data_dir + "/index.db"));
  CV_ASSIGN_OR_RETURN(stores.tokens, SqliteTokenStore::Open(env, data_dir + "/auth.db"));
  const AuthBackoffPolicy policy = BackoffPolicy(config);
  stores.auth_backoff =
      std::make_unique<AuthLimiter>(policy.max_failures, static_cast<int>(policy.window_seconds),
                                    static_cast<int>(policy.backoff_seconds));
  stores.jobs = NewLocalJobLock();
  return Status::Ok();
}

#ifdef CARDVAULT_HAVE_PG
Status OpenPg(Env* env, const ServerConfig& config, StoresFor use, ServerStores& stores) {
  CV_RETURN_IF_ERROR(PgPool::CheckConnInfo(config.index));
  // An admin command makes a few requests: it needs no pool.
  const size_t pool = use == StoresFor::kServe ? static_cast<size_t>(config.index_pool_size) : 2;
  CV_ASSIGN_OR_RETURN(stores.index, PgObjectIndex::Open(config.index, {pool}));
  // Every request authenticates: the token store gets half as many connections.
  CV_ASSIGN_OR_RETURN(stores.tokens,
                      PgTokenStore::Open(env, config.index, {std::max<size_t>(pool / 2, 2)}));
  CV_ASSIGN_OR_RETURN(stores.auth_backoff,
                      PgAuthBackoff::Open(config.index, BackoffPolicy(config)));
  CV_ASSIGN_OR_RETURN(stores.jobs, PgJobLock::Open(config.index));
  stores.shared = true;
  return Status::Ok();
}
#else
Status OpenPg(Env*, const ServerConfig&, StoresFor, ServerStores&) {
  return UnsupportedError(
      "this cardvault-server was built without PostgreSQL support (libpq-dev missing at build "
      "time): use \"index\": \"sqlite\" or a build with libpq",
      "postgresql_unsupported");
}
#endif

}  // namespace

std::string ResolveDataPath(const std::string& data_dir, const std::string& path) {
  return !path.empty() && path[0] == '/' ? path : data_dir + "/" + path;
}

IndexedBlobStore::Options BlobStoreOptions(const ServerConfig& config) {
  IndexedBlobStore::Options options;
  options.max_object_bytes = config.max_object_bytes;
  options.quota_bytes = config.quota_bytes;
  options.retained_quota_percent = config.retained_quota_percent;
  options.retention_seconds = config.retention_seconds;
  options.inline_max_bytes = config.inline_max_bytes;
  return options;
}

StatusOr<ServerStores> OpenServerStores(Env* env, const std::string& data_dir,
                                        const ServerConfig& config, StoresFor use) {
  ServerStores stores;
  if (config.uses_postgresql()) {
    CV_RETURN_IF_ERROR(OpenPg(env, config, use, stores));
  } else {
    CV_RETURN_IF_ERROR(OpenSqlite(env, data_dir, config, stores));
  }
  if (use != StoresFor::kUsers) {
    CV_ASSIGN_OR_RETURN(stores.bytes, OpenBytes(env, data_dir, config, stores.shared, use));
  }
  return stores;
}

}  // namespace cardvault
