// AgentPoller implementation: one loop that waits for a command or the next tick.
#include "agent/tray/common/agent_poller.h"

#include <chrono>

namespace cardvault {

const char* AgentCommandName(AgentCommand command) {
  switch (command) {
    case AgentCommand::kPause:
      return "pause";
    case AgentCommand::kResume:
      return "resume";
    case AgentCommand::kSyncNow:
      return "sync_now";
  }
  return "unknown";
}

AgentPoller::AgentPoller(std::unique_ptr<AgentLink> link, Callbacks callbacks,
                         int status_interval_ms, int tick_ms)
    : link_(std::move(link)),
      callbacks_(std::move(callbacks)),
      status_interval_ms_(status_interval_ms),
      tick_ms_(tick_ms) {
  thread_ = std::thread([this] { Run(); });
}

AgentPoller::~AgentPoller() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void AgentPoller::Request(AgentCommand command) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(command);
  }
  cv_.notify_all();
}

Status AgentPoller::Execute(AgentCommand command) {
  switch (command) {
    case AgentCommand::kPause:
      return link_->Pause();
    case AgentCommand::kResume:
      return link_->Resume();
    case AgentCommand::kSyncNow:
      return link_->SyncNow();
  }
  return InternalError("unknown agent command");
}

void AgentPoller::Run() {
  using Clock = std::chrono::steady_clock;
  auto next_status = Clock::now();
  bool first = true;
  while (true) {
    std::deque<AgentCommand> commands;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (!first) {
        auto until = std::min(next_status, Clock::now() + std::chrono::milliseconds(tick_ms_));
        cv_.wait_until(lock, until, [this] { return stop_ || !queue_.empty(); });
      }
      first = false;
      if (stop_) return;
      commands.swap(queue_);
    }
    for (AgentCommand c : commands) {
      Status s = Execute(c);
      if (callbacks_.on_command_done) callbacks_.on_command_done(c, s);
      next_status = Clock::now();
    }
    // Errors here mean the agent is gone; the status call below reports that.
    StatusOr<std::vector<AgentEvent>> events = link_->PollEvents(0);
    if (events.ok() && !events->empty()) {
      if (callbacks_.on_events) callbacks_.on_events(*events);
      next_status = Clock::now();
    }
    if (Clock::now() >= next_status) {
      StatusOr<AgentStatus> status = link_->GetStatus();
      if (callbacks_.on_status) callbacks_.on_status(status);
      next_status = Clock::now() + std::chrono::milliseconds(status_interval_ms_);
    }
  }
}

}  // namespace cardvault
