// Tests for the socket AgentLink against a real ControlServer: status fields, commands,
// events, an absent agent and an agent that restarts.
#include "agent/control/agent_link.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>
#include <vector>

#include "agent/control/control_server.h"

namespace cardvault {
namespace {

class AgentLinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cv-link-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    path_ = dir_ + "/run/agent.sock";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<ControlServer> StartServer() {
    auto s = ControlServer::Start(path_, [this](const std::string& cmd) -> StatusOr<std::string> {
      std::lock_guard<std::mutex> lock(mu_);
      commands_.push_back(cmd);
      if (cmd == "status") return status_json_;
      if (cmd == "pause" || cmd == "resume" || cmd == "sync_now") return std::string("{}");
      return InvalidArgumentError("unknown command " + cmd, "unknown_command");
    });
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }

  std::vector<std::string> Commands() {
    std::lock_guard<std::mutex> lock(mu_);
    return commands_;
  }

  std::string dir_, path_;
  std::mutex mu_;
  std::vector<std::string> commands_;
  std::string status_json_ =
      R"({"state":"paused","pending":3,"uploaded":41,"failed":2,"last_success_ns":1700000000000000000,)"
      R"("vault_dir":"/home/u/Vault","last_error":"server down"})";
};

TEST_F(AgentLinkTest, StatusCarriesEveryField) {
  auto server = StartServer();
  auto link = NewSocketAgentLink(path_, 1000);
  auto s = link->GetStatus();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_TRUE(s->paused);
  EXPECT_EQ(s->pending, 3);
  EXPECT_EQ(s->uploaded, 41);
  EXPECT_EQ(s->failed, 2);
  EXPECT_EQ(s->last_success_ns, 1700000000000000000);
  EXPECT_EQ(s->vault_dir, "/home/u/Vault");
  EXPECT_EQ(s->last_error, "server down");
}

TEST_F(AgentLinkTest, CommandsReachTheAgentByName) {
  auto server = StartServer();
  auto link = NewSocketAgentLink(path_, 1000);
  ASSERT_TRUE(link->Pause().ok());
  ASSERT_TRUE(link->Resume().ok());
  ASSERT_TRUE(link->SyncNow().ok());
  EXPECT_EQ(Commands(), (std::vector<std::string>{"pause", "resume", "sync_now"}));
}

TEST_F(AgentLinkTest, EventsArriveAfterTheFirstPoll) {
  auto server = StartServer();
  auto link = NewSocketAgentLink(path_, 1000);
  auto none = link->PollEvents(0);  // subscribes
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_TRUE(none->empty());
  server->Publish(R"({"event":"file_failed","path":"a/b.txt","detail":"permission denied"})");
  server->Publish(R"({"event":"file_uploaded","path":"c.txt"})");
  std::vector<AgentEvent> got;
  for (int i = 0; i < 50 && got.size() < 2; ++i) {
    auto more = link->PollEvents(100);
    ASSERT_TRUE(more.ok()) << more.status().ToString();
    got.insert(got.end(), more->begin(), more->end());
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].type, "file_failed");
  EXPECT_EQ(got[0].path, "a/b.txt");
  EXPECT_EQ(got[0].detail, "permission denied");
  EXPECT_EQ(got[1].type, "file_uploaded");
  EXPECT_EQ(got[1].detail, "");
}

TEST_F(AgentLinkTest, NoAgentIsAgentNotRunningAndARestartedAgentIsPickedUp) {
  auto link = NewSocketAgentLink(path_, 1000);
  auto absent = link->GetStatus();
  EXPECT_EQ(absent.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(absent.status().reason(), "agent_not_running");
  EXPECT_EQ(link->Pause().reason(), "agent_not_running");

  auto server = StartServer();
  ASSERT_TRUE(link->GetStatus().ok());
  server.reset();  // the agent stops: the open connection is closed
  EXPECT_EQ(link->GetStatus().status().reason(), "agent_not_running");
  EXPECT_FALSE(link->PollEvents(0).ok());

  server = StartServer();
  auto back = link->GetStatus();
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->uploaded, 41);
}

TEST_F(AgentLinkTest, RefusalsKeepTheirReasonAndTheConnection) {
  status_json_ = "[1, 2]";
  auto server = StartServer();
  auto link = NewSocketAgentLink(path_, 1000);
  EXPECT_EQ(link->GetStatus().status().reason(), "bad_status");
  EXPECT_TRUE(link->SyncNow().ok());
}

TEST(ParseAgentStatusTest, MissingFieldsKeepDefaults) {
  auto s = ParseAgentStatus(R"({"state":"running","pending":"many"})");
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s->paused);
  EXPECT_EQ(s->pending, 0);
  EXPECT_EQ(s->vault_dir, "");
  EXPECT_FALSE(ParseAgentStatus("not json").ok());
}

}  // namespace
}  // namespace cardvault
