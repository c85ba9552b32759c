// TcpCutProxy: a TCP relay on 127.0.0.1 that injects a network fault: after a set number
// of bytes from the server to the client it forwards nothing more (the client's download
// stalls there), so a test can act at a known point of a transfer (kill the client, cut).
#ifndef CARDVAULT_TESTS_INTEGRATION_TCP_CUT_PROXY_H_
#define CARDVAULT_TESTS_INTEGRATION_TCP_CUT_PROXY_H_

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace cardvault {

class TcpCutProxy {
 public:
  // Relays connections on a free loopback port to 127.0.0.1:`target_port`. Each
  // connection forwards at most `hold_after_bytes` from the server to the client; past
  // that it stays open and silent until the client goes or the proxy is destroyed.
  TcpCutProxy(int target_port, uint64_t hold_after_bytes);
  ~TcpCutProxy();
  TcpCutProxy(const TcpCutProxy&) = delete;
  TcpCutProxy& operator=(const TcpCutProxy&) = delete;

  int port() const { return port_; }
  // True once some connection reached its limit.
  bool holding() const { return holding_.load(); }

 private:
  void AcceptLoop();
  void Relay(int client, int server);

  const int target_port_;
  const uint64_t hold_after_bytes_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> holding_{false};
  std::thread acceptor_;
  std::vector<std::thread> relays_;  // only the acceptor thread adds
};

}  // namespace cardvault

#endif  // CARDVAULT_TESTS_INTEGRATION_TCP_CUT_PROXY_H_
