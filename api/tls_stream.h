// TlsStream: one accepted TLS connection as an httplib::Stream, with the server's deadlines.
#ifndef CARDVAULT_API_TLS_STREAM_H_
#define CARDVAULT_API_TLS_STREAM_H_

#include <httplib.h>
#include <openssl/ssl.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace cardvault {

// The server side of one TLS connection over a non-blocking socket. Every wait is bounded:
// the handshake and each request's header phase by a total deadline (a client that drips
// bytes cannot stretch it), body reads by the read timeout per read, writes by the write
// timeout. While a request's headers are read, their bytes and lines count against the
// limits; past either, reads fail and headers_too_large() is set (the caller answers 431).
// Not thread-safe: one connection, one thread. Owns the socket: the destructor closes it.
class TlsStream final : public httplib::Stream {
 public:
  using Clock = std::chrono::steady_clock;
  struct Limits {
    std::chrono::milliseconds read_timeout{30000};   // per read outside the deadline
    std::chrono::milliseconds write_timeout{30000};  // per write
    size_t max_header_bytes = 64 << 10;              // request line and headers
    size_t max_header_lines = 102;                   // request line, headers, blank line
  };

  // `ctx` MUST outlive the stream. `stopping` (thread-safe) says the server is stopping:
  // waits for a request that has not started or whose headers are not complete end then.
  TlsStream(int fd, SSL_CTX* ctx, const Limits& limits, std::function<bool()> stopping);
  ~TlsStream() override;
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  // Before the handshake: reads exactly `size` bytes off the socket as they are (a PROXY
  // header), never more; false when the peer closes, a read fails, the server is stopping,
  // or `deadline` passes first.
  bool ReadBeforeTls(char* out, size_t size, Clock::time_point deadline);
  // The client's address and port as the load balancer reported them (PROXY header):
  // get_remote_ip_and_port() answers these from now on instead of the socket's peer.
  void SetRemoteAddress(std::string ip, int port) {
    remote_ip_ = std::move(ip);
    remote_port_ = port;
  }
  // The TLS handshake; false when it fails or does not finish by `deadline`.
  bool Handshake(Clock::time_point deadline);
  // Waits until the next request's first byte can be read: false when `idle` passes, the
  // peer closes, or the server is stopping (asked every 100 ms).
  bool WaitForRequest(std::chrono::milliseconds idle);
  // Starts a request: reads count against the header limits and fail after `deadline`.
  void BeginHeaders(Clock::time_point deadline);
  // The request's headers are parsed: the header limits stop counting; the deadline stays
  // (an unauthenticated request's body is read under it) until LiftDeadline().
  void EndHeaders() { in_headers_ = false; }
  // The request is authenticated: reads wait up to the read timeout each.
  void LiftDeadline() { deadline_.reset(); }
  bool headers_too_large() const { return headers_too_large_; }
  // The deadline passed or a read or write failed: nothing more is sent.
  bool broken() const { return broken_; }
  // Sends `bytes` even after headers_too_large() (for the 431 answer).
  bool WriteAll(std::string_view bytes);
  // Ends TLS (close_notify when `graceful`), then shuts the socket down.
  void Close(bool graceful);
  // After an answer that refuses the rest of the request (431): ends TLS, then reads and
  // drops what the client still sends, up to kLinger or kMaxLingerBytes, so that the
  // answer is not lost to a reset.
  void CloseAfterRefusal();
  SSL* ssl() const { return ssl_; }

  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  // INVALID_SOCKET: httplib 0.11 answers 500 for descriptors >= FD_SETSIZE (select), which
  // this stream never uses; it polls.
  socket_t socket() const override { return INVALID_SOCKET; }

 private:
  // Waits for `events` on the socket up to `timeout`. False on timeout or error (sets
  // broken_).
  // `reading`: the request's deadline applies too.
  bool Wait(short events, std::chrono::milliseconds timeout, bool reading) const;
  static constexpr std::chrono::milliseconds kLinger{1000};
  static constexpr size_t kMaxLingerBytes = 4 << 20;
  // OpenSSL reads up to this much of the socket at once (read-ahead): a large body costs
  // one read(2) per several records, not two per record (header, then body).
  static constexpr size_t kReadAheadBytes = 64 << 10;
  // SSL_read into the buffer; false on close, error or timeout.
  bool Fill();
  ssize_t Deliver(char* ptr, size_t size);

  int fd_;
  SSL* ssl_ = nullptr;
  Limits limits_;
  std::function<bool()> stopping_;
  std::optional<Clock::time_point> deadline_;
  bool in_headers_ = false;
  size_t header_bytes_ = 0;
  size_t header_lines_ = 0;
  bool headers_too_large_ = false;
  mutable bool broken_ = false;
  bool closed_ = false;                   // the peer ended TLS
  bool shut_down_ = false;                // Close() ran
  std::optional<std::string> remote_ip_;  // SetRemoteAddress
  int remote_port_ = 0;
  // One TLS record's plaintext: one SSL_read per record.
  std::array<char, 16384> buffer_;
  size_t begin_ = 0;
  size_t end_ = 0;
};

}  // namespace cardvault

#endif  // CARDVAULT_API_TLS_STREAM_H_
