// Tests for the tray's view of the agent's status (state precedence, status line, tooltip),
// shared by the Qt and the Win32 tray (agent/tray/common); run on Linux and under Wine.
#include "agent/tray/common/tray_state.h"

#include <gtest/gtest.h>

namespace cardvault {
namespace {

AgentStatus Running() {
  AgentStatus s;
  s.vault_dir = "/home/u/Vault";
  s.uploaded = 41;
  return s;
}

TEST(TrayViewTest, AnErrorIsAgentNotRunningWithItsMessage) {
  TrayView v = ViewOf(UnavailableError("no cardvault agent is running", "agent_not_running"));
  EXPECT_EQ(v.state, TrayState::kAgentNotRunning);
  EXPECT_EQ(v.status_line, "Agent not running");
  EXPECT_NE(v.tooltip.find("no cardvault agent is running"), std::string::npos);
  EXPECT_EQ(v.vault_dir, "");
}

TEST(TrayViewTest, IdleWhenNothingIsPendingOrFailed) {
  TrayView v = ViewOf(Running());
  EXPECT_EQ(v.state, TrayState::kIdle);
  EXPECT_EQ(v.status_line, "Up to date");
  EXPECT_NE(v.tooltip.find("0 pending, 41 uploaded, 0 failed"), std::string::npos) << v.tooltip;
  EXPECT_NE(v.tooltip.find("Last upload: never"), std::string::npos) << v.tooltip;
  EXPECT_EQ(v.vault_dir, "/home/u/Vault");
}

TEST(TrayViewTest, SyncingShowsThePendingCountAndTheLastUpload) {
  AgentStatus s = Running();
  s.pending = 3;
  s.last_success_ns = int64_t{1'700'000'000} * 1'000'000'000;
  TrayView v = ViewOf(s);
  EXPECT_EQ(v.state, TrayState::kSyncing);
  EXPECT_EQ(v.status_line, "Syncing: 3 pending");
  EXPECT_EQ(v.tooltip.find("Last upload: never"), std::string::npos) << v.tooltip;
  EXPECT_NE(v.tooltip.find("Last upload: 2023-11-1"), std::string::npos) << v.tooltip;
}

TEST(TrayViewTest, FailuresAndErrorsWinOverSyncingAndPausedWinsOverAll) {
  AgentStatus s = Running();
  s.pending = 3;
  s.failed = 2;
  EXPECT_EQ(ViewOf(s).state, TrayState::kError);
  EXPECT_EQ(ViewOf(s).status_line, "2 files failed");
  s.failed = 0;
  s.last_error = "server unreachable: connection refused";
  EXPECT_EQ(ViewOf(s).state, TrayState::kError);
  EXPECT_EQ(ViewOf(s).status_line, "Error: server unreachable: connection refused");
  EXPECT_NE(ViewOf(s).tooltip.find("connection refused"), std::string::npos);
  s.paused = true;
  EXPECT_EQ(ViewOf(s).state, TrayState::kPaused);
  EXPECT_TRUE(ViewOf(s).paused);
}

}  // namespace
}  // namespace cardvault
