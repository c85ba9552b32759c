// ControlServer implementation: a poll(2) loop on its own thread; only that thread touches
// the clients, Publish hands events over through a locked queue and an eventfd.
#include "agent/control/control_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/env.h"

namespace cardvault {
namespace {

constexpr size_t kMaxLine = 64 * 1024;
constexpr size_t kMaxQueued = 1024 * 1024;
constexpr size_t kMaxClients = 16;

StatusOr<sockaddr_un> SocketAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return InvalidArgumentError("control socket path too long: " + path);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

std::string ErrorLine(const nlohmann::json& id, const std::string& code, const std::string& msg) {
  nlohmann::json j = {{"id", id}, {"ok", false}, {"error", {{"code", code}, {"message", msg}}}};
  return j.dump() + "\n";
}

}  // namespace

struct ControlServer::Client {
  int fd = -1;
  std::string in, out;
  bool subscribed = false;
  ~Client() {
    if (fd >= 0) ::close(fd);
  }
};

std::string DefaultControlSocketPath() {
  const char* runtime = std::getenv("XDG_RUNTIME_DIR");
  if (runtime != nullptr && runtime[0] == '/')
    return std::string(runtime) + "/cardvault/agent.sock";
  return "/tmp/cardvault-" + std::to_string(::geteuid()) + "/agent.sock";
}

StatusOr<std::unique_ptr<ControlServer>> ControlServer::Start(const std::string& socket_path,
                                                              Handler handler) {
  const std::string dir = DirName(socket_path);
  CV_RETURN_IF_ERROR(Env::Default()->CreateDirs(dir));
  struct stat st;
  if (::lstat(dir.c_str(), &st) != 0) return ErrnoToStatus(errno, "stat", dir);
  if (!S_ISDIR(st.st_mode) || st.st_uid != ::geteuid()) {
    return PermissionDeniedError(dir + " is not a directory owned by this user");
  }
  if ((st.st_mode & 077) != 0 && ::chmod(dir.c_str(), 0700) != 0) {
    return ErrnoToStatus(errno, "chmod 0700", dir);
  }
  CV_ASSIGN_OR_RETURN(sockaddr_un addr, SocketAddress(socket_path));
  // A live agent answers a connect; a stale socket file from a dead one does not.
  int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe >= 0) {
    bool live = ::connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(probe);
    if (live) {
      return AlreadyExistsError("another cardvault agent is running on " + socket_path,
                                "agent_running");
    }
  }
  ::unlink(socket_path.c_str());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return ErrnoToStatus(errno, "socket", socket_path);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::chmod(socket_path.c_str(), 0600) != 0 || ::listen(fd, 16) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoToStatus(err, "listen on", socket_path);
  }
  int wake = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake < 0) {
    int err = errno;
    ::close(fd);
    return ErrnoToStatus(err, "eventfd for", socket_path);
  }
  std::unique_ptr<ControlServer> server(
      new ControlServer(socket_path, fd, wake, std::move(handler)));
  server->thread_ = std::thread([s = server.get()] { s->Run(); });
  return server;
}

ControlServer::ControlServer(std::string path, int listen_fd, int wake_fd, Handler handler)
    : path_(std::move(path)),
      listen_fd_(listen_fd),
      wake_fd_(wake_fd),
      handler_(std::move(handler)) {}

ControlServer::~ControlServer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  Wake();
  if (thread_.joinable()) thread_.join();
  ::close(listen_fd_);
  ::close(wake_fd_);
  ::unlink(path_.c_str());
}

void ControlServer::Wake() {
  uint64_t one = 1;
  ssize_t n = ::write(wake_fd_, &one, sizeof one);
  (void)n;
}

void ControlServer::Publish(const std::string& event_json) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    published_.push_back(event_json + "\n");
  }
  Wake();
}

void ControlServer::Accept(std::vector<std::unique_ptr<Client>>& clients) {
  while (true) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != ::geteuid() ||
        clients.size() >= kMaxClients) {
      ::close(fd);
      continue;
    }
    auto c = std::make_unique<Client>();
    c->fd = fd;
    clients.push_back(std::move(c));
  }
}

bool ControlServer::HandleInput(Client& c) {
  size_t nl;
  while ((nl = c.in.find('\n')) != std::string::npos) {
    std::string line = c.in.substr(0, nl);
    c.in.erase(0, nl + 1);
    nlohmann::json req = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (req.is_discarded() || !req.is_object() || !req.contains("cmd") || !req["cmd"].is_string()) {
      c.out += ErrorLine(nullptr, "bad_request", "expected {\"id\": N, \"cmd\": \"...\"}");
      continue;
    }
    nlohmann::json id = req.contains("id") ? req["id"] : nlohmann::json(nullptr);
    const std::string cmd = req["cmd"].get<std::string>();
    if (cmd == "subscribe") {
      c.subscribed = true;
      c.out +=
          nlohmann::json({{"id", id}, {"ok", true}, {"result", nlohmann::json::object()}}).dump() +
          "\n";
      continue;
    }
    StatusOr<std::string> result = handler_(cmd);
    if (!result.ok()) {
      const Status& s = result.status();
      c.out += ErrorLine(
          id, s.reason().empty() ? std::string(StatusCodeName(s.code())) : s.reason(), s.message());
      continue;
    }
    nlohmann::json body = nlohmann::json::parse(*result, nullptr, false);
    if (body.is_discarded()) body = nlohmann::json::object();
    c.out += nlohmann::json({{"id", id}, {"ok", true}, {"result", body}}).dump() + "\n";
  }
  return c.in.size() <= kMaxLine;
}

void ControlServer::Run() {
  std::vector<std::unique_ptr<Client>> clients;
  while (true) {
    std::vector<std::string> events;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) break;
      events.swap(published_);
    }
    for (auto& c : clients) {
      if (!c->subscribed) continue;
      for (const std::string& e : events) c->out += e;
    }
    std::vector<pollfd> fds = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    for (auto& c : clients) {
      fds.push_back({c->fd, static_cast<short>(POLLIN | (c->out.empty() ? 0 : POLLOUT)), 0});
    }
    if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) break;
    if (fds[1].revents & POLLIN) {
      uint64_t v;
      ssize_t n = ::read(wake_fd_, &v, sizeof v);
      (void)n;
    }
    std::vector<bool> drop(clients.size(), false);
    for (size_t i = 0; i < clients.size(); ++i) {
      Client& c = *clients[i];
      short re = fds[i + 2].revents;
      if (re & POLLIN) {
        char buf[8192];
        ssize_t n = ::read(c.fd, buf, sizeof buf);
        if (n <= 0 && !(n < 0 && (errno == EAGAIN || errno == EINTR))) {
          drop[i] = true;
          continue;
        }
        if (n > 0) c.in.append(buf, static_cast<size_t>(n));
        if (!HandleInput(c)) drop[i] = true;
      } else if (re & (POLLHUP | POLLERR)) {
        drop[i] = true;
      }
      if (!drop[i] && !c.out.empty()) {
        ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
        if (n > 0) c.out.erase(0, static_cast<size_t>(n));
        if (n < 0 && errno != EAGAIN && errno != EINTR) drop[i] = true;
      }
      if (c.out.size() > kMaxQueued) drop[i] = true;
    }
    std::vector<std::unique_ptr<Client>> kept;
    for (size_t i = 0; i < clients.size(); ++i) {
      if (!drop[i]) kept.push_back(std::move(clients[i]));
    }
    clients.swap(kept);
    if (fds[0].revents & POLLIN) Accept(clients);
    client_count_ = clients.size();
  }
}

}  // namespace cardvault
