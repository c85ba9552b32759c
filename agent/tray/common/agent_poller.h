// AgentPoller: a thread of its own that talks to the agent through an AgentLink, so the GUI
// thread never waits on the socket: it runs queued commands, drains events and refreshes
// the status.
#ifndef CARDVAULT_AGENT_TRAY_COMMON_AGENT_POLLER_H_
#define CARDVAULT_AGENT_TRAY_COMMON_AGENT_POLLER_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "agent/control/agent_link.h"

namespace cardvault {

enum class AgentCommand { kPause, kResume, kSyncNow };

const char* AgentCommandName(AgentCommand command);  // "pause", "resume", "sync_now"

class AgentPoller {
 public:
  // Called on the poller's thread, one at a time; they must not call back into the poller
  // except Request().
  struct Callbacks {
    std::function<void(const StatusOr<AgentStatus>&)> on_status;
    std::function<void(const std::vector<AgentEvent>&)> on_events;
    std::function<void(AgentCommand, const Status&)> on_command_done;
  };

  // Starts the thread. The status is fetched at once, then every `status_interval_ms`, and
  // right after a command or a batch of events. Events are looked for every `tick_ms`.
  AgentPoller(std::unique_ptr<AgentLink> link, Callbacks callbacks, int status_interval_ms,
              int tick_ms = 200);
  // Stops the thread; waits for the call in progress (at most the link's timeout).
  ~AgentPoller();

  // Queues a command; returns at once. Thread-safe.
  void Request(AgentCommand command);

 private:
  void Run();
  Status Execute(AgentCommand command);

  const std::unique_ptr<AgentLink> link_;
  const Callbacks callbacks_;
  const int status_interval_ms_;
  const int tick_ms_;
  std::mutex mu_;  // guards queue_ and stop_
  std::condition_variable cv_;
  std::deque<AgentCommand> queue_;
  bool stop_ = false;
  std::thread thread_;  // started last
};

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_TRAY_COMMON_AGENT_POLLER_H_
