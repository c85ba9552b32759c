// ControlClient implementation over the platform's ControlConnection, every wait bounded.
#include "agent/control/control_client.h"

#include <chrono>
#include <nlohmann/json.hpp>

namespace cardvault {
namespace {

int MillisecondsLeft(std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now())
                        .count();
  return left > 0 ? static_cast<int>(left) : 0;
}

Status AgentGone(const std::string& what) {
  return UnavailableError("the agent " + what, "agent_not_running");
}

}  // namespace

StatusOr<std::unique_ptr<ControlClient>> ControlClient::Connect(const std::string& socket_path) {
  CV_ASSIGN_OR_RETURN(std::unique_ptr<ControlConnection> conn, ConnectControl(socket_path));
  return std::unique_ptr<ControlClient>(new ControlClient(std::move(conn)));
}

StatusOr<std::string> ControlClient::ReadLine(int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    size_t nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    const int left = MillisecondsLeft(deadline);
    if (left <= 0) return UnavailableError("the agent did not answer in time", "timeout");
    StatusOr<std::string> got = conn_->Read(8192, left);
    if (!got.ok()) return AgentGone("closed the connection");
    buffer_ += *got;
  }
}

StatusOr<std::string> ControlClient::Call(const std::string& cmd, int timeout_ms) {
  const int id = next_id_++;
  const std::string line = nlohmann::json({{"id", id}, {"cmd", cmd}}).dump() + "\n";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (size_t sent = 0; sent < line.size();) {
    StatusOr<size_t> n =
        conn_->Write(std::string_view(line).substr(sent), MillisecondsLeft(deadline));
    if (!n.ok()) return AgentGone("closed its control connection");
    if (*n == 0 && MillisecondsLeft(deadline) <= 0) {
      return UnavailableError("the agent did not take the request in time", "timeout");
    }
    sent += *n;
  }
  while (true) {
    CV_ASSIGN_OR_RETURN(std::string answer, ReadLine(MillisecondsLeft(deadline)));
    nlohmann::json j = nlohmann::json::parse(answer, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      return InternalError("the agent sent a malformed line");
    }
    if (j.contains("event")) {
      pending_events_.push_back(answer);
      continue;
    }
    if (!j.contains("id") || j["id"] != id) continue;
    if (j.value("ok", false)) return j.contains("result") ? j["result"].dump() : "{}";
    std::string code = j["error"].value("code", "error");
    return Status(StatusCode::kFailedPrecondition, j["error"].value("message", ""), code);
  }
}

StatusOr<std::string> ControlClient::ReadEvent(int timeout_ms) {
  if (!pending_events_.empty()) {
    std::string e = pending_events_.front();
    pending_events_.erase(pending_events_.begin());
    return e;
  }
  while (true) {
    CV_ASSIGN_OR_RETURN(std::string line, ReadLine(timeout_ms));
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.is_object() && j.contains("event")) return line;
  }
}

}  // namespace cardvault
