// The radosgw fixture itself: it answers on its port, stops and starts again.
#include "tests/storage/rgw_cluster.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace cardvault {
namespace {

// Whether something accepts TCP connections at the endpoint's port.
bool Accepts(const std::string& endpoint) {
  const int port = std::stoi(endpoint.substr(endpoint.rfind(':') + 1));
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

TEST(RgwClusterTest, AnswersStopsAndStartsAgain) {
  std::string why_not;
  RgwCluster* rgw = SharedRgwCluster(&why_not);
  if (rgw == nullptr) GTEST_SKIP() << why_not;
  EXPECT_TRUE(Accepts(rgw->endpoint())) << rgw->endpoint();
  EXPECT_FALSE(rgw->bucket().empty());
  EXPECT_EQ(access((rgw->credentials_file()).c_str(), R_OK), 0);
  ASSERT_TRUE(rgw->StopGateway().ok());
  EXPECT_FALSE(Accepts(rgw->endpoint()));
  ASSERT_TRUE(rgw->StartGateway().ok());
  EXPECT_TRUE(Accepts(rgw->endpoint()));
}

}  // namespace
}  // namespace cardvault
