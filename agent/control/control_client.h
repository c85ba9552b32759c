// ControlClient: talks to a running agent over its control socket (used by the tray and by
// `cardvault status`).
#ifndef CARDVAULT_AGENT_CONTROL_CONTROL_CLIENT_H_
#define CARDVAULT_AGENT_CONTROL_CONTROL_CLIENT_H_

#include <memory>
#include <string>
#include <vector>

#include "core/status_or.h"

namespace cardvault {

class ControlClient {
 public:
  // kUnavailable ("agent_not_running") when no agent listens on `socket_path`.
  static StatusOr<std::unique_ptr<ControlClient>> Connect(const std::string& socket_path);
  ~ControlClient();

  // Sends {"id": N, "cmd": cmd} and returns the answer's "result" as JSON text, or the
  // agent's error as a Status. Events arriving meanwhile are kept for ReadEvent.
  StatusOr<std::string> Call(const std::string& cmd, int timeout_ms = 5000);
  // Returns the next event line (JSON text), or kUnavailable "timeout" after `timeout_ms`.
  StatusOr<std::string> ReadEvent(int timeout_ms);

 private:
  explicit ControlClient(int fd) : fd_(fd) {}
  StatusOr<std::string> ReadLine(int timeout_ms);

  int fd_;
  int next_id_ = 1;
  std::string buffer_;
  std::vector<std::string> pending_events_;
};

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_CONTROL_CONTROL_CLIENT_H_
