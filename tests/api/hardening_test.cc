// Hostile clients against a real TLS server on 127.0.0.1 (issue 17): idle and slow
// connections, connection floods from one address, header floods, ambiguous
// Content-Length, token guessing beside a valid token.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/api/raw_tls.h"
#include "tests/api/server_test_util.h"
#include "tests/integration/local_server.h"

namespace cardvault {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string HealthRequest() { return "GET /v1/health HTTP/1.1\r\nHost: localhost\r\n\r\n"; }

// Connections that never send a byte, and connections that send their request headers one
// byte at a time (slowloris), held open from other addresses.
class Hostiles {
 public:
  Hostiles(int port, int idle, int slow, const std::string& source, int drip_ms = 200) {
    for (int i = 0; i < idle; ++i) idle_.push_back(ConnectFrom(port, source));
    for (int i = 0; i < slow; ++i) slow_.push_back(std::make_unique<RawTls>(port, source));
    dripper_ = std::thread([this, drip_ms] {
      const std::string header = "GET /v1/health HTTP/1.1\r\nX-Slow: ";
      for (size_t at = 0; !stop_ && at < 10000; ++at) {
        for (auto& s : slow_) s->Send(std::string(1, at < header.size() ? header[at] : 'a'));
        for (int t = 0; t < drip_ms / 10 && !stop_; ++t) {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
      }
    });
  }
  ~Hostiles() {
    stop_ = true;
    dripper_.join();
    for (int fd : idle_) ::close(fd);
  }
  size_t connected() const {
    size_t n = 0;
    for (int fd : idle_) n += fd >= 0;
    for (auto& s : slow_) n += s->ok();
    return n;
  }
  std::vector<std::unique_ptr<RawTls>>& slow() { return slow_; }

 private:
  std::vector<int> idle_;
  std::vector<std::unique_ptr<RawTls>> slow_;
  std::atomic<bool> stop_{false};
  std::thread dripper_;
};

ServerConfig HardenedConfig() {
  ServerConfig config = TestServer::DefaultConfig();
  config.header_timeout_seconds = 30;  // the hostile connections stay for the whole test
  config.max_connections_per_address = 100;
  return config;
}

class HardeningTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ::signal(SIGPIPE, SIG_IGN); }
};

TEST_F(HardeningTest, IdleAndSlowConnectionsDoNotStarveOthers) {
  TestServer server(HardenedConfig());
  constexpr int kIdle = 40;
  constexpr int kSlow = 40;
  Hostiles hostiles(server.port(), kIdle, kSlow, "127.0.0.2");
  ASSERT_EQ(hostiles.connected(), size_t{kIdle + kSlow});
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // all of them are in
  // A client with a token, and one without, each get their answer at once, on new
  // connections, several times over.
  for (int round = 0; round < 3; ++round) {
    auto start = Clock::now();
    auto alice = server.Client(server.alice());
    auto who = alice->WhoAmI();
    ASSERT_TRUE(who.ok()) << who.status().ToString();
    EXPECT_EQ(*who, "alice");
    EXPECT_LT(SecondsSince(start), 1.0);
    start = Clock::now();
    RawTls health(server.port());
    ASSERT_TRUE(health.ok());
    ASSERT_TRUE(health.Send(HealthRequest()));
    EXPECT_EQ(health.ReadResponse().rfind("HTTP/1.1 200", 0), 0u);
    EXPECT_LT(SecondsSince(start), 1.0);
  }
}

// A burst of connections is accepted at once (httplib alone listens with a backlog of 5:
// the sixth connection of a burst waited a second for its SYN to be sent again).
TEST_F(HardeningTest, ABurstOfConnectionsIsAcceptedAtOnce) {
  TestServer server(HardenedConfig());
  std::vector<int> fds;
  const auto start = Clock::now();
  for (int i = 0; i < 30; ++i) fds.push_back(ConnectFrom(server.port(), "127.0.0.3"));
  const double seconds = SecondsSince(start);
  for (int fd : fds) {
    EXPECT_GE(fd, 0);
    if (fd >= 0) ::close(fd);
  }
  EXPECT_LT(seconds, 0.5);
}

// Dripping header bytes faster than the read timeout no longer keeps a connection: the
// handshake and headers have one deadline in total.
TEST_F(HardeningTest, SlowHeadersMeetATotalDeadline) {
  ServerConfig config = HardenedConfig();
  config.header_timeout_seconds = 2;
  config.read_timeout_seconds = 5;
  TestServer server(config);
  auto start = Clock::now();
  Hostiles hostiles(server.port(), 1, 3, "127.0.0.2", 100);
  ASSERT_EQ(hostiles.connected(), 4u);
  // The server ends every slow connection by its deadline, though a byte arrives every 100 ms.
  for (auto& slow : hostiles.slow()) {
    while (!slow->Readable(100) && SecondsSince(start) < 8) {
    }
    EXPECT_TRUE(slow->Readable(0));
    EXPECT_EQ(slow->ReadToClose().find("200"), std::string::npos);
  }
  EXPECT_LT(SecondsSince(start), 4.0);
}

TEST_F(HardeningTest, ConnectionsBeyondThePerAddressLimitAreRefused) {
  ServerConfig config = TestServer::DefaultConfig();
  config.max_connections_per_address = 4;
  TestServer server(config);
  std::vector<std::unique_ptr<RawTls>> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(std::make_unique<RawTls>(server.port(), "127.0.0.2"));
    ASSERT_TRUE(held.back()->ok());
  }
  // The fifth from that address is told 503 "overloaded" and closed.
  RawTls fifth(server.port(), "127.0.0.2");
  ASSERT_TRUE(fifth.ok());
  fifth.Send(HealthRequest());
  std::string refused = fifth.ReadToClose();
  EXPECT_EQ(refused.rfind("HTTP/1.1 503", 0), 0u) << refused;
  EXPECT_NE(refused.find("overloaded"), std::string::npos);
  // Another address is served meanwhile, and the held ones still are.
  auto alice = server.Client(server.alice());
  auto start = Clock::now();
  EXPECT_EQ(alice->WhoAmI().value(), "alice");
  EXPECT_LT(SecondsSince(start), 1.0);
  ASSERT_TRUE(held[0]->Send(HealthRequest()));
  EXPECT_EQ(held[0]->ReadResponse().rfind("HTTP/1.1 200", 0), 0u);
  // Once one closes, its address gets a slot again.
  held.pop_back();
  std::string answer;
  for (int i = 0; i < 50 && answer.rfind("HTTP/1.1 200", 0) != 0; ++i) {
    RawTls again(server.port(), "127.0.0.2");
    again.Send(HealthRequest());
    answer = again.ReadResponse();
    if (answer.rfind("HTTP/1.1 200", 0) != 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << answer;
}

uint64_t RssKiB() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6));
  }
  return 0;
}

TEST_F(HardeningTest, HeaderFloodIs431WithFlatMemory) {
  TestServer server;
  const uint64_t before = RssKiB();
  RawTls flood(server.port());
  ASSERT_TRUE(flood.ok());
  ASSERT_TRUE(flood.Send("GET /v1/health HTTP/1.1\r\nHost: localhost\r\n"));
  // 16 MiB of short header lines, 64 KiB at a time, until the server answers.
  std::string chunk;
  while (chunk.size() < (64 << 10)) chunk += "X-A: b\r\n";
  size_t sent = 0;
  // (A client that never reads may lose the answer once the server stops reading: it
  // drops at most 4 MiB more. This one looks for the answer between chunks.)
  while (sent < (16 << 20) && !flood.Readable(10)) {
    if (!flood.Send(chunk)) break;
    sent += chunk.size();
  }
  if (sent >= (16 << 20)) flood.Send("\r\n");
  std::string answer = flood.ReadToClose();
  EXPECT_EQ(answer.rfind("HTTP/1.1 431", 0), 0u) << answer.substr(0, 200);
  EXPECT_NE(answer.find("headers_too_large"), std::string::npos);
  const uint64_t after = RssKiB();
  EXPECT_LT(after, before + 16 * 1024) << "RSS grew from " << before << " KiB to " << after;
  // The server serves on.
  EXPECT_EQ(server.Client(server.alice())->WhoAmI().value(), "alice");
}

TEST_F(HardeningTest, TooManyHeaderLinesIs431) {
  ServerConfig config = TestServer::DefaultConfig();
  config.max_header_count = 50;
  TestServer server(config);
  std::string request = "GET /v1/health HTTP/1.1\r\nHost: localhost\r\n";
  for (int i = 0; i < 60; ++i) request += "X-" + std::to_string(i) + ": v\r\n";
  request += "\r\n";
  RawTls client(server.port());
  ASSERT_TRUE(client.Send(request));
  std::string answer = client.ReadToClose();
  EXPECT_EQ(answer.rfind("HTTP/1.1 431", 0), 0u) << answer;
  // At the limit, the request is served.
  std::string fits = "GET /v1/health HTTP/1.1\r\nHost: localhost\r\n";
  for (int i = 0; i < 49; ++i) fits += "X-" + std::to_string(i) + ": v\r\n";
  fits += "\r\n";
  RawTls ok(server.port());
  ASSERT_TRUE(ok.Send(fits));
  EXPECT_EQ(ok.ReadResponse().rfind("HTTP/1.1 200", 0), 0u);
}

TEST_F(HardeningTest, RepeatedOrConflictingContentLengthIs400) {
  TestServer server;
  const std::string id(64, 'b');
  auto put = [&](const std::string& lengths, const std::string& body) {
    return "PUT /v1/objects/" + id + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
           server.alice() + "\r\nX-Content-SHA256: " + Sha("abc") + "\r\n" + lengths + "\r\n" +
           body;
  };
  for (const std::string lengths :
       {"Content-Length: 3\r\nContent-Length: 300\r\n",
        "Content-Length: 3\r\nContent-Length: 3\r\n", "Content-Length: 3, 3\r\n",
        "Content-Length: +3\r\n", "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n"}) {
    std::string answer = server.server().ProcessRawForTesting(put(lengths, "abc"));
    EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0u) << lengths << answer;
    EXPECT_NE(answer.find("bad_content_length"), std::string::npos) << lengths << answer;
  }
  // Nothing was stored, and over TLS, with Expect: 100-continue, the answer is the same.
  EXPECT_EQ(server.store().Head("alice", id).status().code(), StatusCode::kNotFound);
  RawTls client(server.port());
  ASSERT_TRUE(
      client.Send(put("Expect: 100-continue\r\nContent-Length: 3\r\nContent-Length: 4\r\n", "")));
  std::string answer = client.ReadToClose();
  EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0u) << answer;
  // One Content-Length is fine.
  EXPECT_EQ(server.server()
                .ProcessRawForTesting(put("Content-Length: 3\r\n", "abc"))
                .rfind("HTTP/1.1 201", 0),
            0u);
}

// Only uploads take a body: httplib would read any other whole into memory (up to the
// 4 GiB payload limit) before a handler checks the token.
TEST_F(HardeningTest, BodiesOnOtherRoutesAreRefusedUnread) {
  TestServer server;
  const std::string id(64, 'c');
  for (const std::string& head :
       std::vector<std::string>{"DELETE /v1/objects/" + id, "POST /v1/objects/" + id,
                                "PUT /v1/other", "GET /v1/health", "PATCH /v1/objects/" + id}) {
    std::string answer = server.server().ProcessRawForTesting(
        head + " HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\nxyz");
    EXPECT_EQ(answer.rfind("HTTP/1.1 413", 0), 0u) << head << answer;
    EXPECT_NE(answer.find("unexpected_body"), std::string::npos) << head << answer;
  }
  // Over TLS: answered at once, with nothing of the body read into memory.
  const uint64_t before = RssKiB();
  RawTls client(server.port());
  ASSERT_TRUE(client.Send("DELETE /v1/objects/" + id +
                          " HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n"));
  std::string chunk(64 << 10, 'z');
  size_t sent = 0;
  while (sent < (16 << 20) && !client.Readable(10) && client.Send(chunk)) sent += chunk.size();
  std::string answer = client.ReadToClose();
  EXPECT_EQ(answer.rfind("HTTP/1.1 413", 0), 0u) << answer.substr(0, 200);
  EXPECT_LT(RssKiB(), before + 16 * 1024);
  // No body, or an empty one, is fine.
  EXPECT_EQ(server.server()
                .ProcessRawForTesting("GET /v1/health HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
                .rfind("HTTP/1.1 200", 0),
            0u);
}

// Valid requests between guessed tokens do not reset the count.
TEST_F(HardeningTest, GoodTokensBetweenBadOnesDoNotResetTheBackoff) {
  ServerConfig config = TestServer::DefaultConfig();
  config.auth_failures_before_backoff = 10;
  TestServer server(config);
  auto bad = server.Client("cvt_1_" + std::string(64, '0'));
  auto good = server.Client(server.alice());
  bool blocked = false;
  for (int round = 0; round < 3 && !blocked; ++round) {
    for (int i = 0; i < 9 && !blocked; ++i) {
      blocked = bad->WhoAmI().status().reason() == "too_many_auth_failures";
    }
    auto who = good->WhoAmI();
    blocked = blocked || who.status().reason() == "too_many_auth_failures";
  }
  EXPECT_TRUE(blocked);
}

uint64_t BytesUnder(const std::string& dir) {
  uint64_t total = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) total += e.file_size();
  }
  return total;
}

// Deleting or overwriting keeps the old version on disk for the retention period: those
// bytes count against the storage limit (quota + retained_quota_percent), so a user (or a
// stolen token) cannot fill the disk that way.
TEST_F(HardeningTest, DeletedAndReplacedVersionsCountAgainstTheStorageLimit) {
  ServerConfig config = TestServer::DefaultConfig();
  config.quota_bytes = 3 << 20;
  config.retained_quota_percent = 100;  // 6 MiB on disk at most
  TestServer server(config);
  auto alice = server.Client(server.alice());
  constexpr uint64_t kLimit = 6 << 20;
  auto megabyte = [](int i) { return std::string(1000000, static_cast<char>('a' + i % 26)); };
  // PUT 1 MB then DELETE it, again and again.
  Status refused;
  int stored = 0;
  for (int i = 0; i < 30 && refused.ok(); ++i) {
    std::string data = megabyte(i) + std::to_string(i);
    auto put = alice->Put(Sha(data), PutFor(data), StringSource(data));
    if (!put.ok()) {
      refused = put.status();
      break;
    }
    ++stored;
    ASSERT_TRUE(alice->Delete(Sha(data)).ok());
  }
  EXPECT_EQ(refused.code(), StatusCode::kResourceExhausted) << refused.ToString();
  EXPECT_EQ(refused.reason(), "retained_quota_exceeded");
  EXPECT_NE(refused.message().find("storage limit"), std::string::npos) << refused.message();
  EXPECT_EQ(stored, 6);
  EXPECT_LE(BytesUnder(server.data_dir() + "/blobs"), kLimit);

  // Bob overwrites one id with new content, again and again.
  auto bob = server.Client(server.bob());
  const std::string id = Sha("one id");
  refused = Status::Ok();
  stored = 0;
  for (int i = 0; i < 30; ++i) {
    std::string data = megabyte(i) + "bob" + std::to_string(i);
    auto put = bob->Put(id, PutFor(data), StringSource(data));
    if (!put.ok()) {
      refused = put.status();
      break;
    }
    ++stored;
  }
  EXPECT_EQ(refused.reason(), "retained_quota_exceeded") << refused.ToString();
  EXPECT_EQ(stored, 6);
  EXPECT_LE(BytesUnder(server.data_dir() + "/blobs"), 2 * kLimit);
  // The live quota is named as such.
  auto carol_sized = std::string(4 << 20, 'x');
  auto over = alice->Put(Sha(carol_sized), PutFor(carol_sized), StringSource(carol_sized));
  EXPECT_EQ(over.status().reason(), "quota_exceeded");
  // Once the retention passes and the purge runs, the user can store again.
  ASSERT_TRUE(server.store().PurgeExpired(INT64_MAX / 2).ok());
  std::string again = megabyte(7) + "again";
  EXPECT_TRUE(bob->Put(id, PutFor(again), StringSource(again)).ok());
}

// The real binary: everything in the data directory is the owner's only, files left by
// older versions included.
TEST_F(HardeningTest, DataDirectoryIsPrivate) {
  char tmpl[] = "/tmp/cv-private-test-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  {
    LocalServer server(dir);
    ASSERT_TRUE(server.Init().ok());
    auto token = server.AddUser("alice", dir + "/token");
    ASSERT_TRUE(token.ok()) << token.status().ToString();
    const std::string data = server.data_dir();
    // As an older version (or an operator) left them.
    ASSERT_EQ(::chmod((data + "/auth.db").c_str(), 0644), 0);
    ASSERT_EQ(::chmod((data + "/tls").c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((data + "/extra").c_str(), 0755), 0);
    std::ofstream(data + "/extra/notes") << "x";
    ASSERT_EQ(::chmod((data + "/extra/notes").c_str(), 0644), 0);
    ASSERT_TRUE(server.Start().ok());
    auto client = server.Client(*token);
    ASSERT_TRUE(client.ok());
    const std::string big(200000, 'b');
    ASSERT_TRUE((*client)->Put(Sha(big), PutFor(big), StringSource(big)).ok());
    ASSERT_TRUE((*client)->Put(Sha("small"), PutFor("small"), StringSource("small")).ok());
    server.Stop();
    size_t checked = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(data)) {
      struct stat st {};
      ASSERT_EQ(::lstat(e.path().c_str(), &st), 0);
      const mode_t mode = st.st_mode & 07777;
      if (S_ISDIR(st.st_mode)) {
        EXPECT_EQ(mode, 0700u) << e.path();
      } else {
        EXPECT_EQ(mode, 0600u) << e.path();
      }
      ++checked;
    }
    EXPECT_GT(checked, 8u);  // config, tls/*, auth.db*, index.db*, tmp, blobs/xx/*, extra/*
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cardvault
