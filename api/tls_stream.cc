// TlsStream implementation: OpenSSL over a non-blocking socket, every wait through poll().
#include "api/tls_stream.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace cardvault {
namespace {

void AddressOf(int fd, bool peer, std::string& ip, int& port) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  auto* sa = reinterpret_cast<sockaddr*>(&addr);
  int rc = peer ? ::getpeername(fd, sa, &len) : ::getsockname(fd, sa, &len);
  std::array<char, NI_MAXHOST> host{};
  std::array<char, NI_MAXSERV> serv{};
  if (rc != 0 || ::getnameinfo(sa, len, host.data(), host.size(), serv.data(), serv.size(),
                               NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    ip.clear();
    port = 0;
    return;
  }
  ip = host.data();
  port = std::atoi(serv.data());
}

}  // namespace

TlsStream::TlsStream(int fd, SSL_CTX* ctx, const Limits& limits, std::function<bool()> stopping)
    : fd_(fd), limits_(limits), stopping_(std::move(stopping)) {
  const int flags = ::fcntl(fd_, F_GETFL, 0);
  if (flags < 0 || ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK) != 0) broken_ = true;
  ssl_ = SSL_new(ctx);
  if (ssl_ == nullptr || SSL_set_fd(ssl_, fd_) != 1) {
    broken_ = true;
    return;
  }
  // Bytes read ahead wait inside OpenSSL: SSL_has_pending, not the socket, tells of them.
  SSL_set_read_ahead(ssl_, 1);
  SSL_set_default_read_buffer_len(ssl_, kReadAheadBytes);
}

TlsStream::~TlsStream() {
  Close(false);
  if (ssl_ != nullptr) SSL_free(ssl_);
  ::close(fd_);
}

bool TlsStream::Wait(short events, std::chrono::milliseconds timeout, bool reading) const {
  auto limit = Clock::now() + timeout;
  if (reading && deadline_.has_value()) limit = std::min(limit, *deadline_);
  // Before a request is complete, Stop() need not wait for it: look every 100 ms.
  const bool interruptible = reading && in_headers_;
  while (!(interruptible && stopping_())) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(limit - Clock::now()).count();
    if (left <= 0) break;
    pollfd p{fd_, events, 0};
    const int rc =
        ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, interruptible ? 100 : 1 << 30)));
    if (rc > 0) return true;  // ready, or an error the next SSL call reports
    if (rc < 0 && errno != EINTR) break;
  }
  broken_ = true;
  return false;
}

bool TlsStream::ReadBeforeTls(char* out, size_t size, Clock::time_point deadline) {
  deadline_ = deadline;
  in_headers_ = true;  // interruptible by Stop(), like the handshake
  while (size > 0 && !broken_) {
    const ssize_t n = ::recv(fd_, out, size, 0);
    if (n > 0) {
      out += n;
      size -= static_cast<size_t>(n);
    } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      broken_ = true;
    } else {
      Wait(POLLIN, limits_.read_timeout, true);  // sets broken_ past the deadline
    }
  }
  return !broken_;
}

bool TlsStream::Handshake(Clock::time_point deadline) {
  if (broken_) return false;
  deadline_ = deadline;
  in_headers_ = true;  // the handshake is part of the first request's header phase
  while (true) {
    ERR_clear_error();
    const int rc = SSL_accept(ssl_);
    if (rc == 1) break;
    const int err = SSL_get_error(ssl_, rc);
    const short events = err == SSL_ERROR_WANT_READ    ? POLLIN
                         : err == SSL_ERROR_WANT_WRITE ? POLLOUT
                                                       : 0;
    if (events == 0 || !Wait(events, limits_.read_timeout, true)) {
      broken_ = true;
      return false;
    }
  }
  return true;
}

bool TlsStream::WaitForRequest(std::chrono::milliseconds idle) {
  if (broken_) return false;
  if (begin_ < end_ || SSL_has_pending(ssl_) == 1) return true;
  const auto until = Clock::now() + idle;
  while (!stopping_()) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    const int rc = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 100)));
    if (rc > 0) return true;  // data, or a close the first read reports
    if (rc < 0 && errno != EINTR) return false;
  }
  return false;
}

void TlsStream::BeginHeaders(Clock::time_point deadline) {
  deadline_ = deadline;
  in_headers_ = true;
  header_bytes_ = 0;
  header_lines_ = 0;
}

bool TlsStream::Fill() {
  while (!broken_) {
    ERR_clear_error();
    const int rc = SSL_read(ssl_, buffer_.data(), static_cast<int>(buffer_.size()));
    if (rc > 0) {
      begin_ = 0;
      end_ = static_cast<size_t>(rc);
      return true;
    }
    const int err = SSL_get_error(ssl_, rc);
    if (err == SSL_ERROR_WANT_READ) {
      if (!Wait(POLLIN, limits_.read_timeout, true)) return false;
    } else if (err == SSL_ERROR_WANT_WRITE) {
      if (!Wait(POLLOUT, limits_.read_timeout, true)) return false;
    } else {
      closed_ = err == SSL_ERROR_ZERO_RETURN;
      broken_ = true;
    }
  }
  return false;
}

ssize_t TlsStream::Deliver(char* ptr, size_t size) {
  size_t n = std::min(size, end_ - begin_);
  if (in_headers_) {
    // Counted per byte handed to httplib, so a long last read cannot slip past the limits.
    n = std::min(n, limits_.max_header_bytes - header_bytes_);
    const char* start = buffer_.data() + begin_;
    header_lines_ += static_cast<size_t>(std::count(start, start + n, '\n'));
    header_bytes_ += n;
    if (header_lines_ > limits_.max_header_lines) {
      headers_too_large_ = true;
      return -1;
    }
  }
  std::memcpy(ptr, buffer_.data() + begin_, n);
  begin_ += n;
  return static_cast<ssize_t>(n);
}

ssize_t TlsStream::read(char* ptr, size_t size) {
  if (size == 0) return 0;
  if (in_headers_ && header_bytes_ >= limits_.max_header_bytes) {
    headers_too_large_ = true;
    return -1;
  }
  if (begin_ == end_ && !Fill()) return closed_ ? 0 : -1;
  return Deliver(ptr, size);
}

ssize_t TlsStream::write(const char* ptr, size_t size) {
  // After a header overflow or a missed deadline httplib answers 400: the caller sends the
  // real answer (431) or nothing.
  if (headers_too_large_) return static_cast<ssize_t>(size);
  if (broken_) return -1;
  if (size == 0) return 0;
  const int chunk = static_cast<int>(std::min<size_t>(size, 1 << 30));
  while (true) {
    ERR_clear_error();
    const int rc = SSL_write(ssl_, ptr, chunk);
    if (rc > 0) return rc;
    const int err = SSL_get_error(ssl_, rc);
    // The deadline covers reads only: a response is written under the write timeout.
    bool ready = false;
    if (err == SSL_ERROR_WANT_WRITE) {
      ready = Wait(POLLOUT, limits_.write_timeout, false);
    } else if (err == SSL_ERROR_WANT_READ) {
      ready = Wait(POLLIN, limits_.write_timeout, false);
    }
    if (!ready) {
      broken_ = true;
      return -1;
    }
  }
}

bool TlsStream::WriteAll(std::string_view bytes) {
  headers_too_large_ = false;  // write() sends again
  while (!bytes.empty()) {
    const ssize_t n = write(bytes.data(), bytes.size());
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

void TlsStream::Close(bool graceful) {
  if (shut_down_) return;
  shut_down_ = true;
  if (graceful && ssl_ != nullptr && !broken_) {
    ERR_clear_error();
    SSL_shutdown(ssl_);  // one close_notify, not waiting for the peer's
  }
  ::shutdown(fd_, SHUT_RDWR);
}

void TlsStream::CloseAfterRefusal() {
  if (shut_down_) return;
  if (ssl_ != nullptr) {
    ERR_clear_error();
    SSL_shutdown(ssl_);
  }
  // Closing with unread bytes would reset the connection and could destroy the answer
  // before the client reads it: stop sending, then read and drop what is still coming.
  ::shutdown(fd_, SHUT_WR);
  const auto until = Clock::now() + kLinger;
  size_t dropped = 0;
  std::array<char, 16384> sink;
  while (dropped < kMaxLingerBytes) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
    if (left <= 0) break;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) break;
    const ssize_t n = ::recv(fd_, sink.data(), sink.size(), 0);
    if (n <= 0) break;
    dropped += static_cast<size_t>(n);
  }
  shut_down_ = true;
  ::shutdown(fd_, SHUT_RDWR);
}

bool TlsStream::is_readable() const {
  if (begin_ < end_ || SSL_has_pending(ssl_) == 1) return true;
  return Wait(POLLIN, limits_.read_timeout, true);
}

bool TlsStream::is_writable() const { return Wait(POLLOUT, limits_.write_timeout, false); }

void TlsStream::get_remote_ip_and_port(std::string& ip, int& port) const {
  if (remote_ip_.has_value()) {
    ip = *remote_ip_;
    port = remote_port_;
    return;
  }
  AddressOf(fd_, true, ip, port);
}

void TlsStream::get_local_ip_and_port(std::string& ip, int& port) const {
  AddressOf(fd_, false, ip, port);
}

}  // namespace cardvault
