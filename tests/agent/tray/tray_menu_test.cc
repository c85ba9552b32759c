// Tests for MenuOf, the menu both trays show: texts, enabled items and the pause item's
// command for each state.
#include "agent/tray/common/tray_menu.h"

#include <gtest/gtest.h>

namespace cardvault {
namespace {

TEST(TrayMenuTest, BeforeTheFirstAnswerOnlyQuitIsUsable) {
  TrayMenu m = MenuOf(TrayView{});
  EXPECT_EQ(m.status_text, "Connecting to the agent...");
  EXPECT_EQ(m.tooltip, "cardvault");
  EXPECT_FALSE(m.pause_enabled);
  EXPECT_FALSE(m.sync_enabled);
  EXPECT_FALSE(m.open_folder_enabled);
}

TEST(TrayMenuTest, ARunningAgentCanBePausedSyncedAndItsFolderOpened) {
  AgentStatus s;
  s.vault_dir = "C:\\Users\\u\\Vault";
  TrayMenu m = MenuOf(ViewOf(s));
  EXPECT_EQ(m.status_text, "Up to date");
  EXPECT_EQ(m.pause_text, "Pause syncing");
  EXPECT_EQ(m.pause_command, AgentCommand::kPause);
  EXPECT_TRUE(m.pause_enabled);
  EXPECT_TRUE(m.sync_enabled);
  EXPECT_TRUE(m.open_folder_enabled);
  EXPECT_EQ(m.tooltip.rfind("cardvault: up to date\n", 0), 0u) << m.tooltip;
}

TEST(TrayMenuTest, APausedAgentIsResumedAndNotSynced) {
  AgentStatus s;
  s.paused = true;
  TrayMenu m = MenuOf(ViewOf(s));
  EXPECT_EQ(m.pause_text, "Resume syncing");
  EXPECT_EQ(m.pause_command, AgentCommand::kResume);
  EXPECT_TRUE(m.pause_enabled);
  EXPECT_FALSE(m.sync_enabled);
}

TEST(TrayMenuTest, AnAgentNotRunningCanOnlyBeWaitedFor) {
  TrayMenu m = MenuOf(ViewOf(UnavailableError("no agent", "agent_not_running")));
  EXPECT_EQ(m.status_text, "Agent not running");
  EXPECT_FALSE(m.pause_enabled);
  EXPECT_FALSE(m.sync_enabled);
  EXPECT_FALSE(m.open_folder_enabled);
}

}  // namespace
}  // namespace cardvault
