// SqliteTokenStore implementation: random tokens, SHA-256 at rest, constant-time checks.
#include "storage/sqlite_token_store.h"

#include <openssl/crypto.h>

#include <array>
#include <charconv>

#include "core/crypto.h"
#include "storage/object_id.h"
#include "storage/private_files.h"
#include "storage/sqlite_transaction.h"

namespace cardvault {
namespace {

constexpr std::array<std::string_view, 1> kMigrations = {
    R"sql(
CREATE TABLE users (
  name TEXT PRIMARY KEY,
  created INTEGER NOT NULL
);
CREATE TABLE tokens (
  id INTEGER PRIMARY KEY,
  user TEXT NOT NULL REFERENCES users(name),
  device TEXT NOT NULL,
  digest BLOB NOT NULL,
  created INTEGER NOT NULL,
  revoked INTEGER
);
)sql",
};

constexpr std::string_view kTokenPrefix = "cvt_";

Status BadToken() { return PermissionDeniedError("invalid or revoked token", "bad_token"); }

}  // namespace

StatusOr<std::unique_ptr<SqliteTokenStore>> SqliteTokenStore::Open(Env* env,
                                                                   const std::string& path) {
  CV_RETURN_IF_ERROR(MakeDatabaseFilePrivate(path));  // token hashes: the owner's only
  CV_ASSIGN_OR_RETURN(auto db, SqliteDb::Open(path));
  CV_RETURN_IF_ERROR(db->Migrate(kMigrations));
  return std::unique_ptr<SqliteTokenStore>(new SqliteTokenStore(env, std::move(db)));
}

Status SqliteTokenStore::AddUser(std::string_view name) {
  if (!IsValidUserName(name)) {
    return InvalidArgumentError("user names are 1-32 characters of [a-z0-9_-]", "bad_user_name");
  }
  std::lock_guard lock(mu_);
  CV_ASSIGN_OR_RETURN(Statement stmt,
                      db_->Prepare("INSERT INTO users (name, created) VALUES (?1, ?2)"));
  CV_RETURN_IF_ERROR(stmt.BindText(1, name));
  CV_RETURN_IF_ERROR(stmt.BindInt64(2, env_->NowUnixNanos() / 1000000000));
  Status status = stmt.Run();
  if (status.code() == StatusCode::kAlreadyExists) {
    return AlreadyExistsError("user " + std::string(name) + " exists", "user_exists");
  }
  return status;
}

StatusOr<std::vector<std::string>> SqliteTokenStore::ListUsers() {
  std::lock_guard lock(mu_);
  CV_ASSIGN_OR_RETURN(Statement stmt, db_->Prepare("SELECT name FROM users ORDER BY name"));
  std::vector<std::string> users;
  while (true) {
    CV_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return users;
    users.push_back(stmt.ColumnText(0));
  }
}

StatusOr<IssuedToken> SqliteTokenStore::Issue(std::string_view user, std::string_view device) {
  std::array<uint8_t, 32> secret;
  CV_RETURN_IF_ERROR(env_->RandomBytes(secret));
  std::string secret_hex = HexEncode(secret);
  OPENSSL_cleanse(secret.data(), secret.size());
  std::lock_guard lock(mu_);
  CV_ASSIGN_OR_RETURN(Statement find, db_->Prepare("SELECT 1 FROM users WHERE name = ?1"));
  CV_RETURN_IF_ERROR(find.BindText(1, user));
  CV_ASSIGN_OR_RETURN(bool exists, find.Step());
  if (!exists) return NotFoundError("no user " + std::string(user), "no_such_user");
  // The id is part of the token, so insert first and fill in the digest after, in one
  // transaction.
  CV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(*db_));
  CV_ASSIGN_OR_RETURN(Statement insert,
                      db_->Prepare("INSERT INTO tokens (user, device, digest, created) "
                                   "VALUES (?1, ?2, x'', ?3)"));
  CV_RETURN_IF_ERROR(insert.BindText(1, user));
  CV_RETURN_IF_ERROR(insert.BindText(2, device));
  CV_RETURN_IF_ERROR(insert.BindInt64(3, env_->NowUnixNanos() / 1000000000));
  CV_RETURN_IF_ERROR(insert.Run());
  IssuedToken issued;
  issued.id = db_->LastInsertRowId();
  std::string text = std::string(kTokenPrefix) + std::to_string(issued.id) + "_" + secret_hex;
  issued.token = SecretData::CopyFrom(text);
  OPENSSL_cleanse(text.data(), text.size());
  OPENSSL_cleanse(secret_hex.data(), secret_hex.size());
  Sha256Digest digest = Sha256(issued.token.span());
  CV_ASSIGN_OR_RETURN(Statement update,
                      db_->Prepare("UPDATE tokens SET digest = ?1 WHERE id = ?2"));
  CV_RETURN_IF_ERROR(update.BindBlob(1, digest));
  CV_RETURN_IF_ERROR(update.BindInt64(2, issued.id));
  CV_RETURN_IF_ERROR(update.Run());
  CV_RETURN_IF_ERROR(txn.Commit());
  return issued;
}

Status SqliteTokenStore::Revoke(int64_t id) {
  std::lock_guard lock(mu_);
  CV_ASSIGN_OR_RETURN(
      Statement stmt,
      db_->Prepare("UPDATE tokens SET revoked = COALESCE(revoked, ?2) WHERE id = ?1"));
  CV_RETURN_IF_ERROR(stmt.BindInt64(1, id));
  CV_RETURN_IF_ERROR(stmt.BindInt64(2, env_->NowUnixNanos() / 1000000000));
  CV_RETURN_IF_ERROR(stmt.Run());
  if (db_->Changes() == 0) return NotFoundError("no token " + std::to_string(id), "no_such_token");
  return Status::Ok();
}

StatusOr<std::vector<TokenInfo>> SqliteTokenStore::List() {
  std::lock_guard lock(mu_);
  CV_ASSIGN_OR_RETURN(Statement stmt, db_->Prepare("SELECT id, user, device, created, revoked "
                                                   "FROM tokens ORDER BY id"));
  std::vector<TokenInfo> tokens;
  while (true) {
    CV_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return tokens;
    tokens.push_back(TokenInfo{stmt.ColumnInt64(0), stmt.ColumnText(1), stmt.ColumnText(2),
                               stmt.ColumnInt64(3), !stmt.ColumnIsNull(4)});
  }
}

StatusOr<std::string> SqliteTokenStore::Authenticate(std::string_view token) {
  if (token.size() > 128 || token.substr(0, kTokenPrefix.size()) != kTokenPrefix) {
    return BadToken();
  }
  std::string_view rest = token.substr(kTokenPrefix.size());
  size_t sep = rest.find('_');
  if (sep == std::string_view::npos) return BadToken();
  int64_t id = 0;
  auto [end, ec] = std::from_chars(rest.data(), rest.data() + sep, id);
  if (ec != std::errc() || end != rest.data() + sep) return BadToken();
  Sha256Digest presented = Sha256(AsBytes(token));
  std::lock_guard lock(mu_);
  CV_ASSIGN_OR_RETURN(Statement stmt,
                      db_->Prepare("SELECT user, digest, revoked FROM tokens WHERE id = ?1"));
  CV_RETURN_IF_ERROR(stmt.BindInt64(1, id));
  CV_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return BadToken();
  Bytes stored = stmt.ColumnBlob(1);
  bool match = stored.size() == presented.size() &&
               CRYPTO_memcmp(stored.data(), presented.data(), presented.size()) == 0;
  if (!match || !stmt.ColumnIsNull(2)) return BadToken();
  return stmt.ColumnText(0);
}

StatusOr<std::vector<UserRecord>> SqliteTokenStore::ExportUsers() {
  std::lock_guard lock(mu_);
  CV_ASSIGN_OR_RETURN(Statement stmt,
                      db_->Prepare("SELECT name, created FROM users ORDER BY name"));
  std::vector<UserRecord> users;
  while (true) {
    CV_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return users;
    users.push_back(UserRecord{stmt.ColumnText(0), stmt.ColumnInt64(1)});
  }
}

StatusOr<std::vector<TokenRecord>> SqliteTokenStore::ExportTokens() {
  std::lock_guard lock(mu_);
  CV_ASSIGN_OR_RETURN(Statement stmt,
                      db_->Prepare("SELECT id, user, device, created, revoked, digest "
                                   "FROM tokens ORDER BY id"));
  std::vector<TokenRecord> tokens;
  while (true) {
    CV_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return tokens;
    TokenRecord t{stmt.ColumnInt64(0), stmt.ColumnText(1), stmt.ColumnText(2),
                  stmt.ColumnInt64(3), std::nullopt,       stmt.ColumnBlob(5)};
    if (!stmt.ColumnIsNull(4)) t.revoked_unix = stmt.ColumnInt64(4);
    tokens.push_back(std::move(t));
  }
}

Status SqliteTokenStore::ImportUser(const UserRecord& user) {
  if (!IsValidUserName(user.name)) {
    return InvalidArgumentError("user names are 1-32 characters of [a-z0-9_-]", "bad_user_name");
  }
  std::lock_guard lock(mu_);
  CV_ASSIGN_OR_RETURN(Statement stmt,
                      db_->Prepare("INSERT INTO users (name, created) VALUES (?1, ?2) "
                                   "ON CONFLICT(name) DO NOTHING"));
  CV_RETURN_IF_ERROR(stmt.BindText(1, user.name));
  CV_RETURN_IF_ERROR(stmt.BindInt64(2, user.created_unix));
  return stmt.Run();
}

Status SqliteTokenStore::ImportToken(const TokenRecord& token) {
  std::lock_guard lock(mu_);
  CV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(*db_));
  CV_ASSIGN_OR_RETURN(Statement find,
                      db_->Prepare("SELECT user, digest FROM tokens WHERE id = ?1"));
  CV_RETURN_IF_ERROR(find.BindInt64(1, token.id));
  CV_ASSIGN_OR_RETURN(bool exists, find.Step());
  if (exists) {
    if (find.ColumnText(0) != token.user || find.ColumnBlob(1) != token.digest) {
      return AlreadyExistsError("token id " + std::to_string(token.id) + " holds another token",
                                "token_id_taken");
    }
  } else {
    CV_ASSIGN_OR_RETURN(Statement user, db_->Prepare("SELECT 1 FROM users WHERE name = ?1"));
    CV_RETURN_IF_ERROR(user.BindText(1, token.user));
    CV_ASSIGN_OR_RETURN(bool known, user.Step());
    if (!known) return NotFoundError("no user " + token.user, "no_such_user");
    CV_ASSIGN_OR_RETURN(Statement insert,
                        db_->Prepare("INSERT INTO tokens (id, user, device, digest, created) "
                                     "VALUES (?1, ?2, ?3, ?4, ?5)"));
    CV_RETURN_IF_ERROR(insert.BindInt64(1, token.id));
    CV_RETURN_IF_ERROR(insert.BindText(2, token.user));
    CV_RETURN_IF_ERROR(insert.BindText(3, token.device));
    CV_RETURN_IF_ERROR(insert.BindBlob(4, token.digest));
    CV_RETURN_IF_ERROR(insert.BindInt64(5, token.created_unix));
    CV_RETURN_IF_ERROR(insert.Run());
  }
  if (token.revoked_unix.has_value()) {
    CV_ASSIGN_OR_RETURN(
        Statement revoke,
        db_->Prepare("UPDATE tokens SET revoked = COALESCE(revoked, ?2) WHERE id = ?1"));
    CV_RETURN_IF_ERROR(revoke.BindInt64(1, token.id));
    CV_RETURN_IF_ERROR(revoke.BindInt64(2, *token.revoked_unix));
    CV_RETURN_IF_ERROR(revoke.Run());
  }
  return txn.Commit();
}

}  // namespace cardvault
