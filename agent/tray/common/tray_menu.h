// TrayMenu: the tray's menu and tooltip for a TrayView, shared by the Qt and the Win32 tray:
// the items' texts, which are enabled, and the command the pause item sends.
#ifndef CARDVAULT_AGENT_TRAY_COMMON_TRAY_MENU_H_
#define CARDVAULT_AGENT_TRAY_COMMON_TRAY_MENU_H_

#include <string>

#include "agent/tray/common/agent_poller.h"
#include "agent/tray/common/tray_state.h"

namespace cardvault {

// The menu, top to bottom: status line (never enabled), separator, pause/resume, "Sync now",
// "Open folder", separator, "Quit" (always enabled; quits the tray only).
struct TrayMenu {
  std::string status_text;  // the view's status line, or "Connecting to the agent..."
  std::string pause_text;   // "Pause syncing" or "Resume syncing"
  AgentCommand pause_command = AgentCommand::kPause;  // what the pause item sends
  bool pause_enabled = false;                         // an agent answers
  bool sync_enabled = false;                          // an agent answers and is not paused
  bool open_folder_enabled = false;                   // the agent said which folder it watches
  std::string tooltip;                                // the view's tooltip, or "cardvault"
};

inline constexpr char kSyncNowText[] = "Sync now";
inline constexpr char kOpenFolderText[] = "Open folder";
inline constexpr char kQuitText[] = "Quit";

TrayMenu MenuOf(const TrayView& view);

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_TRAY_COMMON_TRAY_MENU_H_
