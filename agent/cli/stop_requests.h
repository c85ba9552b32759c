// StopRequests: turns the system's requests to stop into Daemon::Stop() while `cardvault run`
// runs, one .cc per platform (agent/CMakeLists.txt): POSIX SIGTERM and SIGINT
// (stop_requests_posix.cc); Windows Ctrl+C, Ctrl+Break, the console window closed
// (SetConsoleCtrlHandler), logoff and shutdown (WM_QUERYENDSESSION/WM_ENDSESSION to a hidden
// window, since a console program that loads user32 gets no CTRL_LOGOFF/SHUTDOWN events
// there) in stop_requests_windows.cc.
#ifndef CARDVAULT_AGENT_CLI_STOP_REQUESTS_H_
#define CARDVAULT_AGENT_CLI_STOP_REQUESTS_H_

#include <string>

#include "agent/sync/daemon.h"

namespace cardvault {

// One at a time per process. Windows: the system ends the process once the handler of a
// console close, logoff or shutdown returns, so the handler waits (up to kGraceMs) until
// the destructor says Run() has returned: the upload in progress finishes or is left
// queued, never half-recorded.
class StopRequests {
 public:
  // `daemon` MUST outlive this object. Installs the handlers.
  explicit StopRequests(Daemon* daemon);
  // Removes the handlers and lets a waiting Windows handler return.
  ~StopRequests();
  StopRequests(const StopRequests&) = delete;
  StopRequests& operator=(const StopRequests&) = delete;

  // What stops the agent, for `cardvault run --help`.
  static std::string Help();
  // How long a Windows handler waits for Run() to return (the system allows ~5 s).
  static constexpr int kGraceMs = 4500;
};

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_CLI_STOP_REQUESTS_H_
