// Tests for the control channel over a real Unix socket: calls, errors, events, a second
// agent, a stale socket, permissions and hostile input.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>

#include "agent/control/control_client.h"
#include "agent/control/control_server.h"

namespace cardvault {
namespace {

class ControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cv-control-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    path_ = dir_ + "/run/agent.sock";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<ControlServer> StartServer() {
    auto s = ControlServer::Start(path_, [this](const std::string& cmd) -> StatusOr<std::string> {
      ++calls_;
      if (cmd == "status") return std::string(R"({"state":"idle","pending":3})");
      if (cmd == "pause") return std::string("{}");
      return InvalidArgumentError("unknown command " + cmd, "unknown_command");
    });
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }

  std::string dir_, path_;
  std::atomic<int> calls_{0};
};

TEST_F(ControlTest, CallsAnswerAndErrorsCarryTheirCode) {
  auto server = StartServer();
  auto client = ControlClient::Connect(path_);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto status = (*client)->Call("status");
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_EQ(*status, R"({"pending":3,"state":"idle"})");
  auto bad = (*client)->Call("explode");
  EXPECT_EQ(bad.status().reason(), "unknown_command");
  EXPECT_NE(bad.status().message().find("explode"), std::string::npos);
  EXPECT_EQ(calls_, 2);
}

TEST_F(ControlTest, SubscribersReceiveEvents) {
  auto server = StartServer();
  auto sub = ControlClient::Connect(path_).value();
  auto other = ControlClient::Connect(path_).value();
  ASSERT_TRUE(sub->Call("subscribe").ok());
  ASSERT_TRUE(other->Call("status").ok());
  server->Publish(R"({"event":"file_uploaded","path":"a.txt"})");
  auto e = sub->ReadEvent(2000);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(*e, R"({"event":"file_uploaded","path":"a.txt"})");
  EXPECT_EQ(other->ReadEvent(200).status().reason(), "timeout") << "not subscribed";
}

TEST_F(ControlTest, PermissionsSecondAgentAndStaleSocket) {
  {
    auto server = StartServer();
    struct stat st;
    ASSERT_EQ(::stat(path_.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    ASSERT_EQ(::stat((dir_ + "/run").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
    auto second = ControlServer::Start(path_, [](const std::string&) { return std::string("{}"); });
    EXPECT_EQ(second.status().reason(), "agent_running");
  }
  EXPECT_FALSE(std::filesystem::exists(path_)) << "the socket is removed on shutdown";
  EXPECT_EQ(ControlClient::Connect(path_).status().reason(), "agent_not_running");

  // A socket file left by a killed agent: bound, never unlinked, nobody listening.
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, path_.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::close(fd);
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  EXPECT_TRUE(ControlClient::Connect(path_).value()->Call("status").ok());
}

TEST_F(ControlTest, HostileInputIsAnsweredOrDisconnected) {
  auto server = StartServer();
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, path_.c_str());
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string junk = "not json\n{\"cmd\": 7}\n";
  ASSERT_EQ(::write(fd, junk.data(), junk.size()), static_cast<ssize_t>(junk.size()));
  char buf[4096];
  std::string got;
  while (std::count(got.begin(), got.end(), '\n') < 2) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    ASSERT_GT(n, 0);
    got.append(buf, static_cast<size_t>(n));
  }
  EXPECT_NE(got.find("bad_request"), std::string::npos) << got;
  // A line beyond 64 KiB without a newline gets the connection closed.
  std::string huge(100 * 1024, 'x');
  ssize_t sent = ::send(fd, huge.data(), huge.size(), MSG_NOSIGNAL);
  EXPECT_GT(sent, 0);
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) {
  }
  // Closed by the agent: an orderly close, or a reset when our unread bytes were dropped.
  EXPECT_TRUE(n == 0 || (n < 0 && errno == ECONNRESET)) << n << " " << std::strerror(errno);
  ::close(fd);
  EXPECT_EQ(calls_, 0) << "nothing malformed reached the handler";
  EXPECT_TRUE(ControlClient::Connect(path_).value()->Call("status").ok()) << "still serving";
}

}  // namespace
}  // namespace cardvault
