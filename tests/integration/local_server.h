// LocalServer: a real cardvault-server child process on a free port of 127.0.0.1 with its
// self-signed certificate (pinned by fingerprint), users and device tokens. No gtest: the
// integration tests' ServerProcess and the benchmarks (bench/) both build on it.
#ifndef CARDVAULT_TESTS_INTEGRATION_LOCAL_SERVER_H_
#define CARDVAULT_TESTS_INTEGRATION_LOCAL_SERVER_H_

#include <memory>
#include <string>

#include "api/remote_store.h"
#include "core/status_or.h"
#include "tests/integration/process_util.h"

namespace cardvault {

class LocalServer {
 public:
  // `dir` holds the data directory ("server") and the log ("server.log").
  explicit LocalServer(std::string dir) : dir_(std::move(dir)) {}

  // Creates the data directory: a free port, no access log, then the keys of `extra_config`
  // (the text of a JSON object, may be empty) over the defaults.
  Status Init(const std::string& extra_config = {});
  // Sets config keys (the text of a JSON object); takes effect at the next Start.
  Status SetConfig(const std::string& json_object);
  // Adds a user, issues a device token, writes it to `token_file` (mode 0600), returns it.
  StatusOr<std::string> AddUser(const std::string& user, const std::string& token_file);
  // Serves (with `env` added) and waits until /v1/health answers. `server` replaces the
  // program and its leading arguments (default: {build/api/cardvault-server}), e.g. a test
  // binary with a fault wired in.
  Status Start(const EnvVars& env = {}, const std::vector<std::string>& server = {});
  // SIGTERM and wait (the destructor of process() kills with SIGKILL instead).
  void Stop();

  ChildProcess& process() { return *process_; }
  // A client for `token`; kInvalidArgument etc. if it cannot be built.
  StatusOr<std::unique_ptr<RemoteStore>> Client(const std::string& token) const;
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  const std::string& fingerprint() const { return fingerprint_; }
  int port() const { return port_; }
  std::string data_dir() const { return dir_ + "/server"; }
  std::string cert_file() const { return data_dir() + "/tls/cert.pem"; }
  std::string log_file() const { return dir_ + "/server.log"; }

 private:
  std::string dir_;
  std::string fingerprint_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace cardvault

#endif  // CARDVAULT_TESTS_INTEGRATION_LOCAL_SERVER_H_
