// What only the Unix socket transport does: the socket's and its directory's modes, and a
// stale socket file from a killed agent replaced.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "agent/control/control_client.h"
#include "agent/control/control_server.h"
#include "tests/agent/control_test_address.h"
#include "tests/core/test_platform.h"

namespace cardvault {

std::string ControlTestAddress(const std::string& dir) { return dir + "/run/agent.sock"; }

namespace {

TEST(ControlUnixTest, PermissionsAndStaleSocket) {
  const std::string dir = NewTempDir("cv-control-unix");
  const std::string path = ControlTestAddress(dir);
  auto handler = [](const std::string&) -> StatusOr<std::string> { return std::string("{}"); };
  {
    auto server = ControlServer::Start(path, handler);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    struct stat st;
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    ASSERT_EQ(::stat((dir + "/run").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
  }
  EXPECT_FALSE(std::filesystem::exists(path)) << "the socket is removed on shutdown";

  // A socket file left by a killed agent: bound, never unlinked, nobody listening.
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, path.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::close(fd);
  auto server = ControlServer::Start(path, handler);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  EXPECT_TRUE(ControlClient::Connect(path).value()->Call("status").ok());
  server->reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cardvault
