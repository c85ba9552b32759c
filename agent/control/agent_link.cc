// SocketAgentLink: AgentLink over one subscribed ControlClient connection, reconnecting
// after the agent went away.
#include "agent/control/agent_link.h"

#include <nlohmann/json.hpp>

#include "agent/control/control_client.h"
#include "agent/control/control_server.h"

namespace cardvault {
namespace {

class SocketAgentLink : public AgentLink {
 public:
  SocketAgentLink(std::string path, int timeout_ms)
      : path_(std::move(path)), timeout_ms_(timeout_ms) {}

  StatusOr<AgentStatus> GetStatus() override {
    CV_ASSIGN_OR_RETURN(std::string result, Call("status"));
    return ParseAgentStatus(result);
  }
  Status Pause() override { return Call("pause").status(); }
  Status Resume() override { return Call("resume").status(); }
  Status SyncNow() override { return Call("sync_now").status(); }

  StatusOr<std::vector<AgentEvent>> PollEvents(int timeout_ms) override {
    CV_RETURN_IF_ERROR(EnsureConnected());
    std::vector<AgentEvent> events;
    // ReadEvent(0) would not look at the socket; 1 ms polls it without waiting.
    int wait = std::max(timeout_ms, 1);
    while (true) {
      StatusOr<std::string> line = client_->ReadEvent(wait);
      if (!line.ok()) {
        if (line.status().reason() == "timeout") break;
        client_.reset();
        return line.status();
      }
      nlohmann::json j = nlohmann::json::parse(*line, nullptr, false);
      if (j.is_discarded() || !j.is_object() || !j["event"].is_string()) continue;
      AgentEvent e;
      e.type = j["event"].get<std::string>();
      if (j.contains("path") && j["path"].is_string()) e.path = j["path"].get<std::string>();
      if (j.contains("detail") && j["detail"].is_string()) {
        e.detail = j["detail"].get<std::string>();
      }
      events.push_back(std::move(e));
      wait = 1;
    }
    return events;
  }

 private:
  Status EnsureConnected() {
    if (client_ != nullptr) return Status::Ok();
    CV_ASSIGN_OR_RETURN(std::unique_ptr<ControlClient> client, ControlClient::Connect(path_));
    Status s = client->Call("subscribe", timeout_ms_).status();
    if (!s.ok()) return s;
    client_ = std::move(client);
    return Status::Ok();
  }

  StatusOr<std::string> Call(const std::string& cmd) {
    const bool fresh = client_ == nullptr;
    CV_RETURN_IF_ERROR(EnsureConnected());
    StatusOr<std::string> r = client_->Call(cmd, timeout_ms_);
    // The agent's refusals come back as kFailedPrecondition on a healthy connection; a
    // lost connection, a timeout or a garbled line means starting over with a fresh one.
    if (r.ok() || r.status().code() == StatusCode::kFailedPrecondition) return r;
    client_.reset();
    // A connection from before an agent restart is closed: try once more on a new one
    // (every command is idempotent).
    if (!fresh && r.status().reason() == "agent_not_running") return Call(cmd);
    return r;
  }

  const std::string path_;
  const int timeout_ms_;
  std::unique_ptr<ControlClient> client_;
};

}  // namespace

std::unique_ptr<AgentLink> NewSocketAgentLink(std::string socket_path, int timeout_ms) {
  return std::make_unique<SocketAgentLink>(std::move(socket_path), timeout_ms);
}

std::string DefaultAgentSocketPath() { return DefaultControlSocketPath(); }

StatusOr<AgentStatus> ParseAgentStatus(const std::string& json) {
  nlohmann::json j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return CorruptError("the agent's status is not a JSON object", "bad_status");
  }
  AgentStatus s;
  auto integer = [&](const char* key) -> int64_t {
    return j.contains(key) && j[key].is_number_integer() ? j[key].get<int64_t>() : 0;
  };
  auto text = [&](const char* key) -> std::string {
    return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
  };
  s.paused = text("state") == "paused";
  s.pending = integer("pending");
  s.uploaded = integer("uploaded");
  s.failed = integer("failed");
  s.last_success_ns = integer("last_success_ns");
  s.vault_dir = text("vault_dir");
  s.last_error = text("last_error");
  return s;
}

}  // namespace cardvault
