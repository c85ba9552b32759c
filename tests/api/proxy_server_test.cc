// A real server on 127.0.0.1 behind a fake load balancer (issue 20): connections from
// 127.0.0.1 (the listed "proxy") start with PROXY headers naming client addresses, so one
// test is many clients behind one proxy.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/api/raw_tls.h"
#include "tests/api/server_test_util.h"

namespace cardvault {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// A v2 PROXY header (TCP over IPv4) from `client` to 127.0.0.1:8443.
std::string V2From(const std::string& client, uint16_t port = 40000) {
  std::string h("\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c", 16);
  unsigned char src[4];
  unsigned char dst[4];
  ::inet_pton(AF_INET, client.c_str(), src);
  ::inet_pton(AF_INET, "127.0.0.1", dst);
  h.append(reinterpret_cast<char*>(src), 4);
  h.append(reinterpret_cast<char*>(dst), 4);
  h += static_cast<char>(port >> 8);
  h += static_cast<char>(port & 0xff);
  h += "\x20\xfb";  // 8443
  return h;
}

// A v2 LOCAL header: the load balancer's own health check.
std::string V2Local() { return std::string("\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00", 16); }

std::string V1From(const std::string& client) {
  return "PROXY TCP4 " + client + " 127.0.0.1 40000 8443\r\n";
}

std::string Request(const std::string& path, const std::string& token = "") {
  std::string r = "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n";
  if (!token.empty()) r += "Authorization: Bearer " + token + "\r\n";
  return r + "\r\n";
}

// The first response to `request` on a new connection that starts with `preamble`, or "" when
// the server gave no TLS service.
std::string Ask(int port, const std::string& preamble, const std::string& request,
                const std::string& source = "127.0.0.1") {
  RawTls tls(port, source, preamble);
  if (!tls.ok() || !tls.Send(request)) return "";
  return tls.ReadResponse();
}

bool StartsWith(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

ServerConfig BehindProxy() {
  ServerConfig config = TestServer::DefaultConfig();
  config.proxy_protocol_from = {"127.0.0.1"};
  config.auth_failures_before_backoff = 3;
  return config;
}

class ProxyServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ::signal(SIGPIPE, SIG_IGN); }
};

// One client guessing tokens behind the proxy is backed off; another behind the same proxy
// still gets in, by either header version, and so do the proxy's own health checks.
TEST_F(ProxyServerTest, BackOffCountsPerClientTheHeaderNames) {
  TestServer server(BehindProxy());
  const std::string a = V2From("203.0.113.1");
  std::string answer;
  for (int i = 0; i < 10 && !StartsWith(answer, "HTTP/1.1 429"); ++i) {
    answer = Ask(server.port(), a, Request("/v1/whoami", "cv_not_a_token"));
    ASSERT_FALSE(answer.empty()) << "no service through the proxy";
  }
  ASSERT_TRUE(StartsWith(answer, "HTTP/1.1 429")) << answer;
  EXPECT_TRUE(
      StartsWith(Ask(server.port(), a, Request("/v1/whoami", server.alice())), "HTTP/1.1 429"));
  for (const std::string& b : {V2From("203.0.113.2"), V1From("203.0.113.2")}) {
    answer = Ask(server.port(), b, Request("/v1/whoami", server.alice()));
    EXPECT_TRUE(StartsWith(answer, "HTTP/1.1 200")) << answer;
    EXPECT_NE(answer.find("alice"), std::string::npos);
  }
  EXPECT_TRUE(StartsWith(Ask(server.port(), V2Local(), Request("/v1/health")), "HTTP/1.1 200"));
}

// The per-address connection limit counts the clients behind the proxy, not the proxy.
TEST_F(ProxyServerTest, ConnectionLimitsCountPerClientTheHeaderNames) {
  ServerConfig config = BehindProxy();
  config.max_connections_per_address = 2;
  TestServer server(config);
  std::vector<std::unique_ptr<RawTls>> held;
  for (int i = 0; i < 2; ++i) {
    held.push_back(std::make_unique<RawTls>(server.port(), "127.0.0.1", V2From("203.0.113.1")));
    ASSERT_TRUE(held.back()->ok());
  }
  const std::string third = Ask(server.port(), V2From("203.0.113.1"), Request("/v1/health"));
  EXPECT_TRUE(StartsWith(third, "HTTP/1.1 503")) << third;
  EXPECT_NE(third.find("overloaded"), std::string::npos);
  for (int i = 0; i < 3; ++i) {
    const std::string other = Ask(server.port(), V2From("203.0.113.2"), Request("/v1/health"));
    EXPECT_TRUE(StartsWith(other, "HTTP/1.1 200")) << other;
  }
}

TEST_F(ProxyServerTest, TheAccessLogNamesTheClient) {
  ServerConfig config = BehindProxy();
  config.access_log = true;
  TestServer server(config);
  ::testing::internal::CaptureStderr();
  const std::string answer = Ask(server.port(), V2From("198.51.100.23"), Request("/v1/health"));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the line follows the answer
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(StartsWith(answer, "HTTP/1.1 200")) << answer;
  EXPECT_NE(log.find("access 198.51.100.23 GET /v1/health 200"), std::string::npos) << log;
  EXPECT_EQ(log.find("access 127.0.0.1"), std::string::npos) << log;
}

// A header dripped one byte per second is cut at header_timeout_seconds, not before.
TEST_F(ProxyServerTest, ASlowHeaderIsCutAtTheHeaderDeadline) {
  ServerConfig config = BehindProxy();
  config.header_timeout_seconds = 3;
  TestServer server(config);
  const int fd = ConnectFrom(server.port(), "127.0.0.1");
  ASSERT_GE(fd, 0);
  const std::string header = V2From("203.0.113.1");
  const auto start = Clock::now();
  double closed_after = -1;
  for (size_t i = 0; i < header.size() && closed_after < 0; ++i) {
    ::send(fd, &header[i], 1, MSG_NOSIGNAL);
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 1000) > 0) {
      char c;
      if (::recv(fd, &c, 1, MSG_DONTWAIT) <= 0) closed_after = SecondsSince(start);
    }
  }
  ::close(fd);
  EXPECT_GE(closed_after, 2.5);
  EXPECT_LE(closed_after, 4.5);
  // The server is still there for everyone else.
  EXPECT_TRUE(
      StartsWith(Ask(server.port(), V2From("203.0.113.2"), Request("/v1/health")), "HTTP/1.1 200"));
}

// A connection from a listed proxy without a header (straight to TLS), or with a broken one,
// gets no service, and the server says why in its log.
TEST_F(ProxyServerTest, AListedProxyWithoutAHeaderIsRefused) {
  TestServer server(BehindProxy());
  ::testing::internal::CaptureStderr();
  RawTls plain(server.port(), "127.0.0.1");
  EXPECT_FALSE(plain.ok());
  EXPECT_EQ(Ask(server.port(), "PROXY TCP4 203.0.113.1\r\n", Request("/v1/health")), "");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("load balancer 127.0.0.1 closed: bad PROXY protocol header"),
            std::string::npos)
      << log;
  EXPECT_TRUE(
      StartsWith(Ask(server.port(), V2From("203.0.113.2"), Request("/v1/health")), "HTTP/1.1 200"));
}

// Any other address is never read for a header: a client cannot claim an address.
TEST_F(ProxyServerTest, OtherAddressesAreNeverReadForAHeader) {
  TestServer server(BehindProxy());
  EXPECT_EQ(Ask(server.port(), V2From("203.0.113.9"), Request("/v1/health"), "127.0.0.2"), "");
  EXPECT_TRUE(
      StartsWith(Ask(server.port(), "", Request("/v1/health"), "127.0.0.2"), "HTTP/1.1 200"));
}

// With proxy_protocol_from empty (the default) a PROXY header is no way in, and the server
// stays healthy.
TEST_F(ProxyServerTest, WithoutTheListAHeaderGetsNoService) {
  TestServer server;
  EXPECT_EQ(Ask(server.port(), V2From("203.0.113.9"), Request("/v1/health")), "");
  EXPECT_EQ(Ask(server.port(), V1From("203.0.113.9"), Request("/v1/health")), "");
  EXPECT_TRUE(StartsWith(Ask(server.port(), "", Request("/v1/health")), "HTTP/1.1 200"));
  auto alice = server.Client(server.alice());
  EXPECT_EQ(alice->WhoAmI().value(), "alice");
}

}  // namespace
}  // namespace cardvault
