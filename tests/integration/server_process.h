// ServerProcess: a real cardvault-server child process on 127.0.0.1 for integration tests,
// with user "alice" and a device token, reachable through the pinned certificate.
#ifndef CARDVAULT_TESTS_INTEGRATION_SERVER_PROCESS_H_
#define CARDVAULT_TESTS_INTEGRATION_SERVER_PROCESS_H_

#include <memory>
#include <string>

#include "api/remote_store.h"
#include "tests/integration/process_util.h"

namespace cardvault {

class ServerProcess {
 public:
  // `dir` holds the data directory ("server"), the token file ("token") and the log.
  explicit ServerProcess(std::string dir) : dir_(std::move(dir)) {}

  // Creates the data directory (config on a free port, access log off), adds alice and
  // writes her token to token_file() (mode 0600). Reports failures as test failures.
  void Init();
  // Serves (with `env` added) and waits until /v1/health answers.
  void Start(const EnvVars& env = {});
  void SetAccessLog(bool on);

  ChildProcess& process() { return *process_; }
  std::unique_ptr<RemoteStore> Client() const;  // nullptr if it cannot be built
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  const std::string& fingerprint() const { return fingerprint_; }
  const std::string& token() const { return token_; }
  std::string data_dir() const { return dir_ + "/server"; }
  std::string token_file() const { return dir_ + "/token"; }
  std::string log_file() const { return dir_ + "/server.log"; }
  int port() const { return port_; }

 private:
  std::string dir_;
  std::string fingerprint_;
  std::string token_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace cardvault

#endif  // CARDVAULT_TESTS_INTEGRATION_SERVER_PROCESS_H_
