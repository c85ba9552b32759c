// Daemon implementation: a poll loop over the watcher with deadlines for settling files,
// retries and rescans.
#include "agent/sync/daemon.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "agent/sync/log.h"

namespace cardvault {

Daemon::Daemon(AgentContext* ctx, std::unique_ptr<Watcher> watcher)
    : ctx_(ctx),
      watcher_(std::move(watcher)),
      settle_(Env::Default(), ctx->config.vault_dir,
              int64_t{ctx->config.settle_delay_ms} * 1'000'000) {}

Daemon::~Daemon() { control_.reset(); }

StatusOr<std::unique_ptr<Daemon>> Daemon::New(AgentContext* ctx, DaemonOptions options) {
  CV_ASSIGN_OR_RETURN(std::unique_ptr<Watcher> watcher,
                      NewPlatformWatcher(ctx->config.vault_dir, IgnoreRules(ctx->config.ignore)));
  std::unique_ptr<Daemon> d(new Daemon(ctx, std::move(watcher)));
  const std::string socket =
      options.control_socket.empty() ? DefaultControlSocketPath() : options.control_socket;
  Daemon* raw = d.get();
  CV_ASSIGN_OR_RETURN(d->control_, ControlServer::Start(socket, [raw](const std::string& cmd) {
                        return raw->HandleControl(cmd);
                      }));
  ctx->engine->set_event_sink([raw](const SyncEvent& e) { raw->PublishEvent(e); });
  ctx->engine->set_stop_flag(&d->stop_);
  RemoteStore* server = ctx->server.get();
  ctx->engine->set_health_probe([server] { return server->Health(); });
  d->UpdateSnapshot();
  return d;
}

void Daemon::Stop() {
  stop_ = true;
  watcher_->Wake();
}

StatusOr<std::string> Daemon::HandleControl(const std::string& cmd) {
  if (cmd == "status") {
    std::lock_guard<std::mutex> lock(snapshot_mu_);
    return snapshot_;
  }
  if (cmd == "pause") {
    paused_ = true;
  } else if (cmd == "resume") {
    paused_ = false;
  } else if (cmd == "sync_now") {
    retry_requested_ = true;
    rescan_requested_ = true;
  } else {
    return InvalidArgumentError(
        "unknown command \"" + cmd + "\" (status, pause, resume, sync_now, subscribe)",
        "unknown_command");
  }
  watcher_->Wake();
  return std::string("{}");
}

void Daemon::PublishEvent(const SyncEvent& e) {
  nlohmann::json j = {{"event", e.type}, {"path", e.path}};
  if (!e.detail.empty()) j["detail"] = e.detail;
  control_->Publish(j.dump());
  std::string line =
      e.type + (e.path.empty() ? "" : " " + e.path) + (e.detail.empty() ? "" : ": " + e.detail);
  if (e.type == "file_failed") {
    LogError(line);
  } else if (e.type == "file_retry" || e.type == "skipped") {
    LogWarning(line);
  } else {
    LogInfo(line);
  }
}

void Daemon::UpdateSnapshot() {
  nlohmann::json j;
  auto counts = ctx_->db->Counts();
  if (counts.ok()) {
    j["pending"] = counts->queued + counts->encrypted;
    j["uploaded"] = counts->uploaded;
    j["failed"] = counts->failed;
  }
  auto last = ctx_->db->GetMeta("last_success_ns");
  j["last_success_ns"] = last.ok() ? std::stoll(*last) : 0;
  j["state"] = paused_ ? "paused" : "running";
  j["vault_dir"] = ctx_->config.vault_dir;
  j["last_error"] = last_error_;
  j["server_unreachable_since_ns"] = ctx_->engine->unreachable_since().value_or(0);
  std::lock_guard<std::mutex> lock(snapshot_mu_);
  snapshot_ = j.dump();
}

bool Daemon::ProbeIfUnreachable(int64_t now, int64_t& next_probe) {
  if (!ctx_->engine->unreachable_since()) {
    next_probe = 0;
    return false;
  }
  if (now < next_probe) return false;
  next_probe = now + SyncEngine::kProbeIntervalNs;
  auto back = ctx_->engine->ProbeServer();
  if (!back.ok()) LogError("cannot record the server's return: " + back.status().ToString());
  if (!back.ok() || !*back) return false;
  LogInfo("the server answers again: uploading what waited");
  return true;
}

Status Daemon::Run() {
  Env& env = *Env::Default();
  const int64_t rescan_ns = int64_t{ctx_->config.rescan_interval_s} * 1'000'000'000;
  int64_t next_rescan = 0;
  int64_t next_probe = 0;
  LogInfo("watching " + ctx_->config.vault_dir);
  while (!stop_) {
    const int64_t now = env.NowUnixNanos();
    if (ProbeIfUnreachable(now, next_probe)) UpdateSnapshot();
    if (retry_requested_.exchange(false)) {
      StatusOr<int> again = ctx_->engine->RetryFailed();
      if (!again.ok()) LogError("cannot retry the failed files: " + again.status().ToString());
    }
    if (rescan_requested_.exchange(false) || (rescan_ns > 0 && now >= next_rescan)) {
      Status s = ctx_->engine->Rescan();
      if (!s.ok()) LogError("rescan failed: " + s.ToString());
      next_rescan = rescan_ns > 0 ? now + rescan_ns : INT64_MAX;
    }
    for (const std::string& path : settle_.TakeSettled(env.NowUnixNanos())) {
      Status s = ctx_->engine->Detect(path);
      if (!s.ok()) LogError(path + ": " + s.ToString());
    }
    if (!paused_) {
      auto r = ctx_->engine->ProcessDue();
      last_error_ = r.ok() ? "" : r.status().ToString();
      if (!r.ok()) LogError("sync paused by an error: " + last_error_);
    }
    UpdateSnapshot();
    if (stop_) break;

    // Sleep until the next thing is due, or an event arrives.
    int64_t wake = next_rescan;
    if (auto d = settle_.NextDeadline()) wake = std::min(wake, *d);
    auto retry = ctx_->engine->NextRetryTime();
    if (!paused_ && retry.ok() && *retry) wake = std::min(wake, **retry);
    if (!last_error_.empty()) wake = std::min(wake, env.NowUnixNanos() + 30'000'000'000);
    if (ctx_->engine->unreachable_since()) {
      if (next_probe == 0) next_probe = env.NowUnixNanos() + SyncEngine::kProbeIntervalNs;
      wake = std::min(wake, next_probe);
    }
    int64_t wait_ms = std::clamp<int64_t>((wake - env.NowUnixNanos()) / 1'000'000, 0, 60'000);
    auto events = watcher_->Poll(static_cast<int>(wait_ms));
    if (!events.ok()) return events.status();
    const int64_t t = env.NowUnixNanos();
    for (const WatchEvent& e : *events) {
      if (e.kind == WatchEvent::Kind::kRescan) {
        LogWarning("events were lost (queue overflow): rescanning");
        rescan_requested_ = true;
        continue;
      }
      settle_.OnEvent(e, t);
      if (e.kind == WatchEvent::Kind::kRemoved) {
        Status s = ctx_->engine->DetectRemoved(e.path, e.is_directory);
        if (!s.ok()) LogError(e.path + ": " + s.ToString());
      }
    }
  }
  LogInfo("stopped; queued work resumes at the next start");
  return Status::Ok();
}

}  // namespace cardvault
