// PgTokenStore implementation: random tokens, SHA-256 at rest, constant-time checks.
#include "storage/pg_token_store.h"

#include <openssl/crypto.h>

#include <array>
#include <charconv>

#include "core/crypto.h"
#include "storage/object_id.h"
#include "storage/pg_migrations.h"

namespace cardvault {
namespace {

constexpr std::array<std::string_view, 1> kMigrations = {
    R"sql(
CREATE TABLE cv_users (name TEXT PRIMARY KEY, created BIGINT NOT NULL);
CREATE TABLE cv_tokens (
  id BIGSERIAL PRIMARY KEY,
  "user" TEXT NOT NULL REFERENCES cv_users (name),
  device TEXT NOT NULL,
  digest BYTEA NOT NULL,
  created BIGINT NOT NULL,
  revoked BIGINT
);
)sql",
};

constexpr std::string_view kTokenPrefix = "cvt_";

Status BadToken() { return PermissionDeniedError("invalid or revoked token", "bad_token"); }

}  // namespace

StatusOr<std::unique_ptr<PgTokenStore>> PgTokenStore::Open(Env* env, const std::string& conninfo,
                                                           Options options) {
  CV_ASSIGN_OR_RETURN(auto pool, PgPool::Create(conninfo, options.pool_size));
  CV_RETURN_IF_ERROR(MigratePg(*pool, "tokens", kMigrations));
  return std::unique_ptr<PgTokenStore>(new PgTokenStore(env, std::move(pool)));
}

Status PgTokenStore::AddUser(std::string_view name) {
  if (!IsValidUserName(name)) {
    return InvalidArgumentError("user names are 1-32 characters of [a-z0-9_-]", "bad_user_name");
  }
  CV_ASSIGN_OR_RETURN(auto conn, pool_->Acquire());
  auto inserted = conn->Run("INSERT INTO cv_users (name, created) VALUES ($1, $2)",
                            {PgParam::Of(name), PgParam::Of(NowUnix())});
  if (inserted.status().code() == StatusCode::kAlreadyExists) {
    return AlreadyExistsError("user " + std::string(name) + " exists", "user_exists");
  }
  return inserted.status();
}

StatusOr<std::vector<std::string>> PgTokenStore::ListUsers() {
  CV_ASSIGN_OR_RETURN(auto conn, pool_->Acquire());
  CV_ASSIGN_OR_RETURN(PgRows rows, conn->Run("SELECT name FROM cv_users ORDER BY name"));
  std::vector<std::string> users;
  for (int r = 0; r < rows.size(); ++r) users.push_back(rows.Text(r, 0));
  return users;
}

StatusOr<IssuedToken> PgTokenStore::Issue(std::string_view user, std::string_view device) {
  std::array<uint8_t, 32> secret;
  CV_RETURN_IF_ERROR(env_->RandomBytes(secret));
  std::string secret_hex = HexEncode(secret);
  OPENSSL_cleanse(secret.data(), secret.size());
  CV_ASSIGN_OR_RETURN(auto conn, pool_->Acquire());
  CV_ASSIGN_OR_RETURN(PgRows found,
                      conn->Run("SELECT 1 FROM cv_users WHERE name = $1", {PgParam::Of(user)}));
  if (found.size() == 0) return NotFoundError("no user " + std::string(user), "no_such_user");
  // The id is part of the token: take it from the sequence first, then insert the row
  // with its digest in one statement.
  CV_ASSIGN_OR_RETURN(PgRows next,
                      conn->Run("SELECT nextval(pg_get_serial_sequence('cv_tokens', 'id'))"));
  IssuedToken issued;
  issued.id = next.Int(0, 0);
  std::string text = std::string(kTokenPrefix) + std::to_string(issued.id) + "_" + secret_hex;
  issued.token = SecretData::CopyFrom(text);
  OPENSSL_cleanse(text.data(), text.size());
  OPENSSL_cleanse(secret_hex.data(), secret_hex.size());
  const Sha256Digest digest = Sha256(issued.token.span());
  const Bytes digest_bytes(digest.begin(), digest.end());
  CV_RETURN_IF_ERROR(conn->Run("INSERT INTO cv_tokens (id, \"user\", device, digest, created) "
                               "VALUES ($1, $2, $3, $4, $5)",
                               {PgParam::Of(issued.id), PgParam::Of(user), PgParam::Of(device),
                                PgParam::Of(&digest_bytes), PgParam::Of(NowUnix())})
                         .status());
  return issued;
}

Status PgTokenStore::Revoke(int64_t id) {
  CV_ASSIGN_OR_RETURN(auto conn, pool_->Acquire());
  CV_ASSIGN_OR_RETURN(
      PgRows rows, conn->Run("UPDATE cv_tokens SET revoked = COALESCE(revoked, $2) WHERE id = $1",
                             {PgParam::Of(id), PgParam::Of(NowUnix())}));
  if (rows.affected() == 0) {
    return NotFoundError("no token " + std::to_string(id), "no_such_token");
  }
  return Status::Ok();
}

StatusOr<std::vector<TokenInfo>> PgTokenStore::List() {
  CV_ASSIGN_OR_RETURN(auto conn, pool_->Acquire());
  CV_ASSIGN_OR_RETURN(PgRows rows, conn->Run("SELECT id, \"user\", device, created, revoked "
                                             "FROM cv_tokens ORDER BY id"));
  std::vector<TokenInfo> tokens;
  for (int r = 0; r < rows.size(); ++r) {
    tokens.push_back(TokenInfo{rows.Int(r, 0), rows.Text(r, 1), rows.Text(r, 2), rows.Int(r, 3),
                               !rows.IsNull(r, 4)});
  }
  return tokens;
}

StatusOr<std::string> PgTokenStore::Authenticate(std::string_view token) {
  if (token.size() > 128 || token.substr(0, kTokenPrefix.size()) != kTokenPrefix) {
    return BadToken();
  }
  std::string_view rest = token.substr(kTokenPrefix.size());
  size_t sep = rest.find('_');
  if (sep == std::string_view::npos) return BadToken();
  int64_t id = 0;
  auto [end, ec] = std::from_chars(rest.data(), rest.data() + sep, id);
  if (ec != std::errc() || end != rest.data() + sep) return BadToken();
  const Sha256Digest presented = Sha256(AsBytes(token));
  CV_ASSIGN_OR_RETURN(auto conn, pool_->Acquire());
  CV_ASSIGN_OR_RETURN(PgRows rows,
                      conn->Run("SELECT \"user\", digest, revoked FROM cv_tokens WHERE id = $1",
                                {PgParam::Of(id)}));
  if (rows.size() == 0) return BadToken();
  const Bytes stored = rows.Blob(0, 1);
  const bool match = stored.size() == presented.size() &&
                     CRYPTO_memcmp(stored.data(), presented.data(), presented.size()) == 0;
  if (!match || !rows.IsNull(0, 2)) return BadToken();
  return rows.Text(0, 0);
}

StatusOr<std::vector<UserRecord>> PgTokenStore::ExportUsers() {
  CV_ASSIGN_OR_RETURN(auto conn, pool_->Acquire());
  CV_ASSIGN_OR_RETURN(PgRows rows,
                      conn->Run("SELECT name, created FROM cv_users ORDER BY name COLLATE \"C\""));
  std::vector<UserRecord> users;
  for (int r = 0; r < rows.size(); ++r)
    users.push_back(UserRecord{rows.Text(r, 0), rows.Int(r, 1)});
  return users;
}

StatusOr<std::vector<TokenRecord>> PgTokenStore::ExportTokens() {
  CV_ASSIGN_OR_RETURN(auto conn, pool_->Acquire());
  CV_ASSIGN_OR_RETURN(PgRows rows,
                      conn->Run("SELECT id, \"user\", device, created, revoked, digest "
                                "FROM cv_tokens ORDER BY id"));
  std::vector<TokenRecord> tokens;
  for (int r = 0; r < rows.size(); ++r) {
    TokenRecord t{rows.Int(r, 0), rows.Text(r, 1), rows.Text(r, 2),
                  rows.Int(r, 3), std::nullopt,    rows.Blob(r, 5)};
    if (!rows.IsNull(r, 4)) t.revoked_unix = rows.Int(r, 4);
    tokens.push_back(std::move(t));
  }
  return tokens;
}

Status PgTokenStore::ImportUser(const UserRecord& user) {
  if (!IsValidUserName(user.name)) {
    return InvalidArgumentError("user names are 1-32 characters of [a-z0-9_-]", "bad_user_name");
  }
  CV_ASSIGN_OR_RETURN(auto conn, pool_->Acquire());
  return conn
      ->Run("INSERT INTO cv_users (name, created) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            {PgParam::Of(user.name), PgParam::Of(user.created_unix)})
      .status();
}

Status PgTokenStore::ImportToken(const TokenRecord& token) {
  CV_ASSIGN_OR_RETURN(auto conn, pool_->Acquire());
  CV_RETURN_IF_ERROR(conn->Exec("BEGIN"));
  Status status = ImportTokenOn(*conn, token);
  if (status.ok()) status = conn->Exec("COMMIT");
  if (!status.ok()) conn->Exec("ROLLBACK").IgnoreError();
  return status;
}

Status PgTokenStore::ImportTokenOn(PgConn& conn, const TokenRecord& token) {
  // One import at a time: the id check, the insert and the sequence move together.
  CV_RETURN_IF_ERROR(conn.Exec("LOCK TABLE cv_tokens IN SHARE ROW EXCLUSIVE MODE"));
  CV_ASSIGN_OR_RETURN(PgRows found, conn.Run("SELECT \"user\", digest FROM cv_tokens WHERE id = $1",
                                             {PgParam::Of(token.id)}));
  if (found.size() > 0 && (found.Text(0, 0) != token.user || found.Blob(0, 1) != token.digest)) {
    return AlreadyExistsError("token id " + std::to_string(token.id) + " holds another token",
                              "token_id_taken");
  }
  if (found.size() == 0) {
    CV_ASSIGN_OR_RETURN(
        PgRows user, conn.Run("SELECT 1 FROM cv_users WHERE name = $1", {PgParam::Of(token.user)}));
    if (user.size() == 0) return NotFoundError("no user " + token.user, "no_such_user");
    CV_RETURN_IF_ERROR(
        conn.Run("INSERT INTO cv_tokens (id, \"user\", device, digest, created) "
                 "VALUES ($1, $2, $3, $4, $5)",
                 {PgParam::Of(token.id), PgParam::Of(token.user), PgParam::Of(token.device),
                  PgParam::Of(&token.digest), PgParam::Of(token.created_unix)})
            .status());
    // Issue takes ids from the sequence: move it past every id imported.
    CV_RETURN_IF_ERROR(
        conn.Run("SELECT setval(pg_get_serial_sequence('cv_tokens', 'id'), GREATEST($1, "
                 "COALESCE(pg_sequence_last_value(pg_get_serial_sequence('cv_tokens', "
                 "'id')::regclass), 0)))",
                 {PgParam::Of(token.id)})
            .status());
  }
  if (!token.revoked_unix.has_value()) return Status::Ok();
  return conn
      .Run("UPDATE cv_tokens SET revoked = COALESCE(revoked, $2) WHERE id = $1",
           {PgParam::Of(token.id), PgParam::Of(*token.revoked_unix)})
      .status();
}

}  // namespace cardvault
