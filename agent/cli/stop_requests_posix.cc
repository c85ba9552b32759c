// StopRequests on POSIX: SIGTERM and SIGINT stop the daemon (Daemon::Stop is
// async-signal-safe).
#include <signal.h>

#include "agent/cli/stop_requests.h"

namespace cardvault {
namespace {

Daemon* g_daemon = nullptr;
extern "C" void OnStopSignal(int) {
  if (g_daemon != nullptr) g_daemon->Stop();
}

}  // namespace

StopRequests::StopRequests(Daemon* daemon) {
  g_daemon = daemon;
  struct sigaction sa = {};
  sa.sa_handler = OnStopSignal;
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
}

StopRequests::~StopRequests() {
  struct sigaction sa = {};
  sa.sa_handler = SIG_DFL;
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  g_daemon = nullptr;
}

std::string StopRequests::Help() {
  return "Stops cleanly on SIGTERM or Ctrl-C: the upload in progress finishes, the rest stays "
         "queued.";
}

}  // namespace cardvault
