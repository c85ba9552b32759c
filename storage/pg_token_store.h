// PgTokenStore: TokenStore in PostgreSQL, shared by any number of server instances.
#ifndef CARDVAULT_STORAGE_PG_TOKEN_STORE_H_
#define CARDVAULT_STORAGE_PG_TOKEN_STORE_H_

#include <memory>
#include <string>

#include "core/env.h"
#include "storage/pg_pool.h"
#include "storage/token_store.h"

namespace cardvault {

// Tables cv_users and cv_tokens (SHA-256 digests only, as SqliteTokenStore), migrated by
// MigratePg (component "tokens"). Authenticate compares digests in constant time after
// looking the row up by id.
class PgTokenStore final : public TokenStore {
 public:
  struct Options {
    size_t pool_size = 4;
  };
  // `conninfo` is never logged. `env` MUST outlive the store.
  static StatusOr<std::unique_ptr<PgTokenStore>> Open(Env* env, const std::string& conninfo,
                                                      Options options);

  Status AddUser(std::string_view name) override;
  StatusOr<std::vector<std::string>> ListUsers() override;
  StatusOr<IssuedToken> Issue(std::string_view user, std::string_view device) override;
  Status Revoke(int64_t id) override;
  StatusOr<std::vector<TokenInfo>> List() override;
  StatusOr<std::string> Authenticate(std::string_view token) override;
  StatusOr<std::vector<UserRecord>> ExportUsers() override;
  StatusOr<std::vector<TokenRecord>> ExportTokens() override;
  Status ImportUser(const UserRecord& user) override;
  Status ImportToken(const TokenRecord& token) override;

 private:
  PgTokenStore(Env* env, std::unique_ptr<PgPool> pool) : env_(env), pool_(std::move(pool)) {}
  int64_t NowUnix() const { return env_->NowUnixNanos() / 1000000000; }
  // ImportToken's steps, inside its transaction on `conn`.
  Status ImportTokenOn(PgConn& conn, const TokenRecord& token);

  Env* env_;
  std::unique_ptr<PgPool> pool_;
};

}  // namespace cardvault

#endif  // CARDVAULT_STORAGE_PG_TOKEN_STORE_H_
