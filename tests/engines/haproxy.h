// Haproxy: a throwaway HAProxy (Debian's `haproxy`) in front of server instances on
// 127.0.0.1, for the multi-instance tests and the scale benchmark.
//
// Layout (docs/operations.md, "Production layout"): TLS passthrough (`mode tcp`): the
// instances terminate TLS with one certificate, so clients pin or verify the same
// certificate whichever instance answers, and the proxy never holds the key. Each connection
// to an instance starts with a PROXY protocol v2 header naming the client (`send-proxy-v2`,
// health checks too: `check-send-proxy`), so the instances MUST list 127.0.0.1 in
// proxy_protocol_from. Round robin per
// connection; each instance is health-checked with GET /v1/health over TLS every
// `check_interval_ms` (down after 2 failures, up after 1 success); a connection refused by
// a dead instance is redispatched to another one.
#ifndef CARDVAULT_TESTS_ENGINES_HAPROXY_H_
#define CARDVAULT_TESTS_ENGINES_HAPROXY_H_

#include <memory>
#include <string>
#include <vector>

#include "core/status_or.h"
#include "tests/integration/process_util.h"

namespace cardvault {

class Haproxy {
 public:
  struct Options {
    std::string dir;                 // config, stats socket and log; MUST exist
    std::vector<int> backend_ports;  // the instances on 127.0.0.1, named s0, s1, ...
    int check_interval_ms = 500;
    int timeout_seconds = 300;  // client and server inactivity
  };
  // Writes the config, starts `haproxy -db` on a free port and waits (up to 10 s) until
  // every backend is UP. kUnsupported when haproxy is not installed.
  static StatusOr<std::unique_ptr<Haproxy>> Start(Options options);
  // SIGTERM, then SIGKILL after 5 s.
  ~Haproxy();

  int port() const { return port_; }
  // "UP", "DOWN", "MAINT", ... of backend server `index` (from the stats socket), or the
  // error reaching the socket.
  StatusOr<std::string> ServerState(int index) const;
  // Connections open to backend server `index` now.
  StatusOr<int> CurrentSessions(int index) const;
  // Waits up to `timeout_ms` until server `index` is in `state` (a prefix: "UP" matches
  // "UP 1/2").
  Status WaitForState(int index, const std::string& state, int timeout_ms) const;
  std::string log_file() const { return options_.dir + "/haproxy.log"; }

 private:
  explicit Haproxy(Options options) : options_(std::move(options)) {}
  std::string Config() const;
  StatusOr<std::string> StatsCommand(const std::string& command) const;
  // Column `field` of `show stat` for backend server `index`.
  StatusOr<std::string> StatField(int index, const std::string& field) const;

  Options options_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace cardvault

#endif  // CARDVAULT_TESTS_ENGINES_HAPROXY_H_
