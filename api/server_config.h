// ServerConfig: cardvault-server settings, stored as config.json in the data directory.
#ifndef CARDVAULT_API_SERVER_CONFIG_H_
#define CARDVAULT_API_SERVER_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "core/env.h"
#include "core/status_or.h"

namespace cardvault {

// The "s3" object of config.json: where the S3-compatible byte store is (bytes: "s3").
// The keys themselves are in credentials_file (JSON, mode 0600), never in config.json.
struct ServerS3Config {
  std::string endpoint;  // "https://s3.example.com" or "http://127.0.0.1:7480" (path-style)
  std::string bucket;
  std::string region = "us-east-1";
  std::string prefix;            // put before every key ("" for none)
  std::string credentials_file;  // relative paths: to the data directory
  std::string ca_file;           // "" for the system's CA bundle
  uint64_t multipart_threshold_bytes = uint64_t{64} << 20;
  uint64_t part_bytes = uint64_t{16} << 20;
  int parts_in_flight = 2;  // 1 to 8; an upload holds (parts_in_flight + 1) x part_bytes
  bool operator==(const ServerS3Config&) const = default;
};

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
  // Load balancers (addresses and CIDR blocks, IPv4 and IPv6) whose connections MUST start
  // with a PROXY protocol header (v1 or v2) naming the real client; empty: off. Connections
  // from other addresses are never read for one. FromJson refuses an entry that is not an
  // address or block ("bad_config").
  std::vector<std::string> proxy_protocol_from;

  // Where the index and the users and tokens are: "sqlite" (index.db and auth.db in the data
  // directory) or a PostgreSQL connection string or postgresql:// URI shared by any number
  // of instances. It MUST NOT hold a password (FromJson refuses one: "password_in_config"):
  // libpq reads it from a passfile (~/.pgpass, PGPASSFILE or passfile=).
  std::string index = "sqlite";
  int index_pool_size = 8;  // PostgreSQL connections per instance for the index
  // Where the bytes of objects above inline_max_bytes are: "files" (blobs/ in the data
  // directory) or "s3" (the `s3` object).
  std::string bytes = "files";
  ServerS3Config s3;
  // Retention purge and orphan sweep: how often, and how old unreferenced bytes must be
  // before the sweep removes them (younger ones may belong to an upload being published).
  // With several instances, one at a time runs them (a PostgreSQL advisory lock).
  int maintenance_interval_seconds = 3600;
  int orphan_min_age_seconds = 3600;

  bool uses_postgresql() const { return index != "sqlite"; }

  // Parses JSON text; unknown keys (named in the message), wrong types and out-of-range
  // values are kInvalidArgument ("bad_config"); a password in `index` is kInvalidArgument
  // ("password_in_config"). Retired keys ("threads", "max_queued_connections")
  // are accepted and ignored, so config files written by older versions still load.
  static StatusOr<ServerConfig> FromJson(std::string_view json);
  std::string ToJson() const;

  static StatusOr<ServerConfig> Load(Env& env, const std::string& path);
  Status Save(Env& env, const std::string& path) const;
};

}  // namespace cardvault

#endif  // CARDVAULT_API_SERVER_CONFIG_H_
