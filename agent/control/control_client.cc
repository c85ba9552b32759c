// ControlClient implementation over a blocking Unix socket with poll(2) timeouts.
#include "agent/control/control_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>

namespace cardvault {

StatusOr<std::unique_ptr<ControlClient>> ControlClient::Connect(const std::string& socket_path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path)) {
    return InvalidArgumentError("control socket path too long: " + socket_path);
  }
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoToStatus(errno, "socket", socket_path);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return UnavailableError("no cardvault agent is running (nothing listens on " + socket_path +
                                "); start it "
                                "with: cardvault run",
                            "agent_not_running");
  }
  return std::unique_ptr<ControlClient>(new ControlClient(fd));
}

ControlClient::~ControlClient() { ::close(fd_); }

StatusOr<std::string> ControlClient::ReadLine(int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    size_t nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) return UnavailableError("the agent did not answer in time", "timeout");
    pollfd p = {fd_, POLLIN, 0};
    int rc = ::poll(&p, 1, static_cast<int>(left));
    if (rc < 0 && errno != EINTR) return ErrnoToStatus(errno, "poll", "control socket");
    if (rc <= 0) continue;
    char buf[8192];
    ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n == 0) return UnavailableError("the agent closed the connection", "agent_not_running");
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return ErrnoToStatus(errno, "read", "control socket");
    }
    buffer_.append(buf, static_cast<size_t>(n));
  }
}

StatusOr<std::string> ControlClient::Call(const std::string& cmd, int timeout_ms) {
  const int id = next_id_++;
  std::string line = nlohmann::json({{"id", id}, {"cmd", cmd}}).dump() + "\n";
  if (::send(fd_, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size())) {
    return UnavailableError("cannot write to the agent's control socket", "agent_not_running");
  }
  while (true) {
    CV_ASSIGN_OR_RETURN(std::string answer, ReadLine(timeout_ms));
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
