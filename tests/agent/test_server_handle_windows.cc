// TestServerHandle on Windows: the Linux cardvault-server started by
// tests/windows/sync_engine_test.sh. The driver writes a file (0600) and names it in
// CARDVAULT_TEST_SERVER, read here (test code only):
//   port=PORT             the server on 127.0.0.1
//   fingerprint=HEX       the SHA-256 of its certificate, pinned
//   data_dir=PATH         its stored objects, as Wine sees them (Z:/...)
//   token=cvt_...         one line per fresh user, each for one handle, in order
#include <stdlib.h>

#include <fstream>
#include <vector>

#include "tests/agent/test_server_handle.h"
#include "tests/api/pinned_client.h"

namespace cardvault {
namespace {

struct ExternalServerList {
  int port = 0;
  std::string fingerprint;
  std::string data_dir;
  std::vector<std::string> tokens;
  size_t next = 0;  // the next token not yet taken
};

StatusOr<ExternalServerList> ReadServerList() {
  const char* path = ::getenv("CARDVAULT_TEST_SERVER");
  if (path == nullptr || *path == '\0') {
    return FailedPreconditionError(
        "CARDVAULT_TEST_SERVER is not set: run this test through "
        "tests/windows/sync_engine_test.sh (scripts/test-windows.sh), which starts the Linux "
        "cardvault-server and its users",
        "no_test_server");
  }
  std::ifstream in(path);
  if (!in) return NotFoundError(std::string("cannot read ") + path, "no_test_server");
  ExternalServerList list;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = line.substr(0, eq), value = line.substr(eq + 1);
    if (key == "port") list.port = std::stoi(value);
    if (key == "fingerprint") list.fingerprint = value;
    if (key == "data_dir") list.data_dir = value;
    if (key == "token") list.tokens.push_back(value);
  }
  if (list.port == 0 || list.fingerprint.empty() || list.tokens.empty()) {
    return InvalidArgumentError(std::string(path) + " lacks port, fingerprint or tokens",
                                "no_test_server");
  }
  return list;
}

class ExternalServer final : public TestServerHandle {
 public:
  ExternalServer(const ExternalServerList& list, std::string token)
      : port_(list.port),
        fingerprint_(list.fingerprint),
        data_dir_(list.data_dir),
        token_(std::move(token)) {}

  std::unique_ptr<RemoteStore> Client() override {
    return PinnedTestClient(port_, fingerprint_, token_);
  }
  void Restart() override {}  // not this process's server
  std::string data_dir() const override { return data_dir_; }

 private:
  int port_;
  std::string fingerprint_;
  std::string data_dir_;
  std::string token_;
};

}  // namespace

StatusOr<std::unique_ptr<TestServerHandle>> TestServerHandle::New() {
  static StatusOr<ExternalServerList> list = ReadServerList();  // read once per process
  if (!list.ok()) return list.status();
  if (list->next == list->tokens.size()) {
    return ResourceExhaustedError(
        "all " + std::to_string(list->tokens.size()) +
            " fresh users the driver made are taken: tests/windows/sync_engine_test.sh makes "
            "one per test (a filter that repeats tests needs more)",
        "no_test_server");
  }
  const std::string& token = list->tokens[list->next++];
  return std::unique_ptr<TestServerHandle>(new ExternalServer(*list, token));
}

}  // namespace cardvault
