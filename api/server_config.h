// ServerConfig: cardvault-server settings, stored as config.json in the data directory.
#ifndef CARDVAULT_API_SERVER_CONFIG_H_
#define CARDVAULT_API_SERVER_CONFIG_H_

#include <cstdint>
#include <string>

#include "core/env.h"
#include "core/status_or.h"

namespace cardvault {

// Every field has a default, so a config.json may list only what it changes. Relative
// paths (cert_file, key_file) are relative to the data directory.
struct ServerConfig {
  std::string listen_host = "127.0.0.1";
  int port = 8443;
  std::string cert_file = "tls/cert.pem";
  std::string key_file = "tls/key.pem";
  uint64_t max_object_bytes = uint64_t{4} << 30;
  uint64_t quota_bytes = uint64_t{100} << 30;
  int64_t retention_seconds = 7 * 24 * 3600;
  uint64_t inline_max_bytes = 64 * 1024;  // smaller objects are kept in the index
  // Connections open at once, each on a thread of its own; beyond: 503 "overloaded" (or,
  // past a few more, a socket closed before TLS).
  int max_connections = 512;
  int max_connections_per_address = 32;  // from one client IP address; beyond: as above
  // TLS handshake plus request line and headers, in total (not per read); for a request
  // that is not authenticated, its body too.
  int header_timeout_seconds = 10;
  int max_header_bytes = 64 * 1024;  // request line and headers; beyond: 431
  int max_header_count = 100;        // header lines; beyond: 431
  // Deleted and replaced versions kept for retention_seconds may use this % of the quota
  // on top of it (0..1000); beyond: 507 "retained_quota_exceeded".
  uint64_t retained_quota_percent = 100;
  int read_timeout_seconds = 30;  // per socket read of a body; bounds a stalled upload
  int write_timeout_seconds = 30;
  int keep_alive_timeout_seconds = 5;  // idle connections; also bounds SIGTERM shutdown
  int keep_alive_max_requests = 1000;
  int auth_failures_before_backoff = 10;  // bad tokens from one address ...
  int auth_failure_window_seconds = 60;   // ... within this window ...
  int auth_backoff_seconds = 60;          // ... answer 429 for this long
  bool access_log = true;                 // one line per request on stderr

  // Parses JSON text; unknown keys (named in the message) and wrong types are
  // kInvalidArgument ("bad_config"). Retired keys ("threads", "max_queued_connections")
  // are accepted and ignored, so config files written by older versions still load.
  static StatusOr<ServerConfig> FromJson(std::string_view json);
  std::string ToJson() const;

  static StatusOr<ServerConfig> Load(Env& env, const std::string& path);
  Status Save(Env& env, const std::string& path) const;
};

}  // namespace cardvault

#endif  // CARDVAULT_API_SERVER_CONFIG_H_
