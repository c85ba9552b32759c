// TrayView: what the tray shows (icon state, menu status line, tooltip) for one answer of
// the agent, a pure function so it is the same whatever the desktop.
#ifndef CARDVAULT_AGENT_TRAY_COMMON_TRAY_STATE_H_
#define CARDVAULT_AGENT_TRAY_COMMON_TRAY_STATE_H_

#include <string>

#include "agent/control/agent_link.h"

namespace cardvault {

enum class TrayState {
  kAgentNotRunning,  // no agent answers on the socket
  kIdle,             // running, nothing pending, nothing failed
  kSyncing,          // running, versions pending
  kPaused,           // paused by the user
  kError,            // syncing held up (last_error) or versions failed for good
};

const char* TrayStateName(TrayState state);

struct TrayView {
  TrayState state = TrayState::kAgentNotRunning;
  std::string status_line;  // one line for the top of the menu
  std::string tooltip;      // several lines: state, counts, last upload
  std::string vault_dir;    // empty when unknown (agent not running)
  bool paused = false;
};

// `status` is the result of AgentLink::GetStatus(); any error means "agent not running"
// (the tooltip carries the error's message).
TrayView ViewOf(const StatusOr<AgentStatus>& status);

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_TRAY_COMMON_TRAY_STATE_H_
