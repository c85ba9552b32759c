// Tests for the control channel over the platform's transport (a Unix socket; a named pipe
// on Windows, run under Wine): calls, errors, events, a second agent, the address freed at
// shutdown, and hostile input. What only one transport does: control_unix_test.cc,
// control_windows_test.cc.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>

#include "agent/control/control_client.h"
#include "agent/control/control_server.h"
#include "agent/control/control_transport.h"
#include "tests/agent/control_test_address.h"
#include "tests/core/test_platform.h"

namespace cardvault {
namespace {

class ControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = NewTempDir("cv-control-test");
    path_ = ControlTestAddress(dir_);
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

TEST_F(ControlTest, ASecondAgentIsRefusedAndTheAddressIsFreedAtShutdown) {
  {
    auto server = StartServer();
    auto second = ControlServer::Start(path_, [](const std::string&) { return std::string("{}"); });
    EXPECT_EQ(second.status().reason(), "agent_running") << second.status().ToString();
    EXPECT_TRUE(ControlClient::Connect(path_).value()->Call("status").ok()) << "still serving";
  }
  EXPECT_EQ(ControlClient::Connect(path_).status().reason(), "agent_not_running");
  auto again = StartServer();
  ASSERT_NE(again, nullptr);
  EXPECT_TRUE(ControlClient::Connect(path_).value()->Call("status").ok());
}

// Reads from `conn` until `done` holds for what arrived, the connection closes, or 5 s pass.
// Returns what arrived and whether it closed.
std::pair<std::string, bool> ReadUntil(ControlConnection& conn,
                                       const std::function<bool(const std::string&)>& done) {
  std::string got;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!done(got) && std::chrono::steady_clock::now() < deadline) {
    StatusOr<std::string> r = conn.Read(4096, 100);
    if (!r.ok()) return {got, true};
    got += *r;
  }
  return {got, false};
}

TEST_F(ControlTest, HostileInputIsAnsweredOrDisconnected) {
  auto server = StartServer();
  auto conn = ConnectControl(path_).value();
  const std::string junk = "not json\n{\"cmd\": 7}\n";
  ASSERT_EQ(conn->Write(junk, 2000).value(), junk.size());
  auto [answers, closed] = ReadUntil(
      *conn, [](const std::string& s) { return std::count(s.begin(), s.end(), '\n') >= 2; });
  EXPECT_FALSE(closed);
  EXPECT_NE(answers.find("bad_request"), std::string::npos) << answers;
  // A line beyond 64 KiB without a newline gets the connection closed.
  const std::string huge(100 * 1024, 'x');
  size_t sent = 0;
  for (int i = 0; i < 100 && sent < huge.size(); ++i) {
    StatusOr<size_t> n = conn->Write(std::string_view(huge).substr(sent), 100);
    if (!n.ok()) break;  // closed by the agent while we were still sending
    sent += *n;
  }
  EXPECT_GT(sent, 64u * 1024);
  EXPECT_TRUE(ReadUntil(*conn, [](const std::string&) { return false; }).second)
      << "the agent closes the connection";
  EXPECT_EQ(calls_, 0) << "nothing malformed reached the handler";
  EXPECT_TRUE(ControlClient::Connect(path_).value()->Call("status").ok()) << "still serving";
}

// A subscriber that never reads is disconnected once 1 MiB of events waits for it; the
// others go on being served, and shutting down does not wait for it.
TEST_F(ControlTest, ASubscriberThatNeverReadsIsDropped) {
  auto server = StartServer();
  auto stuck = ControlClient::Connect(path_).value();
  ASSERT_TRUE(stuck->Call("subscribe").ok());
  const std::string event = R"({"event":"file_queued","path":")" + std::string(1000, 'p') + "\"}";
  for (int i = 0; i < 3000 && server->client_count() > 0; ++i) server->Publish(event);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (server->client_count() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(server->client_count(), 0u);
  EXPECT_TRUE(ControlClient::Connect(path_).value()->Call("status").ok());
}

}  // namespace
}  // namespace cardvault
