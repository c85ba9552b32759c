// Daemon: the long-running agent behind `cardvault run`: watches the vault, feeds settled
// files to the sync engine, rescans at start-up and periodically, serves the control
// channel, and drains cleanly on Stop().
#ifndef CARDVAULT_AGENT_SYNC_DAEMON_H_
#define CARDVAULT_AGENT_SYNC_DAEMON_H_

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "agent/control/control_server.h"
#include "agent/sync/agent_context.h"
#include "agent/watch/settle_tracker.h"
#include "agent/watch/watcher.h"

namespace cardvault {

struct DaemonOptions {
  std::string control_socket;  // empty: DefaultControlSocketPath()
};

// Threads: Run() owns the watcher and the engine; the control channel's thread only reads
// a status snapshot and sets flags. Stop() may be called from a signal handler.
class Daemon {
 public:
  // `ctx` MUST outlive the daemon.
  static StatusOr<std::unique_ptr<Daemon>> New(AgentContext* ctx, DaemonOptions options);
  ~Daemon();

  // Rescans, then serves until Stop(). Returns OK after a clean stop: the upload in
  // progress finished, everything else stays queued in the state for the next start.
  Status Run();
  // Async-signal-safe.
  void Stop();

 private:
  Daemon(AgentContext* ctx, std::unique_ptr<Watcher> watcher);
  StatusOr<std::string> HandleControl(const std::string& cmd);
  void PublishEvent(const SyncEvent& e);
  void UpdateSnapshot();
  // While the server is unreachable, probes it (SyncEngine::ProbeServer) when `next_probe`
  // (wall clock, ns; 0 = one interval from the first failure) has come; true when it is back.
  bool ProbeIfUnreachable(int64_t now, int64_t& next_probe);

  AgentContext* ctx_;
  std::unique_ptr<Watcher> watcher_;  // the platform's (NewPlatformWatcher)
  std::unique_ptr<ControlServer> control_;
  SettleTracker settle_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> paused_{false};
  std::atomic<bool> rescan_requested_{true};
  std::atomic<bool> retry_requested_{false};  // sync_now: failed files too
  std::mutex snapshot_mu_;
  std::string snapshot_;  // the "status" answer, JSON
  std::string last_error_;
};

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_SYNC_DAEMON_H_
