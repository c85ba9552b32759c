// AgentLink: the one interface the tray (and any other front end) uses to talk to a running
// agent: status, pause, resume, sync now and the stream of sync events.
#ifndef CARDVAULT_AGENT_CONTROL_AGENT_LINK_H_
#define CARDVAULT_AGENT_CONTROL_AGENT_LINK_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status_or.h"

namespace cardvault {

// The agent's "status" answer (docs/control-protocol.md).
struct AgentStatus {
  bool paused = false;          // "state": "paused" (else "running")
  int64_t pending = 0;          // versions queued or encrypted, not yet uploaded
  int64_t uploaded = 0;         // versions confirmed by the server
  int64_t failed = 0;           // versions that failed for good
  int64_t last_success_ns = 0;  // Unix time of the last upload, 0 = never
  std::string vault_dir;        // the watched folder
  std::string last_error;       // why syncing is held up, empty when it is not
};

// One sync event ("file_queued", "file_uploaded", "file_failed", "file_retry", "skipped",
// "epoch_created", "epoch_uploaded"; docs/control-protocol.md).
struct AgentEvent {
  std::string type;
  std::string path;
  std::string detail;
};

// Every call may block for at most the link's timeout; call it off the GUI thread. Errors:
// kUnavailable with reason "agent_not_running" when no agent answers (the next call tries
// to connect again, so a restarted agent is picked up), "timeout" when it does not answer
// in time; the agent's own refusals keep their reason (e.g. "unknown_command").
// Not thread-safe: one caller at a time.
class AgentLink {
 public:
  virtual ~AgentLink() = default;

  [[nodiscard]] virtual StatusOr<AgentStatus> GetStatus() = 0;
  [[nodiscard]] virtual Status Pause() = 0;
  [[nodiscard]] virtual Status Resume() = 0;
  [[nodiscard]] virtual Status SyncNow() = 0;
  // The events that arrived since the previous call (subscribing on first use and after
  // every reconnect), waiting up to `timeout_ms` for the first one. Events sent while no
  // connection was up are lost: ask GetStatus() after a reconnect.
  [[nodiscard]] virtual StatusOr<std::vector<AgentEvent>> PollEvents(int timeout_ms) = 0;
};

// An AgentLink over the agent's control socket (ControlClient). `timeout_ms` bounds each
// call. Connects lazily; never blocks longer than `timeout_ms` per call.
std::unique_ptr<AgentLink> NewSocketAgentLink(std::string socket_path, int timeout_ms = 2000);

// The socket a default `cardvault run` listens on (DefaultControlSocketPath()).
std::string DefaultAgentSocketPath();

// Parses a "status" result (JSON text). Missing fields keep their defaults.
[[nodiscard]] StatusOr<AgentStatus> ParseAgentStatus(const std::string& json);

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_CONTROL_AGENT_LINK_H_
