// OpenServerStores: the index, byte store, token store, auth back-off and job lock that a
// server's configuration chooses (docs/server.md "Stores"), opened and checked.
#ifndef CARDVAULT_API_SERVER_STORES_H_
#define CARDVAULT_API_SERVER_STORES_H_

#include <memory>
#include <string>

#include "api/server_config.h"
#include "core/env.h"
#include "core/status_or.h"
#include "storage/auth_backoff.h"
#include "storage/byte_store.h"
#include "storage/indexed_blob_store.h"
#include "storage/job_lock.h"
#include "storage/object_index.h"
#include "storage/token_store.h"

namespace cardvault {

// What one instance uses. With a PostgreSQL index (config.index) every part but `bytes` is
// shared by all the instances on that database (`shared` is true): the index, the users and
// tokens, the auth back-off counts and the job lock; `bytes` is the same object store or
// directory for all of them. With "sqlite" everything is the data directory's, for one
// instance.
struct ServerStores {
  std::unique_ptr<ObjectIndex> index;
  std::unique_ptr<ByteStore> bytes;
  std::unique_ptr<TokenStore> tokens;
  std::unique_ptr<AuthBackoff> auth_backoff;
  std::unique_ptr<JobLock> jobs;  // retention purge and orphan sweep, one instance at a time
  bool shared = false;
};

enum class StoresFor {
  // `serve` and `init`: everything; the byte store drops writes a crash interrupted (every
  // tmp/*.part of a single node; only day-old ones of a directory other instances share).
  kServe,
  // `check` beside a running server: the index and the byte store (attached: nothing on
  // disk changes until asked), few connections.
  kCheck,
  // `user` and `token`: the index and the token store only (no byte store to reach), few
  // connections.
  kUsers,
};
// Opens (and migrates) the stores `config` chooses under `data_dir` (relative paths in the
// config, such as s3.credentials_file, are relative to it); what `use` does not need stays
// null. Errors say what to do: a
// PostgreSQL that cannot be reached or a connection string with a password
// ("password_in_config"), a bucket that cannot be reached, credentials that are not private,
// a build without PostgreSQL support ("postgresql_unsupported"). `env` MUST outlive them.
StatusOr<ServerStores> OpenServerStores(Env* env, const std::string& data_dir,
                                        const ServerConfig& config, StoresFor use);

// The IndexedBlobStore options of `config` (sizes, quota, retention, inline objects).
IndexedBlobStore::Options BlobStoreOptions(const ServerConfig& config);

// `path` as given if absolute, else under `data_dir`.
std::string ResolveDataPath(const std::string& data_dir, const std::string& path);

}  // namespace cardvault

#endif  // CARDVAULT_API_SERVER_STORES_H_
