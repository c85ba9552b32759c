// Test helper: the cardvault-server a SyncEngine test uploads to, with a fresh user of its
// own, whatever the platform. Linux (test_server_handle_linux.cc): a TestServer in the test
// process (tests/api/server_test_util.h). Windows (test_server_handle_windows.cc): the Linux
// cardvault-server that tests/windows/sync_engine_test.sh started beside Wine; each handle
// takes the next of the fresh users the driver listed (docs/windows.md).
#ifndef CARDVAULT_TESTS_AGENT_TEST_SERVER_HANDLE_H_
#define CARDVAULT_TESTS_AGENT_TEST_SERVER_HANDLE_H_

#include <memory>
#include <string>

#include "api/remote_store.h"
#include "core/status.h"

namespace cardvault {

class TestServerHandle {
 public:
  virtual ~TestServerHandle() = default;

  // A server with a user no earlier handle had: nothing of it on the server yet. Fails
  // (saying what to run) where there is none to be had, e.g. the Windows test started
  // without its driver, or more handles than the driver made users.
  static StatusOr<std::unique_ptr<TestServerHandle>> New();

  // A new connection (keep-alive, pinned certificate) as this handle's user.
  virtual std::unique_ptr<RemoteStore> Client() = 0;

  // Stops the server and starts it again on a new port, where the test owns it (Linux);
  // does nothing where the server is another process's (Windows): there, the test's own
  // client wrapper stands for the outage. Connections from Client() MUST be closed first.
  virtual void Restart() = 0;

  // The directory of the server's stored objects, readable by this process (under Wine the
  // Linux path through drive Z:).
  virtual std::string data_dir() const = 0;
};

}  // namespace cardvault

#endif  // CARDVAULT_TESTS_AGENT_TEST_SERVER_HANDLE_H_
