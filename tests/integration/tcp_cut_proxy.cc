#include "tests/integration/tcp_cut_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

namespace cardvault {
namespace {

constexpr int kPollMs = 50;  // how often the threads look at stop_

int ConnectLoopback(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Writes all of `data`; false if the peer went away.
bool WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = send(fd, data, size, MSG_NOSIGNAL);
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

TcpCutProxy::TcpCutProxy(int target_port, uint64_t hold_after_bytes)
    : target_port_(target_port), hold_after_bytes_(hold_after_bytes) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(listen_fd_, 16) != 0 ||
      getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::runtime_error("TcpCutProxy: cannot listen on 127.0.0.1");
  }
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

TcpCutProxy::~TcpCutProxy() {
  stop_ = true;
  acceptor_.join();
  for (std::thread& t : relays_) t.join();
  close(listen_fd_);
}

void TcpCutProxy::AcceptLoop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, kPollMs) <= 0) continue;
    const int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    const int server = ConnectLoopback(target_port_);
    if (server < 0) {
      close(client);
      continue;
    }
    relays_.emplace_back([this, client, server] { Relay(client, server); });
  }
}

void TcpCutProxy::Relay(int client, int server) {
  uint64_t downstream = 0;
  char buf[16384];
  while (!stop_) {
    const bool held = downstream >= hold_after_bytes_;
    pollfd p[2] = {{client, POLLIN, 0}, {server, static_cast<short>(held ? 0 : POLLIN), 0}};
    if (poll(p, 2, kPollMs) <= 0) continue;
    if (p[0].revents != 0) {
      const ssize_t n = recv(client, buf, sizeof(buf), 0);
      if (n <= 0 || !WriteAll(server, buf, static_cast<size_t>(n))) break;
    }
    if (!held && p[1].revents != 0) {
      const size_t room =
          static_cast<size_t>(std::min<uint64_t>(sizeof(buf), hold_after_bytes_ - downstream));
      const ssize_t n = recv(server, buf, room, 0);
      if (n <= 0 || !WriteAll(client, buf, static_cast<size_t>(n))) break;
      downstream += static_cast<uint64_t>(n);
      if (downstream >= hold_after_bytes_) holding_ = true;
    }
  }
  close(client);
  close(server);
}

}  // namespace cardvault
