// SqliteTokenStore: TokenStore in SQLite (auth.db), tokens stored only as SHA-256 digests.
#ifndef CARDVAULT_STORAGE_SQLITE_TOKEN_STORE_H_
#define CARDVAULT_STORAGE_SQLITE_TOKEN_STORE_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/env.h"
#include "storage/sqlite_db.h"
#include "storage/token_store.h"

namespace cardvault {

// Users and tokens of one server (auth.db in the data directory). A token is
// "cvt_<id>_<secret>"; the database keeps SHA-256(token) only, and Authenticate compares
// digests in constant time after looking the row up by id. Thread-safe.
class SqliteTokenStore final : public TokenStore {
 public:
  // Opens (creating and migrating) the database at `path`. `env` MUST outlive the store.
  static StatusOr<std::unique_ptr<SqliteTokenStore>> Open(Env* env, const std::string& path);

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
  SqliteTokenStore(Env* env, std::unique_ptr<SqliteDb> db) : env_(env), db_(std::move(db)) {}

  Env* env_;
  std::mutex mu_;
  std::unique_ptr<SqliteDb> db_;
};

}  // namespace cardvault

#endif  // CARDVAULT_STORAGE_SQLITE_TOKEN_STORE_H_
