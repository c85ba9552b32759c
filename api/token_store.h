// TokenStore: users and their bearer tokens, stored only as SHA-256 digests in SQLite.
#ifndef CARDVAULT_API_TOKEN_STORE_H_
#define CARDVAULT_API_TOKEN_STORE_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/env.h"
#include "core/secret_data.h"
#include "storage/sqlite_db.h"

namespace cardvault {

struct TokenInfo {
  int64_t id = 0;
  std::string user;
  std::string device;
  int64_t created_unix = 0;
  bool revoked = false;
};

struct IssuedToken {
  int64_t id = 0;
  // "cvt_<id>_<64 hex>": shown to the user once, never stored, never logged.
  SecretData token;
};

// Users and tokens of one server (auth.db in the data directory). A token is
// "cvt_<id>_<secret>"; the database keeps SHA-256(token) only, and Authenticate compares
// digests in constant time after looking the row up by id. Thread-safe.
class TokenStore {
 public:
  // Opens (creating and migrating) the database at `path`. `env` MUST outlive the store.
  static StatusOr<std::unique_ptr<TokenStore>> Open(Env* env, const std::string& path);

  // kInvalidArgument ("bad_user_name") unless IsValidUserName; kAlreadyExists if present.
  Status AddUser(std::string_view name);
  StatusOr<std::vector<std::string>> ListUsers();
  // A new random token for an existing user (kNotFound otherwise).
  StatusOr<IssuedToken> Issue(std::string_view user, std::string_view device);
  // kNotFound if no token has this id. Revoking twice is OK.
  Status Revoke(int64_t id);
  StatusOr<std::vector<TokenInfo>> List();
  // The user a valid, unrevoked token belongs to. Every failure (malformed, unknown id,
  // wrong secret, revoked) is kPermissionDenied with reason "bad_token", so callers
  // cannot tell them apart; other codes are server-side failures.
  StatusOr<std::string> Authenticate(std::string_view token);

 private:
  TokenStore(Env* env, std::unique_ptr<SqliteDb> db) : env_(env), db_(std::move(db)) {}

  Env* env_;
  std::mutex mu_;
  std::unique_ptr<SqliteDb> db_;
};

}  // namespace cardvault

#endif  // CARDVAULT_API_TOKEN_STORE_H_
