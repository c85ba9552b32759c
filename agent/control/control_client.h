// ControlClient: talks to a running agent over its control channel (a Unix socket or a
// Windows named pipe: control_transport.h), used by the tray and by `cardvault status`.
#ifndef CARDVAULT_AGENT_CONTROL_CONTROL_CLIENT_H_
#define CARDVAULT_AGENT_CONTROL_CONTROL_CLIENT_H_

#include <memory>
#include <string>
#include <vector>

#include "agent/control/control_transport.h"
#include "core/status_or.h"

namespace cardvault {

class ControlClient {
 public:
  // kUnavailable ("agent_not_running") when no agent listens on `socket_path`.
  static StatusOr<std::unique_ptr<ControlClient>> Connect(const std::string& socket_path);

  // Sends {"id": N, "cmd": cmd} and returns the answer's "result" as JSON text, or the
  // agent's error as a Status. Events arriving meanwhile are kept for ReadEvent.
  StatusOr<std::string> Call(const std::string& cmd, int timeout_ms = 5000);
  // Returns the next event line (JSON text), or kUnavailable "timeout" after `timeout_ms`.
  StatusOr<std::string> ReadEvent(int timeout_ms);

 private:
  explicit ControlClient(std::unique_ptr<ControlConnection> conn) : conn_(std::move(conn)) {}
  StatusOr<std::string> ReadLine(int timeout_ms);

  std::unique_ptr<ControlConnection> conn_;
  int next_id_ = 1;
  std::string buffer_;
  std::vector<std::string> pending_events_;
};

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_CONTROL_CONTROL_CLIENT_H_
