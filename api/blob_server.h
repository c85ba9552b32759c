// BlobServer: the cardvault REST API (v1) over HTTPS, in front of a BlobStore.
#ifndef CARDVAULT_API_BLOB_SERVER_H_
#define CARDVAULT_API_BLOB_SERVER_H_

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "api/address_ranges.h"
#include "api/auth_limiter.h"
#include "api/connection_limiter.h"
#include "api/server_config.h"
#include "core/env.h"
#include "core/status_or.h"
#include "storage/blob_store.h"
#include "storage/token_store.h"

namespace httplib {
class SSLServer;
}  // namespace httplib

namespace cardvault {

class ServerTlsContext;

// Serves /v1/health, /v1/ready, /v1/whoami and /v1/objects (see docs/api/openapi.yaml) with
// TLS 1.2+ (1.3 preferred), ECDHE + AEAD cipher suites only. Request bodies stream into the store
// chunk by chunk and downloads stream out of it: memory per request is bounded and
// independent of the object size. One access-log line per request goes to stderr; tokens
// and request headers are never logged.
//
// Hostile clients (docs/server.md "Limits"): each connection runs on a thread of its own, up
// to `max_connections` in total and `max_connections_per_address` per client address (beyond:
// 503 "overloaded", or a socket closed before TLS), so idle or slow connections never hold a
// thread another client needs. The TLS handshake plus a request's line and headers MUST
// complete within `header_timeout_seconds` in total, and an unauthenticated request's body
// too; request line and headers are bounded by `max_header_bytes` and `max_header_count`
// (beyond: 431, memory stays flat). More than one Content-Length is answered 400.
//
// Behind a load balancer (`proxy_protocol_from`): a connection from a listed address MUST
// start with a PROXY protocol header (v1 or v2, api/proxy_protocol.h), read before TLS within
// `header_timeout_seconds`; without one, or with a malformed one, it is closed and logged.
// The client address the header names replaces the balancer's for the connection limits, the
// auth back-off and the access log. Connections from other addresses are never read for one.
//
// /v1/health answers 200 without looking at the stores (a load balancer's check: an
// instance whose shared store is down still answers its clients with the store's 503);
// /v1/ready answers 200 only when the store's Probe() passes, else 503 with the reason a
// request would get, probing at most once per second.
//
// Bad tokens count per client address in `auth_backoff` (shared by several instances when
// it is PgAuthBackoff); without one, in the server's own AuthLimiter. A back-off that fails
// (its database unreachable) is logged and lets the request through to the token check.
//
// Lifetime: `store`, `tokens`, `env` and `auth_backoff` MUST outlive the server. Bind() once, then
// Serve() on one thread; Stop() from any thread (or a signal-handling thread) makes Serve() stop
// accepting, let requests in flight finish (an upload that cannot finish is aborted and
// leaves nothing), and return.
class BlobServer {
 public:
  // Uses cert/key paths as given (the caller resolves them against the data directory).
  static StatusOr<std::unique_ptr<BlobServer>> New(const ServerConfig& config,
                                                   const std::string& cert_file,
                                                   const std::string& key_file, BlobStore* store,
                                                   TokenStore* tokens, Env* env,
                                                   AuthBackoff* auth_backoff = nullptr);
  ~BlobServer();
  BlobServer(const BlobServer&) = delete;
  BlobServer& operator=(const BlobServer&) = delete;

  // Binds `host`:`port` (0 = an ephemeral port) and returns the port.
  StatusOr<int> Bind(const std::string& host, int port);
  // Accepts connections until Stop(). Returns at once if Stop() came first.
  Status Serve();
  void Stop();
  // Reads the certificate and key files again (SIGHUP): new connections get them, open ones
  // keep theirs. On failure the current certificate stays and the status says why. Returns
  // the new certificate's fingerprint. Thread-safe.
  StatusOr<std::string> ReloadCertificate();

  // Runs the raw bytes of one connection (one or more requests, as they would arrive after
  // the TLS layer) through the same parsing, routing and handlers as a real connection,
  // without a socket, and returns the bytes the server would send back. For fuzzing and
  // tests only; the server need not be bound.
  std::string ProcessRawForTesting(std::string_view bytes);

 private:
  class Routes;
  BlobServer(const ServerConfig& config, BlobStore* store, TokenStore* tokens, Env* env,
             AuthBackoff* auth_backoff);
  void InstallRoutes();
  // GET /v1/ready: the store's Probe(), run at most once per kReadyProbeIntervalNanos
  // whatever the number of callers (the others get the last answer). Thread-safe.
  Status Ready();
  static constexpr int64_t kReadyProbeIntervalNanos = 1000000000;

  ServerConfig config_;
  BlobStore* store_;
  TokenStore* tokens_;
  Env* env_;
  AuthLimiter limiter_;    // used when no AuthBackoff was given
  AuthBackoff* backoff_;   // the one in use: the given one, or &limiter_
  AddressRanges proxies_;  // config_.proxy_protocol_from
  ConnectionLimiter connections_;
  std::unique_ptr<ServerTlsContext> tls_;
  std::unique_ptr<Routes> server_;
  std::atomic<bool> stopped_{false};
  std::mutex ready_mu_;  // guards the three below
  bool ready_probed_ = false;
  int64_t ready_at_ns_ = 0;
  Status ready_;
};

}  // namespace cardvault

#endif  // CARDVAULT_API_BLOB_SERVER_H_
