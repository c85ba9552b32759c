// TokenStore: users and their bearer tokens, as the server checks them on every request.
#ifndef CARDVAULT_STORAGE_TOKEN_STORE_H_
#define CARDVAULT_STORAGE_TOKEN_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/secret_data.h"
#include "core/status.h"
#include "core/status_or.h"

namespace cardvault {

struct TokenInfo {
  int64_t id = 0;
  std::string user;
  std::string device;
  int64_t created_unix = 0;
  bool revoked = false;
};

// A user as a store holds it, for a migration between token stores.
struct UserRecord {
  std::string name;
  int64_t created_unix = 0;
};

// A token as a store holds it, for a migration between token stores: its digest
// (SHA-256 of the token text), never the token.
struct TokenRecord {
  int64_t id = 0;
  std::string user;
  std::string device;
  int64_t created_unix = 0;
  std::optional<int64_t> revoked_unix;  // nullopt: not revoked
  Bytes digest;
};

struct IssuedToken {
  int64_t id = 0;
  // "cvt_<id>_<64 hex>": shown to the user once, never stored, never logged.
  SecretData token;
};

// Users and tokens. A token is "cvt_<id>_<secret>"; an implementation MUST keep only a
// digest of it (never the token), MUST compare digests in constant time, MUST never log a
// token, and MUST be thread-safe.
class TokenStore {
 public:
  virtual ~TokenStore() = default;
  // kInvalidArgument ("bad_user_name") unless IsValidUserName; kAlreadyExists
  // ("user_exists") if present.
  virtual Status AddUser(std::string_view name) = 0;
  // Every user name, in ascending order.
  virtual StatusOr<std::vector<std::string>> ListUsers() = 0;
  // A new random token for an existing user (kNotFound "no_such_user" otherwise).
  virtual StatusOr<IssuedToken> Issue(std::string_view user, std::string_view device) = 0;
  // kNotFound ("no_such_token") if no token has this id. Revoking twice is OK.
  virtual Status Revoke(int64_t id) = 0;
  // Every token, in ascending id order.
  virtual StatusOr<std::vector<TokenInfo>> List() = 0;
  // The user a valid, unrevoked token belongs to. Every failure (malformed, unknown id,
  // wrong secret, revoked) MUST be kPermissionDenied with reason "bad_token", so callers
  // cannot tell them apart; other codes are server-side failures.
  virtual StatusOr<std::string> Authenticate(std::string_view token) = 0;

  // Migration between token stores (storage/store_migration.h). A token's id is part of the
  // token text, so it moves with its id.
  virtual StatusOr<std::vector<UserRecord>> ExportUsers() = 0;    // ascending name order
  virtual StatusOr<std::vector<TokenRecord>> ExportTokens() = 0;  // ascending id order
  // Adds a user with its creation time; OK, changing nothing, if the user exists.
  virtual Status ImportUser(const UserRecord& user) = 0;
  // Records a token under its own id, user, digest and times (the user MUST exist:
  // kNotFound "no_such_user"). OK if a token with that id, user and digest is already
  // there (a revocation in `token` is then applied to it); kAlreadyExists "token_id_taken"
  // if the id holds another token. Issue MUST never hand out an id imported here.
  virtual Status ImportToken(const TokenRecord& token) = 0;
};

}  // namespace cardvault

#endif  // CARDVAULT_STORAGE_TOKEN_STORE_H_
