// RemoteStore implementation: requests, streaming bodies, TLS pinning and error mapping.
#include "api/remote_store.h"

#include <httplib.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <atomic>
#include <charconv>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "api/socket_platform.h"
#include "api/tls_identity.h"
#include "api/xxh128.h"
#include "core/crypto.h"

namespace cardvault {

struct RemoteStore::PinState {
  std::string expected;  // lowercase hex SHA-256 of the leaf certificate (DER)
  std::atomic<bool> mismatch{false};
};

namespace {

using Json = nlohmann::json;
constexpr size_t kChunk = 256 << 10;
// Uploads above this size check the server's limits first (the server drains rejected
// bodies up to 16 MiB and closes the connection on larger ones).
constexpr uint64_t kPreflightBytes = 8 << 20;

int PinIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// OpenSSL verify callback for pinning: the leaf certificate MUST have the pinned
// fingerprint; chain building errors are irrelevant because the leaf itself is trusted.
int VerifyPinned(int /*preverify_ok*/, X509_STORE_CTX* store) {
  if (X509_STORE_CTX_get_error_depth(store) != 0) return 1;
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  if (ssl == nullptr) return 0;
  auto* pin =
      static_cast<RemoteStore::PinState*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), PinIndex()));
  X509* cert = X509_STORE_CTX_get_current_cert(store);
  if (pin == nullptr || cert == nullptr) return 0;
  unsigned char* der = nullptr;
  int len = i2d_X509(cert, &der);
  if (len <= 0) return 0;
  std::string actual = CertificateFingerprintFromDer(ByteView(der, static_cast<size_t>(len)));
  OPENSSL_free(der);
  bool match = actual.size() == pin->expected.size() &&
               CRYPTO_memcmp(actual.data(), pin->expected.data(), actual.size()) == 0;
  if (!match) {
    pin->mismatch = true;
    return 0;
  }
  X509_STORE_CTX_set_error(store, X509_V_OK);
  return 1;
}

std::optional<uint64_t> ParseU64(std::string_view text) {
  uint64_t value = 0;
  if (text.empty()) return std::nullopt;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

Status FromHttpStatus(int status, const std::string& body) {
  std::string code;
  std::string message = "HTTP " + std::to_string(status);
  try {
    Json j = Json::parse(body);
    code = j.at("error").at("code").get<std::string>();
    message = j.at("error").at("message").get<std::string>();
  } catch (const std::exception&) {
    // Not our error format (a proxy?): keep the HTTP status only.
  }
  // The server holds the object but its stored bytes are damaged: decided by the error code
  // whatever the status, or by 410 alone for a HEAD (no body). Permanent: never retried.
  if (code == "object_damaged" || (status == 410 && code.empty())) {
    return CorruptError("damaged on the server: " + message, "object_damaged");
  }
  switch (status) {
    case 400:
    case 411:
    case 416:
      return InvalidArgumentError(message, code);
    case 401:
    case 403:
      return PermissionDeniedError(message, code);
    case 404:
      return NotFoundError(message, code.empty() ? "no_such_object" : code);
    case 409:
    case 412:
      return AlreadyExistsError(message, code.empty() ? "object_exists" : code);
    case 413:
      return ResourceExhaustedError(message, code.empty() ? "object_too_large" : code);
    case 507:
      return ResourceExhaustedError(message, code.empty() ? "insufficient_storage" : code);
    case 429:
      return UnavailableError(message, code.empty() ? "too_many_requests" : code);
    default:
      if (status >= 500) return UnavailableError(message, code.empty() ? "server_error" : code);
      return InternalError("unexpected " + message, code);
  }
}

StatusOr<ObjectInfo> InfoFromJson(const Json& j) {
  try {
    ObjectInfo info;
    info.id = j.at("id").get<std::string>();
    auto kind = ParseObjectKind(j.at("kind").get<std::string>());
    if (!kind) return CorruptError("bad kind in server reply", "bad_reply");
    info.kind = *kind;
    info.size = j.at("size").get<uint64_t>();
    info.sha256 = j.at("sha256").get<std::string>();
    info.created_unix = j.at("created").get<int64_t>();
    return info;
  } catch (const std::exception& e) {
    return CorruptError(std::string("malformed server reply: ") + e.what(), "bad_reply");
  }
}

StatusOr<ObjectInfo> InfoFromHeaders(std::string_view id, const httplib::Response& res,
                                     uint64_t size) {
  ObjectInfo info;
  info.id = std::string(id);
  info.sha256 = res.get_header_value("X-Content-SHA256");
  auto kind = ParseObjectKind(res.get_header_value("X-Object-Kind"));
  if (!IsValidSha256Hex(info.sha256) || !kind) {
    return CorruptError("server reply lacks object headers", "bad_reply");
  }
  info.kind = *kind;
  info.size = size;
  info.created_unix =
      static_cast<int64_t>(ParseU64(res.get_header_value("X-Object-Created")).value_or(0));
  return info;
}

}  // namespace

StatusOr<std::unique_ptr<RemoteStore>> RemoteStore::New(RemoteStoreOptions options) {
  if (options.ca_file.empty() == options.pinned_sha256.empty()) {
    return InvalidArgumentError("set exactly one of a CA file or a pinned certificate fingerprint",
                                "no_verification");
  }
  // A server that goes away mid-upload would otherwise kill the process with SIGPIPE
  // (OpenSSL writes with write(2)); httplib's server does the same in its constructor.
  IgnoreBrokenPipes();
  std::unique_ptr<RemoteStore> store(new RemoteStore());
  if (!options.pinned_sha256.empty()) {
    CV_ASSIGN_OR_RETURN(std::string pin, NormalizeFingerprint(options.pinned_sha256));
    store->pin_ = std::make_unique<PinState>();
    store->pin_->expected = pin;
  }
  store->client_ = std::make_unique<httplib::SSLClient>(options.host, options.port);
  httplib::SSLClient& cli = *store->client_;
  SSL_CTX* ctx = cli.ssl_context();
  if (ctx == nullptr) return InternalError("cannot create an SSL context", "openssl_error");
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (store->pin_) {
    // httplib's own check (chain + host name) cannot accept a self-signed certificate, so
    // OpenSSL enforces the pin during the handshake instead. Verification stays on.
    SSL_CTX_set_ex_data(ctx, PinIndex(), store->pin_.get());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, VerifyPinned);
    cli.enable_server_certificate_verification(false);
  } else {
    cli.set_ca_cert_path(options.ca_file.c_str());
    cli.enable_server_certificate_verification(true);
  }
  cli.set_keep_alive(true);
  cli.set_tcp_nodelay(true);
  cli.set_connection_timeout(options.connect_timeout_seconds, 0);
  cli.set_read_timeout(options.read_timeout_seconds, 0);
  cli.set_write_timeout(options.write_timeout_seconds, 0);
  store->options_ = std::move(options);
  return store;
}

RemoteStore::~RemoteStore() = default;

void RemoteStore::DropClosedConnection() {
  if (!client_->is_socket_open()) return;
  // Between requests the server sends nothing: anything readable is its TLS close_notify,
  // its FIN or a reset, so the connection is closed and a request on it would fail.
  if (SocketReadableNow(static_cast<std::intptr_t>(client_->socket()))) client_->stop();
}

namespace {

// Maps a transport failure (no HTTP response) to a Status.
Status TransportError(const httplib::Result& result, const std::atomic<bool>* pin_mismatch) {
  httplib::Error error = result.error();
  if (pin_mismatch != nullptr && pin_mismatch->load()) {
    return PermissionDeniedError("the server certificate does not match the pinned fingerprint",
                                 "tls_pin_mismatch");
  }
  if (error == httplib::Error::SSLServerVerification) {
    return PermissionDeniedError("the server certificate failed verification",
                                 "tls_verification_failed");
  }
  if (error == httplib::Error::SSLLoadingCerts) {
    return FailedPreconditionError("cannot load the CA file", "tls_ca_file");
  }
  return UnavailableError("request failed: " + httplib::to_string(error), "network");
}

}  // namespace

namespace {

httplib::Headers AuthHeaders(const SecretData& token) {
  return {{"Authorization", "Bearer " + std::string(token.AsStringView())}};
}

}  // namespace

Status RemoteStore::CheckLimits(std::string_view id, uint64_t size) {
  uint64_t used = 0, quota = 0, max_object = 0;
  {
    std::lock_guard lock(mu_);
    if (pin_) pin_->mismatch = false;
    DropClosedConnection();
    httplib::Headers headers = AuthHeaders(options_.token);
    httplib::Result result = client_->Get("/v1/whoami", headers);
    if (!result) return TransportError(result, pin_ ? &pin_->mismatch : nullptr);
    if (result->status != 200) return FromHttpStatus(result->status, result->body);
    try {
      Json j = Json::parse(result->body);
      used = j.at("used_bytes").get<uint64_t>();
      quota = j.at("quota_bytes").get<uint64_t>();
      max_object = j.at("max_object_bytes").get<uint64_t>();
    } catch (const std::exception& e) {
      return CorruptError(std::string("malformed whoami reply: ") + e.what(), "bad_reply");
    }
  }
  if (size > max_object) {
    return ResourceExhaustedError("object of " + std::to_string(size) +
                                      " bytes exceeds the server's limit of " +
                                      std::to_string(max_object),
                                  "object_too_large");
  }
  if (used + size > quota) {
    // Replacing an object frees its size first, as on the server.
    auto existing = Head(id);
    uint64_t freed = existing.ok() ? existing->size : 0;
    if (!existing.ok() && existing.status().code() != StatusCode::kNotFound) {
      return existing.status();
    }
    if (used - std::min(used, freed) + size > quota) {
      return ResourceExhaustedError("quota of " + std::to_string(quota) + " bytes exceeded",
                                    "quota_exceeded");
    }
  }
  return Status::Ok();
}

StatusOr<ObjectInfo> RemoteStore::Put(std::string_view id, const PutOptions& options,
                                      const SourceFactory& source) {
  if (!IsValidObjectId(id)) return InvalidArgumentError("bad object id", "bad_object_id");
  if (options.size > kPreflightBytes) CV_RETURN_IF_ERROR(CheckLimits(id, options.size));
  CV_ASSIGN_OR_RETURN(auto file, source());
  // Without a digest, the body is the content followed by its raw SHA-256 (X-Content-SHA256:
  // appended) or XXH3-128 (X-Content-XXH128: appended), computed from the bytes as they are
  // sent: the source is read once.
  const bool appended = options.sha256.empty();
  const bool xxh128 = appended && options.transfer_check == TransferCheck::kXxh128;
  if (!appended && !IsValidSha256Hex(options.sha256)) {
    return InvalidArgumentError("SHA-256 must be 64 lowercase hex characters or empty",
                                "bad_sha256");
  }
  const uint64_t digest_bytes =
      !appended ? 0 : (xxh128 ? kAppendedXxh128Bytes : kAppendedDigestBytes);
  const uint64_t body_size = options.size + digest_bytes;
  std::lock_guard lock(mu_);
  if (pin_) pin_->mismatch = false;
  DropClosedConnection();
  httplib::Headers headers = AuthHeaders(options_.token);
  if (xxh128) {
    headers.emplace(std::string(kXxh128Header), std::string(kXxh128Appended));
  } else {
    headers.emplace("X-Content-SHA256", appended ? std::string(kAppendedDigest) : options.sha256);
  }
  headers.emplace("X-Object-Kind", std::string(ObjectKindName(options.kind)));
  if (options.create_only) headers.emplace("If-None-Match", "*");
  const std::string path = "/v1/objects/" + std::string(id);
  Status source_status;
  Sha256Hasher hasher;
  std::optional<Xxh128Hasher> xxh;  // instead of `hasher` for X-Content-XXH128
  if (xxh128) xxh.emplace();
  std::optional<Sha256Digest> digest;  // set once the last content byte is hashed
  std::optional<Xxh128Digest> xxh_digest;
  httplib::Result result = [&] {
    if (body_size == 0) {
      return client_->Put(path, headers, std::string(), "application/octet-stream");
    }
    auto buffer = std::make_shared<std::vector<uint8_t>>(kChunk);
    return client_->Put(
        path, headers, static_cast<size_t>(body_size),
        [&, buffer](size_t offset, size_t, httplib::DataSink& sink) {
          if (offset >= options.size) {
            // All content is sent: the rest of the body is the digest.
            const size_t at = static_cast<size_t>(offset - options.size);
            if (xxh.has_value()) {
              if (!xxh_digest.has_value()) xxh_digest = xxh->Finish();
              return sink.write(reinterpret_cast<const char*>(xxh_digest->data()) + at,
                                xxh_digest->size() - at);
            }
            if (!digest.has_value()) digest = hasher.Finish();
            return sink.write(reinterpret_cast<const char*>(digest->data()) + at,
                              digest->size() - at);
          }
          const size_t want =
              static_cast<size_t>(std::min<uint64_t>(buffer->size(), options.size - offset));
          // A source in memory (a streamed blob's pipe) is sent from there, not copied first.
          StatusOr<ByteView> piece = [&]() -> StatusOr<ByteView> {
            if (file->ReadsInPlace()) return file->ReadInPlace(want);
            CV_ASSIGN_OR_RETURN(size_t n, file->Read(std::span(buffer->data(), want)));
            return ByteView(buffer->data(), n);
          }();
          if (!piece.ok()) {
            source_status = piece.status();
            return false;
          }
          if (piece->empty()) {
            source_status = InvalidArgumentError("the source is shorter than the declared size",
                                                 "size_mismatch");
            return false;
          }
          if (xxh.has_value()) {
            xxh->Update(*piece);
          } else if (appended) {
            hasher.Update(*piece);
          }
          return sink.write(reinterpret_cast<const char*>(piece->data()), piece->size());
        },
        "application/octet-stream");
  }();
  if (!source_status.ok()) return source_status;
  if (!result) return TransportError(result, pin_ ? &pin_->mismatch : nullptr);
  if (result->status != 201 && result->status != 200) {
    return FromHttpStatus(result->status, result->body);
  }
  StatusOr<ObjectInfo> info = CorruptError("no server reply", "bad_reply");
  try {
    info = InfoFromJson(Json::parse(result->body));
  } catch (const std::exception& e) {
    return CorruptError(std::string("malformed server reply: ") + e.what(), "bad_reply");
  }
  if (!info.ok()) return info;
  if (xxh128) {
    // The server checked the XXH3-128 and computed the SHA-256, which the client has no
    // digest to compare with: only the size and the digest's form can be checked here.
    if (!IsValidSha256Hex(info->sha256)) {
      return CorruptError("the server's reply has no valid SHA-256", "bad_reply");
    }
    if (info->size != options.size) {
      return CorruptError("the server stored " + std::to_string(info->size) + " bytes, sent " +
                              std::to_string(options.size),
                          "size_mismatch");
    }
    return info;
  }
  const std::string sent = appended && digest.has_value() ? HexEncode(*digest) : options.sha256;
  if (info->sha256 != sent || info->size != options.size) {
    return CorruptError("the server stored " + std::to_string(info->size) + " bytes with SHA-256 " +
                            info->sha256 + ", sent " + std::to_string(options.size) +
                            " bytes with " + sent,
                        "sha256_mismatch");
  }
  return info;
}

StatusOr<ObjectInfo> RemoteStore::Get(std::string_view id, const GetOptions& options,
                                      const ByteSink& sink) {
  const uint64_t offset = options.offset;
  const bool verify = offset == 0 && !options.length.has_value() && options.verify_sha256;
  if (!IsValidObjectId(id)) return InvalidArgumentError("bad object id", "bad_object_id");
  std::lock_guard lock(mu_);
  if (pin_) pin_->mismatch = false;
  DropClosedConnection();
  httplib::Headers headers = AuthHeaders(options_.token);
  if (options.length.has_value()) {
    if (*options.length == 0) return InvalidArgumentError("an empty range", "bad_range");
    headers.emplace("Range", "bytes=" + std::to_string(offset) + "-" +
                                 std::to_string(offset + *options.length - 1));
  } else if (offset > 0) {
    headers.emplace("Range", "bytes=" + std::to_string(offset) + "-");
  }
  int status = 0;
  std::string error_body;
  Status sink_status;
  Sha256Hasher hasher;
  uint64_t received = 0;
  StatusOr<ObjectInfo> info = InternalError("no response");
  httplib::Result result = client_->Get(
      "/v1/objects/" + std::string(id), headers,
      [&](const httplib::Response& res) {
        status = res.status;
        if (status == 200 || status == 206) {
          std::optional<uint64_t> total;
          if (status == 200) {
            total = ParseU64(res.get_header_value("Content-Length"));
            if (offset > 0 || options.length.has_value()) {
              sink_status = CorruptError("server ignored the range", "bad_reply");
              return false;
            }
          } else {
            std::string range = res.get_header_value("Content-Range");
            size_t slash = range.rfind('/');
            if (slash != std::string::npos) total = ParseU64(range.substr(slash + 1));
          }
          if (!total.has_value()) {
            sink_status = CorruptError("reply lacks the object size", "bad_reply");
            return false;
          }
          info = InfoFromHeaders(id, res, *total);
          if (!info.ok()) {
            sink_status = info.status();
            return false;
          }
        }
        return true;
      },
      [&](const char* data, size_t length) {
        if (status != 200 && status != 206) {
          if (error_body.size() < 65536) error_body.append(data, length);
          return true;
        }
        ByteView bytes(reinterpret_cast<const uint8_t*>(data), length);
        if (verify) hasher.Update(bytes);
        received += length;
        sink_status = sink(bytes);
        return sink_status.ok();
      });
  if (!sink_status.ok()) return sink_status;
  if (!result) return TransportError(result, pin_ ? &pin_->mismatch : nullptr);
  if (status != 200 && status != 206) return FromHttpStatus(status, error_body);
  if (!info.ok()) return info.status();
  const uint64_t wanted = options.length.has_value()
                              ? std::min(*options.length, info->size - offset)
                              : info->size - offset;
  if (received != wanted) return UnavailableError("download ended early", "network");
  if (verify && HexEncode(hasher.Finish()) != info->sha256) {
    return CorruptError("downloaded content does not match its SHA-256", "sha256_mismatch");
  }
  return info;
}

StatusOr<ObjectInfo> RemoteStore::Head(std::string_view id) {
  if (!IsValidObjectId(id)) return InvalidArgumentError("bad object id", "bad_object_id");
  std::lock_guard lock(mu_);
  if (pin_) pin_->mismatch = false;
  DropClosedConnection();
  httplib::Headers headers = AuthHeaders(options_.token);
  httplib::Result result = client_->Head("/v1/objects/" + std::string(id), headers);
  if (!result) return TransportError(result, pin_ ? &pin_->mismatch : nullptr);
  if (result->status != 200) return FromHttpStatus(result->status, result->body);
  auto size = ParseU64(result->get_header_value("Content-Length"));
  if (!size.has_value()) return CorruptError("HEAD reply lacks Content-Length", "bad_reply");
  return InfoFromHeaders(id, *result, *size);
}

Status RemoteStore::Delete(std::string_view id) {
  if (!IsValidObjectId(id)) return InvalidArgumentError("bad object id", "bad_object_id");
  std::lock_guard lock(mu_);
  if (pin_) pin_->mismatch = false;
  DropClosedConnection();
  httplib::Headers headers = AuthHeaders(options_.token);
  httplib::Result result = client_->Delete("/v1/objects/" + std::string(id), headers);
  if (!result) return TransportError(result, pin_ ? &pin_->mismatch : nullptr);
  if (result->status != 204) return FromHttpStatus(result->status, result->body);
  return Status::Ok();
}

StatusOr<ListPage> RemoteStore::List(const ListOptions& options) {
  if (!IsValidObjectIdPrefix(options.prefix) || !IsValidObjectIdPrefix(options.after)) {
    return InvalidArgumentError("prefix and after must be lowercase hex", "bad_prefix");
  }
  // Both are hex, so they need no escaping.
  std::string path = "/v1/objects?limit=" + std::to_string(options.limit);
  if (!options.prefix.empty()) path += "&prefix=" + options.prefix;
  if (!options.after.empty()) path += "&after=" + options.after;
  if (options.kind) path += "&kind=" + std::string(ObjectKindName(*options.kind));
  std::lock_guard lock(mu_);
  if (pin_) pin_->mismatch = false;
  DropClosedConnection();
  httplib::Headers headers = AuthHeaders(options_.token);
  httplib::Result result = client_->Get(path, headers);
  if (!result) return TransportError(result, pin_ ? &pin_->mismatch : nullptr);
  if (result->status != 200) return FromHttpStatus(result->status, result->body);
  try {
    Json j = Json::parse(result->body);
    ListPage page;
    page.truncated = j.at("truncated").get<bool>();
    for (const auto& item : j.at("objects")) {
      CV_ASSIGN_OR_RETURN(ObjectInfo info, InfoFromJson(item));
      page.objects.push_back(std::move(info));
    }
    return page;
  } catch (const std::exception& e) {
    return CorruptError(std::string("malformed listing: ") + e.what(), "bad_reply");
  }
}

StatusOr<std::string> RemoteStore::WhoAmI() {
  std::lock_guard lock(mu_);
  if (pin_) pin_->mismatch = false;
  DropClosedConnection();
  httplib::Headers headers = AuthHeaders(options_.token);
  httplib::Result result = client_->Get("/v1/whoami", headers);
  if (!result) return TransportError(result, pin_ ? &pin_->mismatch : nullptr);
  if (result->status != 200) return FromHttpStatus(result->status, result->body);
  try {
    return Json::parse(result->body).at("user").get<std::string>();
  } catch (const std::exception& e) {
    return CorruptError(std::string("malformed whoami reply: ") + e.what(), "bad_reply");
  }
}

Status RemoteStore::Health(std::string* date) {
  std::lock_guard lock(mu_);
  if (pin_) pin_->mismatch = false;
  DropClosedConnection();
  httplib::Result result = client_->Get("/v1/health");
  if (!result) return TransportError(result, pin_ ? &pin_->mismatch : nullptr);
  if (date != nullptr) *date = result->get_header_value("Date");
  if (result->status != 200) return FromHttpStatus(result->status, result->body);
  return Status::Ok();
}

}  // namespace cardvault
