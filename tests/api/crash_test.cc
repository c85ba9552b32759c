// The real cardvault-server binary as a child process: kill -9 mid-upload, SIGTERM, CLI.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "api/server_config.h"
#include "tests/api/pinned_client.h"
#include "tests/api/server_test_util.h"

namespace cardvault {
namespace {

const std::string kServer = std::string(CARDVAULT_BINARY_DIR) + "/api/cardvault-server";

std::string RunCommand(const std::string& command) {
  FILE* pipe = ::popen(command.c_str(), "r");
  std::string out;
  char buf[1024];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  EXPECT_EQ(::pclose(pipe), 0) << command;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// A source that yields `size` bytes slowly, so an upload is still running when we act.
class SlowFile final : public SequentialFile {
 public:
  SlowFile(uint64_t size, std::atomic<uint64_t>* sent) : left_(size), sent_(sent) {}
  StatusOr<size_t> Read(std::span<uint8_t> buf) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    size_t n = static_cast<size_t>(std::min<uint64_t>({buf.size(), left_, 64 << 10}));
    std::memset(buf.data(), 'z', n);
    left_ -= n;
    *sent_ += n;
    return n;
  }

 private:
  uint64_t left_;
  std::atomic<uint64_t>* sent_;
};

class ChildServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cv-child-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    data_ = dir_ + "/data";
    std::string init = RunCommand(kServer + " init --data " + data_);
    size_t at = init.find("fingerprint: ");
    ASSERT_NE(at, std::string::npos) << init;
    fingerprint_ = init.substr(at + 13, 64);
    EXPECT_EQ(fingerprint_, CertificateFingerprintFromPemFile(data_ + "/tls/cert.pem").value());
    RunCommand(kServer + " --data " + data_ + " user add alice");
    token_ =
        RunCommand(kServer + " --data " + data_ + " token issue alice --device test 2>/dev/null");
    ASSERT_EQ(token_.rfind("cvt_", 0), 0u) << token_;
    auto config = ServerConfig::Load(*Env::Default(), data_ + "/config.json").value();
    port_ = FreePort();
    config.port = port_;
    config.access_log = false;
    ASSERT_TRUE(config.Save(*Env::Default(), data_ + "/config.json").ok());
  }
  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    std::filesystem::remove_all(dir_);
  }

  void StartServer() {
    pid_ = ::fork();
    if (pid_ == 0) {
      ::execl(kServer.c_str(), kServer.c_str(), "--data", data_.c_str(), "serve", nullptr);
      ::_exit(127);
    }
    auto client = Client();
    for (int i = 0; i < 200 && !client->Health().ok(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_TRUE(client->Health().ok()) << "server did not come up";
  }
  int StopServer(int sig) {
    ::kill(pid_, sig);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }
  std::unique_ptr<RemoteStore> Client() { return PinnedTestClient(port_, fingerprint_, token_); }

  std::string dir_, data_, fingerprint_, token_;
  int port_ = 0;
  pid_t pid_ = -1;
};

TEST_F(ChildServerTest, KillNineMidUploadLeavesNothingAndRetrySucceeds) {
  StartServer();
  constexpr uint64_t kSize = 8 << 20;
  std::string content(kSize, 'z');
  const std::string sha = Sha(content);
  PutOptions options{ObjectKind::kBlob, kSize, sha, /*create_only=*/true};
  std::atomic<uint64_t> sent{0};
  StatusOr<ObjectInfo> result = InternalError("not run");
  std::thread uploader([&] {
    auto client = Client();
    result = client->Put(sha, options, [&]() -> StatusOr<std::unique_ptr<SequentialFile>> {
      return std::unique_ptr<SequentialFile>(new SlowFile(kSize, &sent));
    });
  });
  while (sent < (2 << 20)) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  // The partial upload exists only as a temporary file.
  EXPECT_GE(CountFiles(data_ + "/tmp"), 1u);
  int status = StopServer(SIGKILL);
  uploader.join();
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_FALSE(result.ok());
  EXPECT_TRUE(IsRetryable(result.status())) << result.status().ToString();

  StartServer();
  auto client = Client();
  EXPECT_EQ(client->Head(sha).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(client->List({}).value().objects.empty());
  EXPECT_EQ(CountFiles(data_ + "/tmp"), 0u);  // the partial upload was cleaned up
  auto retried = client->Put(sha, options, StringSource(content));
  ASSERT_TRUE(retried.ok()) << retried.status().ToString();
  EXPECT_EQ(client->Head(sha).value().size, kSize);
}

TEST_F(ChildServerTest, SigtermLetsAnUploadInFlightFinish) {
  StartServer();
  constexpr uint64_t kSize = 2 << 20;
  const std::string sha = Sha(std::string(kSize, 'z'));
  std::atomic<uint64_t> sent{0};
  StatusOr<ObjectInfo> result = InternalError("not run");
  std::thread uploader([&] {
    auto client = Client();
    result = client->Put(sha, PutOptions{ObjectKind::kBlob, kSize, sha, false},
                         [&]() -> StatusOr<std::unique_ptr<SequentialFile>> {
                           return std::unique_ptr<SequentialFile>(new SlowFile(kSize, &sent));
                         });
  });
  while (sent < (512 << 10)) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  int status = StopServer(SIGTERM);
  uploader.join();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  // After a restart the object is there and new connections work.
  StartServer();
  EXPECT_EQ(Client()->Head(sha).value().size, kSize);
}

TEST_F(ChildServerTest, TokenCliListRevokeAndNoTokenInLogs) {
  std::string list = RunCommand(kServer + " --data " + data_ + " token list");
  EXPECT_NE(list.find("alice\ttest"), std::string::npos) << list;
  EXPECT_EQ(list.find(token_), std::string::npos);
  // Only the digest is stored.
  std::ifstream db(data_ + "/auth.db", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(db)), {});
  EXPECT_EQ(bytes.find(token_.substr(token_.size() - 40)), std::string::npos);
  // Access logs never carry tokens.
  auto config = ServerConfig::Load(*Env::Default(), data_ + "/config.json").value();
  config.access_log = true;
  ASSERT_TRUE(config.Save(*Env::Default(), data_ + "/config.json").ok());
  int log_fd = ::open((dir_ + "/server.log").c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0600);
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(log_fd, 2);
    ::execl(kServer.c_str(), kServer.c_str(), "--data", data_.c_str(), "serve", nullptr);
    ::_exit(127);
  }
  ::close(log_fd);
  auto client = Client();
  for (int i = 0; i < 200 && !client->Health().ok(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(client->WhoAmI().value(), "alice");
  RunCommand(kServer + " --data " + data_ + " token revoke 1");
  EXPECT_EQ(client->WhoAmI().status().code(), StatusCode::kPermissionDenied);
  client.reset();  // an idle keep-alive connection would hold shutdown for its timeout
  StopServer(SIGTERM);
  std::ifstream log(dir_ + "/server.log");
  std::string text((std::istreambuf_iterator<char>(log)), {});
  EXPECT_NE(text.find("GET /v1/whoami 200 user=alice"), std::string::npos) << text;
  EXPECT_NE(text.find("GET /v1/whoami 401"), std::string::npos) << text;
  EXPECT_EQ(text.find("cvt_"), std::string::npos) << text;
}

}  // namespace
}  // namespace cardvault

namespace cardvault {
namespace {

// `user quota` gives one user a quota of their own while the server runs: an upload beyond
// it is 507 and stores nothing, and 'default' restores the config's.
TEST_F(ChildServerTest, UserQuotaCliAppliesToTheRunningServer) {
  StartServer();
  auto client = Client();
  const std::string nobody =
      RunCommand(kServer + " --data " + data_ + " user quota nobody 10 2>&1; echo exit=$?");
  EXPECT_NE(nobody.find("no user nobody"), std::string::npos) << nobody;
  EXPECT_NE(nobody.find("exit=1"), std::string::npos) << nobody;
  const std::string lots =
      RunCommand(kServer + " --data " + data_ + " user quota alice lots 2>&1; echo exit=$?");
  EXPECT_NE(lots.find("number of bytes"), std::string::npos) << lots;
  EXPECT_NE(lots.find("exit=1"), std::string::npos) << lots;
  EXPECT_NE(RunCommand(kServer + " --data " + data_ + " user quota alice 100").find("100 bytes"),
            std::string::npos);
  const std::string body(200, 'q');
  const std::string sha = HexEncode(Sha256(AsBytes(body)));
  auto put = [&](const std::string& id) {
    return client->Put(id, {ObjectKind::kBlob, body.size(), sha, true}, StringSource(body))
        .status();
  };
  const std::string id(64, 'e');
  EXPECT_EQ(put(id).reason(), "quota_exceeded");
  EXPECT_EQ(client->Head(id).status().code(), StatusCode::kNotFound);
  RunCommand(kServer + " --data " + data_ + " user quota alice default");
  EXPECT_TRUE(put(id).ok());
}

}  // namespace
}  // namespace cardvault
