// RawTls: a raw TLS client over a TCP connection from any 127.x.y.z address, for tests that
// send bytes no well-behaved client sends, or look at the server's certificate.
#ifndef CARDVAULT_TESTS_API_RAW_TLS_H_
#define CARDVAULT_TESTS_API_RAW_TLS_H_

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <string_view>

#include "api/tls_identity.h"

namespace cardvault {

// A TCP connection to 127.0.0.1:`port` from `source` (any 127.x.y.z works on loopback, so
// one test can be many client addresses). Every read and write waits at most 10 s.
inline int ConnectFrom(int port, const std::string& source) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in from{};
  from.sin_family = AF_INET;
  ::inet_pton(AF_INET, source.c_str(), &from.sin_addr);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof(from)) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// A raw TLS client (no certificate check: the tests talk to their own server), for bytes
// no well-behaved client sends. `preamble` goes out before the handshake (a PROXY header).
class RawTls {
 public:
  RawTls(int port, const std::string& source = "127.0.0.1", std::string_view preamble = {})
      : ctx_(SSL_CTX_new(TLS_client_method())), fd_(ConnectFrom(port, source)) {
    if (fd_ < 0) return;
    if (!preamble.empty() && ::send(fd_, preamble.data(), preamble.size(), MSG_NOSIGNAL) !=
                                 static_cast<ssize_t>(preamble.size())) {
      return;
    }
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    ok_ = SSL_connect(ssl_) == 1;
  }
  ~RawTls() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (fd_ >= 0) ::close(fd_);
    SSL_CTX_free(ctx_);
  }
  bool ok() const { return ok_; }
  int fd() const { return fd_; }
  // The SHA-256 fingerprint of the certificate the server presented ("" if none).
  std::string PeerFingerprint() const {
    if (!ok_) return "";
    X509* cert = SSL_get1_peer_certificate(ssl_);
    if (cert == nullptr) return "";
    unsigned char* der = nullptr;
    const int len = i2d_X509(cert, &der);
    X509_free(cert);
    if (len <= 0) return "";
    std::string fingerprint =
        CertificateFingerprintFromDer(ByteView(der, static_cast<size_t>(len)));
    OPENSSL_free(der);
    return fingerprint;
  }

  bool Send(std::string_view bytes) {
    while (ok_ && !bytes.empty()) {
      int n = SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size()));
      if (n <= 0) return ok_ = false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return ok_;
  }
  // Whether the server has sent application data (or closed) within `ms`; TLS session
  // tickets that arrive after the handshake do not count.
  bool Readable(int ms) {
    using Clock = std::chrono::steady_clock;
    const auto until = Clock::now() + std::chrono::milliseconds(ms);
    while (true) {
      if (SSL_pending(ssl_) > 0) return true;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 0))) <= 0) return false;
      const int flags = ::fcntl(fd_, F_GETFL, 0);
      ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
      char c;
      const int n = SSL_peek(ssl_, &c, 1);
      const int err = n > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl_, n);
      ::fcntl(fd_, F_SETFL, flags);
      if (err != SSL_ERROR_WANT_READ) return true;  // data, a close or an error
      if (Clock::now() >= until) return false;
    }
  }
  // Everything the server sends until it closes (or 10 s pass).
  std::string ReadToClose() {
    std::string out;
    char buf[4096];
    while (true) {
      int n = SSL_read(ssl_, buf, sizeof(buf));
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  // One response to a request without a body (headers, then Content-Length bytes).
  std::string ReadResponse() {
    std::string out;
    char c;
    while (out.find("\r\n\r\n") == std::string::npos && SSL_read(ssl_, &c, 1) == 1) out += c;
    auto at = out.find("Content-Length: ");
    size_t length = at == std::string::npos ? 0 : std::stoul(out.substr(at + 16));
    std::string body(length, '\0');
    size_t got = 0;
    while (got < length) {
      int n = SSL_read(ssl_, body.data() + got, static_cast<int>(length - got));
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    return out + body.substr(0, got);
  }

 private:
  SSL_CTX* ctx_;
  int fd_;
  SSL* ssl_ = nullptr;
  bool ok_ = false;
};

}  // namespace cardvault

#endif  // CARDVAULT_TESTS_API_RAW_TLS_H_
