// The control transport over a Unix domain socket: non-blocking sockets waited on with
// poll(2), an eventfd per listener and per connection for Wake().
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "agent/control/control_server.h"
#include "agent/control/control_transport.h"
#include "core/env.h"

namespace cardvault {
namespace {

StatusOr<sockaddr_un> SocketAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return InvalidArgumentError("control socket path too long: " + path);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

void Signal(int wake_fd) {
  uint64_t one = 1;
  ssize_t n = ::write(wake_fd, &one, sizeof one);
  (void)n;
}

void Drain(int wake_fd) {
  uint64_t v;
  ssize_t n = ::read(wake_fd, &v, sizeof v);
  (void)n;
}

// Waits for `events` on `fd` or for the wake eventfd; true when `fd` is ready.
bool WaitFor(int fd, short events, int wake_fd, int timeout_ms) {
  pollfd fds[2] = {{fd, events, 0}, {wake_fd, POLLIN, 0}};
  if (::poll(fds, 2, timeout_ms) <= 0) return false;
  if (fds[1].revents & POLLIN) Drain(wake_fd);
  return fds[0].revents != 0;
}

Status Closed() { return UnavailableError("the control connection is closed", "closed"); }

class UnixConnection final : public ControlConnection {
 public:
  UnixConnection(int fd, int wake_fd) : fd_(fd), wake_fd_(wake_fd) {}
  ~UnixConnection() override {
    ::close(fd_);
    ::close(wake_fd_);
  }

  StatusOr<std::string> Read(size_t max, int timeout_ms) override {
    if (!WaitFor(fd_, POLLIN, wake_fd_, timeout_ms)) return std::string();
    std::string out(max, '\0');
    const ssize_t n = ::read(fd_, out.data(), max);
    if (n == 0) return Closed();
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return std::string();
      return Closed();
    }
    out.resize(static_cast<size_t>(n));
    return out;
  }

  StatusOr<size_t> Write(std::string_view data, int timeout_ms) override {
    if (!WaitFor(fd_, POLLOUT, wake_fd_, timeout_ms)) return size_t{0};
    const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EAGAIN || errno == EINTR) return size_t{0};
    return Closed();
  }

  void Wake() override { Signal(wake_fd_); }

 private:
  const int fd_;
  const int wake_fd_;
};

StatusOr<std::unique_ptr<ControlConnection>> NewConnection(int fd, const std::string& what) {
  int wake = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake < 0) {
    int err = errno;
    ::close(fd);
    return ErrnoToStatus(err, "eventfd for", what);
  }
  return std::unique_ptr<ControlConnection>(new UnixConnection(fd, wake));
}

class UnixListener final : public ControlListener {
 public:
  UnixListener(std::string path, int fd, int wake_fd)
      : path_(std::move(path)), fd_(fd), wake_fd_(wake_fd) {}
  ~UnixListener() override {
    ::close(fd_);
    ::close(wake_fd_);
    ::unlink(path_.c_str());
  }

  StatusOr<std::unique_ptr<ControlConnection>> Accept(int timeout_ms) override {
    if (!WaitFor(fd_, POLLIN, wake_fd_, timeout_ms)) return std::unique_ptr<ControlConnection>();
    while (true) {
      int fd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) return std::unique_ptr<ControlConnection>();  // none left (or it went)
      struct ucred cred;
      socklen_t len = sizeof cred;
      if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != ::geteuid()) {
        ::close(fd);  // another user: closed unread
        continue;
      }
      return NewConnection(fd, path_);
    }
  }

  void Wake() override { Signal(wake_fd_); }

 private:
  const std::string path_;
  const int fd_;
  const int wake_fd_;
};

// The socket's directory: made if missing, MUST be a directory of this user, made 0700.
Status PrepareDirectory(const std::string& dir) {
  CV_RETURN_IF_ERROR(Env::Default()->CreateDirs(dir));
  struct stat st;
  if (::lstat(dir.c_str(), &st) != 0) return ErrnoToStatus(errno, "stat", dir);
  if (!S_ISDIR(st.st_mode) || st.st_uid != ::geteuid()) {
    return PermissionDeniedError(dir + " is not a directory owned by this user");
  }
  if ((st.st_mode & 077) != 0 && ::chmod(dir.c_str(), 0700) != 0) {
    return ErrnoToStatus(errno, "chmod 0700", dir);
  }
  return Status::Ok();
}

}  // namespace

std::string DefaultControlSocketPath() {
  const char* runtime = std::getenv("XDG_RUNTIME_DIR");
  if (runtime != nullptr && runtime[0] == '/')
    return std::string(runtime) + "/cardvault/agent.sock";
  return "/tmp/cardvault-" + std::to_string(::geteuid()) + "/agent.sock";
}

StatusOr<std::unique_ptr<ControlListener>> ListenControl(const std::string& address) {
  CV_RETURN_IF_ERROR(PrepareDirectory(DirName(address)));
  CV_ASSIGN_OR_RETURN(sockaddr_un addr, SocketAddress(address));
  // A live agent answers a connect; a stale socket file from a dead one does not.
  int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe >= 0) {
    bool live = ::connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(probe);
    if (live) {
      return AlreadyExistsError("another cardvault agent is running on " + address,
                                "agent_running");
    }
  }
  ::unlink(address.c_str());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return ErrnoToStatus(errno, "socket", address);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::chmod(address.c_str(), 0600) != 0 || ::listen(fd, 16) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoToStatus(err, "listen on", address);
  }
  int wake = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake < 0) {
    int err = errno;
    ::close(fd);
    return ErrnoToStatus(err, "eventfd for", address);
  }
  return std::unique_ptr<ControlListener>(new UnixListener(address, fd, wake));
}

StatusOr<std::unique_ptr<ControlConnection>> ConnectControl(const std::string& address) {
  CV_ASSIGN_OR_RETURN(sockaddr_un addr, SocketAddress(address));
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoToStatus(errno, "socket", address);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return UnavailableError("no cardvault agent is running (nothing listens on " + address +
                                "); start it with: cardvault run",
                            "agent_not_running");
  }
  if (::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoToStatus(err, "fcntl", address);
  }
  return NewConnection(fd, address);
}

}  // namespace cardvault
