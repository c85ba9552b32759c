// Test helpers: a real BlobServer on 127.0.0.1 (ephemeral port) with users and tokens.
#ifndef CARDVAULT_TESTS_API_SERVER_TEST_UTIL_H_
#define CARDVAULT_TESTS_API_SERVER_TEST_UTIL_H_

#include <stdlib.h>

#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "api/blob_server.h"
#include "api/remote_store.h"
#include "api/tls_identity.h"
#include "core/crypto.h"
#include "storage/file_blob_store.h"
#include "storage/sqlite_token_store.h"
#include "tests/api/pinned_client.h"

namespace cardvault {

// Reads from a string in memory.
class StringFile final : public SequentialFile {
 public:
  explicit StringFile(std::string data) : data_(std::move(data)) {}
  StatusOr<size_t> Read(std::span<uint8_t> buf) override {
    size_t n = std::min(buf.size(), data_.size() - pos_);
    std::memcpy(buf.data(), data_.data() + pos_, n);
    pos_ += n;
    return n;
  }

 private:
  std::string data_;
  size_t pos_ = 0;
};

inline SourceFactory StringSource(std::string data) {
  return [data]() -> StatusOr<std::unique_ptr<SequentialFile>> {
    return std::unique_ptr<SequentialFile>(new StringFile(data));
  };
}

inline std::string Sha(std::string_view data) { return HexEncode(Sha256(AsBytes(data))); }

inline PutOptions PutFor(std::string_view data, bool create_only = false) {
  return PutOptions{ObjectKind::kBlob, data.size(), Sha(data), create_only};
}

inline size_t CountFiles(const std::string& dir) {
  size_t n = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) ++n;
  }
  return n;
}

// A data directory with a certificate, users alice and bob, and a running server.
class TestServer {
 public:
  // `env` (for the blob store; default: the real one) MUST outlive the server.
  explicit TestServer(ServerConfig config = DefaultConfig(), Env* env = Env::Default())
      : config_(config) {
    char tmpl[] = "/tmp/cv-server-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    env_ = env;
    fingerprint_ = GenerateSelfSignedCertificate(*env_, dir_ + "/cert.pem", dir_ + "/key.pem",
                                                 {"localhost"}, {"127.0.0.1"})
                       .value();
    tokens_ = SqliteTokenStore::Open(env_, dir_ + "/auth.db").value();
    tokens_->AddUser("alice").IgnoreError();
    tokens_->AddUser("bob").IgnoreError();
    alice_token_ = std::string(tokens_->Issue("alice", "laptop").value().token.AsStringView());
    bob_token_ = std::string(tokens_->Issue("bob", "phone").value().token.AsStringView());
    Start();
  }
  ~TestServer() {
    Shutdown();
    tokens_.reset();
    std::filesystem::remove_all(dir_);
  }

  static ServerConfig DefaultConfig() {
    ServerConfig config;
    config.access_log = false;
    config.quota_bytes = uint64_t{1} << 30;
    config.max_object_bytes = uint64_t{512} << 20;
    config.read_timeout_seconds = 5;
    config.write_timeout_seconds = 5;
    return config;
  }

  void Start() {
    FileBlobStore::Options options;
    options.max_object_bytes = config_.max_object_bytes;
    options.quota_bytes = config_.quota_bytes;
    options.retained_quota_percent = config_.retained_quota_percent;
    options.retention_seconds = config_.retention_seconds;
    store_ = FileBlobStore::Open(env_, dir_ + "/data", options).value();
    server_ = BlobServer::New(config_, dir_ + "/cert.pem", dir_ + "/key.pem", store_.get(),
                              tokens_.get(), env_)
                  .value();
    port_ = server_->Bind("127.0.0.1", 0).value();
    thread_ = std::thread([this] { server_->Serve().IgnoreError(); });
  }
  void Shutdown() {
    if (!server_) return;
    server_->Stop();
    thread_.join();
    server_.reset();
    store_.reset();
  }

  std::unique_ptr<RemoteStore> Client(const std::string& token) {
    return PinnedTestClient(port_, fingerprint_, token);
  }

  std::string CurlBase(const std::string& token) const {
    return "curl -sS --cacert " + dir_ + "/cert.pem -H 'Authorization: Bearer " + token + "' ";
  }
  std::string Url(const std::string& path) const {
    return "https://localhost:" + std::to_string(port_) + path;
  }

  const std::string& dir() const { return dir_; }
  std::string data_dir() const { return dir_ + "/data"; }
  const std::string& fingerprint() const { return fingerprint_; }
  const std::string& alice() const { return alice_token_; }
  const std::string& bob() const { return bob_token_; }
  int port() const { return port_; }
  TokenStore& tokens() { return *tokens_; }
  FileBlobStore& store() { return *store_; }
  BlobServer& server() { return *server_; }

 private:
  ServerConfig config_;
  std::string dir_;
  Env* env_;
  std::string fingerprint_;
  std::unique_ptr<TokenStore> tokens_;
  std::unique_ptr<FileBlobStore> store_;
  std::unique_ptr<BlobServer> server_;
  std::thread thread_;
  int port_ = 0;
  std::string alice_token_;
  std::string bob_token_;
};

}  // namespace cardvault

#endif  // CARDVAULT_TESTS_API_SERVER_TEST_UTIL_H_
