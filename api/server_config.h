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
  int threads = 8;                        // connections served at once
  int max_queued_connections = 64;        // waiting for a thread; beyond: 503 "overloaded"
  int read_timeout_seconds = 30;          // per socket read, also bounds a stalled upload
  int write_timeout_seconds = 30;
  int keep_alive_timeout_seconds = 5;  // idle connections; also bounds SIGTERM shutdown
  int keep_alive_max_requests = 1000;
  int auth_failures_before_backoff = 10;  // bad tokens from one address ...
  int auth_failure_window_seconds = 60;   // ... within this window ...
  int auth_backoff_seconds = 60;          // ... answer 429 for this long
  bool access_log = true;                 // one line per request on stderr

  // Parses JSON text; unknown keys and wrong types are kInvalidArgument ("bad_config").
  static StatusOr<ServerConfig> FromJson(std::string_view json);
  std::string ToJson() const;

  static StatusOr<ServerConfig> Load(Env& env, const std::string& path);
  Status Save(Env& env, const std::string& path) const;
};

}  // namespace cardvault

#endif  // CARDVAULT_API_SERVER_CONFIG_H_
