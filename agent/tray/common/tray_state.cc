// ViewOf: maps the agent's status to the tray's state, status line and tooltip.
#include "agent/tray/common/tray_state.h"

#include <ctime>

#include "core/platform.h"

namespace cardvault {
namespace {

std::string LocalTime(int64_t unix_ns) {
  if (unix_ns <= 0) return "never";
  std::tm tm{};
  if (!LocalCalendarTime(unix_ns / 1'000'000'000, &tm)) return "unknown";
  char buf[32];
  if (std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm) == 0) return "unknown";
  return buf;
}

std::string FirstLine(const std::string& text, size_t max) {
  std::string line = text.substr(0, text.find('\n'));
  if (line.size() > max) line = line.substr(0, max - 3) + "...";
  return line;
}

}  // namespace

const char* TrayStateName(TrayState state) {
  switch (state) {
    case TrayState::kAgentNotRunning:
      return "agent not running";
    case TrayState::kIdle:
      return "up to date";
    case TrayState::kSyncing:
      return "syncing";
    case TrayState::kPaused:
      return "paused";
    case TrayState::kError:
      return "error";
  }
  return "unknown";
}

TrayView ViewOf(const StatusOr<AgentStatus>& status) {
  TrayView v;
  if (!status.ok()) {
    v.state = TrayState::kAgentNotRunning;
    v.status_line = "Agent not running";
    v.tooltip = "cardvault: agent not running\n" + FirstLine(status.status().message(), 120);
    return v;
  }
  const AgentStatus& s = *status;
  v.vault_dir = s.vault_dir;
  v.paused = s.paused;
  if (s.paused) {
    v.state = TrayState::kPaused;
    v.status_line = "Paused";
  } else if (!s.last_error.empty()) {
    v.state = TrayState::kError;
    v.status_line = "Error: " + FirstLine(s.last_error, 60);
  } else if (s.failed > 0) {
    v.state = TrayState::kError;
    v.status_line = std::to_string(s.failed) + (s.failed == 1 ? " file failed" : " files failed");
  } else if (s.pending > 0) {
    v.state = TrayState::kSyncing;
    v.status_line = "Syncing: " + std::to_string(s.pending) + " pending";
  } else {
    v.state = TrayState::kIdle;
    v.status_line = "Up to date";
  }
  v.tooltip = std::string("cardvault: ") + TrayStateName(v.state) + "\n" +
              std::to_string(s.pending) + " pending, " + std::to_string(s.uploaded) +
              " uploaded, " + std::to_string(s.failed) +
              " failed\nLast upload: " + LocalTime(s.last_success_ns);
  if (!s.last_error.empty()) v.tooltip += "\n" + FirstLine(s.last_error, 120);
  return v;
}

}  // namespace cardvault
