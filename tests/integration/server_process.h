// ServerProcess: a real cardvault-server child process on 127.0.0.1 for integration tests,
// with user "alice" and a device token, reachable through the pinned certificate. A LocalServer
// that reports failures as test failures.
#ifndef CARDVAULT_TESTS_INTEGRATION_SERVER_PROCESS_H_
#define CARDVAULT_TESTS_INTEGRATION_SERVER_PROCESS_H_

#include <memory>
#include <string>

#include "api/remote_store.h"
#include "tests/integration/local_server.h"
#include "tests/integration/process_util.h"

namespace cardvault {

class ServerProcess {
 public:
  // `dir` holds the data directory ("server"), the token file ("token") and the log.
  explicit ServerProcess(std::string dir) : dir_(dir), server_(std::move(dir)) {}

  // Creates the data directory (config on a free port, access log off), adds alice and
  // writes her token to token_file() (mode 0600). Reports failures as test failures.
  void Init();
  // Serves (with `env` added) and waits until /v1/health answers; `server` as LocalServer's.
  void Start(const EnvVars& env = {}, const std::vector<std::string>& server = {});
  void SetAccessLog(bool on);

  ChildProcess& process() { return server_.process(); }
  std::unique_ptr<RemoteStore> Client() const;  // nullptr if it cannot be built
  std::string url() const { return server_.url(); }
  const std::string& fingerprint() const { return server_.fingerprint(); }
  const std::string& token() const { return token_; }
  std::string data_dir() const { return server_.data_dir(); }
  std::string token_file() const { return dir_ + "/token"; }
  std::string log_file() const { return server_.log_file(); }
  int port() const { return server_.port(); }

 private:
  std::string dir_;
  LocalServer server_;
  std::string token_;
};

}  // namespace cardvault

#endif  // CARDVAULT_TESTS_INTEGRATION_SERVER_PROCESS_H_
