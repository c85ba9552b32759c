// TestServerHandle on Linux: a TestServer (real BlobServer over TLS on 127.0.0.1) in the test
// process, users alice and bob; the handle is alice.
#include "tests/agent/test_server_handle.h"
#include "tests/api/server_test_util.h"

namespace cardvault {
namespace {

class InProcessServer final : public TestServerHandle {
 public:
  std::unique_ptr<RemoteStore> Client() override { return server_.Client(server_.alice()); }
  void Restart() override {
    server_.Shutdown();
    server_.Start();  // on a new ephemeral port
  }
  std::string data_dir() const override { return server_.data_dir(); }

 private:
  TestServer server_;
};

}  // namespace

StatusOr<std::unique_ptr<TestServerHandle>> TestServerHandle::New() {
  return std::unique_ptr<TestServerHandle>(new InProcessServer());
}

}  // namespace cardvault
