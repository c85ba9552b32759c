// SIGHUP reloads the server's certificate and key (issue 21): a real cardvault-server on
// 127.0.0.1, its certificate files replaced while it serves. New connections see the new
// certificate, an open keep-alive connection keeps working with the old one, a broken
// certificate is refused with the reason logged and the current one kept; the server tells
// systemd (sd_notify, over a NOTIFY_SOCKET of the test's own) when it is ready, reloading
// and stopping.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "api/tls_identity.h"
#include "tests/api/raw_tls.h"
#include "tests/integration/local_server.h"

namespace cardvault {
namespace {

std::string HealthRequest() { return "GET /v1/health HTTP/1.1\r\nHost: localhost\r\n\r\n"; }

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The NOTIFY_SOCKET systemd would give a Type=notify service: a datagram socket the server's
// sd_notify() messages arrive on.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    path.copy(addr.sun_path, sizeof(addr.sun_path) - 1);
    ok_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~NotifySocket() {
    if (fd_ >= 0) ::close(fd_);
    ::unlink(path_.c_str());
  }
  bool ok() const { return ok_; }
  const std::string& path() const { return path_; }

  // The messages received until one contains `wanted` (all of them, joined by '|'), or ""
  // after 10 s without it.
  std::string WaitFor(const std::string& wanted) {
    std::string seen;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (int i = 0; i < 1000 && std::chrono::steady_clock::now() < until; ++i) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) continue;
      const std::string message(buf, static_cast<size_t>(n));
      seen += message + "|";
      if (message.find(wanted) != std::string::npos) return seen;
    }
    return "";
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool ok_ = false;
};

class TlsReloadTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ::signal(SIGPIPE, SIG_IGN); }
  void SetUp() override {
    char tmpl[] = "/tmp/cv-tls-reload-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    notify_ = std::make_unique<NotifySocket>(dir_ + "/notify");
    ASSERT_TRUE(notify_->ok());
    server_ = std::make_unique<LocalServer>(dir_);
    ASSERT_TRUE(server_->Init().ok());
    ASSERT_TRUE(server_->Start({{"NOTIFY_SOCKET", notify_->path()}}).ok());
    ASSERT_NE(notify_->WaitFor("READY=1"), "") << "no READY=1 from sd_notify";
  }
  void TearDown() override {
    server_.reset();
    notify_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Writes a new key and certificate over the server's files; returns the fingerprint.
  std::string ReplaceCertificate() {
    const std::string data = server_->data_dir();
    auto fingerprint =
        GenerateSelfSignedCertificate(*Env::Default(), data + "/tls/cert.pem",
                                      data + "/tls/key.pem", {"localhost"}, {"127.0.0.1"});
    EXPECT_TRUE(fingerprint.ok()) << fingerprint.status().ToString();
    return fingerprint.ok() ? *fingerprint : "";
  }
  // Sends SIGHUP and waits until the server says it is ready again.
  void Reload() {
    server_->process().Signal(SIGHUP);
    const std::string seen = notify_->WaitFor("READY=1");
    EXPECT_NE(seen.find("RELOADING=1"), std::string::npos) << seen;
    EXPECT_NE(seen, "") << "no READY=1 after SIGHUP; log: " << ReadText(server_->log_file());
  }

  std::string dir_;
  std::unique_ptr<NotifySocket> notify_;
  std::unique_ptr<LocalServer> server_;
};

TEST_F(TlsReloadTest, SighupGivesNewConnectionsTheNewCertificateAndKeepsOpenOnes) {
  const std::string old_fingerprint = server_->fingerprint();
  RawTls open(server_->port());
  ASSERT_TRUE(open.ok());
  ASSERT_TRUE(open.Send(HealthRequest()));
  ASSERT_NE(open.ReadResponse().find("HTTP/1.1 200"), std::string::npos);
  EXPECT_EQ(open.PeerFingerprint(), old_fingerprint);

  const std::string new_fingerprint = ReplaceCertificate();
  ASSERT_NE(new_fingerprint, old_fingerprint);
  Reload();
  EXPECT_NE(ReadText(server_->log_file())
                .find("certificate reloaded, sha256 fingerprint " + new_fingerprint),
            std::string::npos)
      << ReadText(server_->log_file());

  RawTls fresh(server_->port());
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fresh.PeerFingerprint(), new_fingerprint);
  ASSERT_TRUE(fresh.Send(HealthRequest()));
  EXPECT_NE(fresh.ReadResponse().find("HTTP/1.1 200"), std::string::npos);

  // The connection opened before the reload still answers, on its old certificate.
  ASSERT_TRUE(open.Send(HealthRequest()));
  EXPECT_NE(open.ReadResponse().find("HTTP/1.1 200"), std::string::npos);
  EXPECT_EQ(open.PeerFingerprint(), old_fingerprint);

  // A client pinned to the old certificate is refused on a new connection.
  auto pinned_old = server_->Client("");
  ASSERT_TRUE(pinned_old.ok());
  EXPECT_FALSE((*pinned_old)->Health().ok());

  server_->Stop();
  EXPECT_NE(notify_->WaitFor("STOPPING=1"), "");
}

TEST_F(TlsReloadTest, BrokenCertificateOnSighupKeepsTheCurrentOneAndLogsWhy) {
  const std::string fingerprint = server_->fingerprint();
  const std::string cert = server_->data_dir() + "/tls/cert.pem";
  const std::string key = server_->data_dir() + "/tls/key.pem";
  const std::string good_key = ReadText(key);

  // Not a certificate at all.
  std::ofstream(cert) << "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n";
  Reload();
  std::string log = ReadText(server_->log_file());
  EXPECT_NE(log.find("keeping the current certificate: "), std::string::npos) << log;
  EXPECT_NE(log.find("cannot load certificate " + cert), std::string::npos) << log;
  {
    RawTls fresh(server_->port());
    ASSERT_TRUE(fresh.ok());
    EXPECT_EQ(fresh.PeerFingerprint(), fingerprint);
  }

  // A whole certificate whose key is not the one in key_file.
  ASSERT_NE(ReplaceCertificate(), "");
  std::ofstream(key) << good_key;
  Reload();
  log = ReadText(server_->log_file());
  EXPECT_NE(log.find("cannot load private key " + key), std::string::npos) << log;
  RawTls fresh(server_->port());
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fresh.PeerFingerprint(), fingerprint);
  auto client = server_->Client("");
  ASSERT_TRUE(client.ok());
  EXPECT_TRUE((*client)->Health().ok());
}

}  // namespace
}  // namespace cardvault
