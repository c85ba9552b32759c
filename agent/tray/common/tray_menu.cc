// MenuOf: the menu's texts and enabled items for a view.
#include "agent/tray/common/tray_menu.h"

namespace cardvault {

TrayMenu MenuOf(const TrayView& view) {
  const bool running = view.state != TrayState::kAgentNotRunning;
  TrayMenu m;
  m.status_text = view.status_line.empty() ? "Connecting to the agent..." : view.status_line;
  m.pause_text = view.paused ? "Resume syncing" : "Pause syncing";
  m.pause_command = view.paused ? AgentCommand::kResume : AgentCommand::kPause;
  m.pause_enabled = running;
  m.sync_enabled = running && !view.paused;
  m.open_folder_enabled = !view.vault_dir.empty();
  m.tooltip = view.tooltip.empty() ? "cardvault" : view.tooltip;
  return m;
}

}  // namespace cardvault
