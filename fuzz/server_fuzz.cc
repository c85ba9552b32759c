// libFuzzer target: raw request bytes (one connection, possibly pipelined requests) through
// the server's HTTP parsing, routing, auth, id/header/query checks and the blob store. The
// server must answer, never crash, hang, trip a sanitizer or answer 500 to the first request. "@T"
// in the input stands for a valid bearer token, so mutations of the seeds (fuzz/server_seeds) get
// past authentication.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "api/blob_server.h"
#include "api/tls_identity.h"
#include "storage/file_blob_store.h"
#include "storage/sqlite_token_store.h"

namespace {

struct Harness {
  std::unique_ptr<cardvault::TokenStore> tokens;
  std::unique_ptr<cardvault::FileBlobStore> store;
  std::unique_ptr<cardvault::BlobServer> server;
  std::string token;
};

std::string* data_dir = nullptr;  // removed at exit

Harness* NewHarness() {
  using namespace cardvault;
  // tmpfs when there is one: the store fsyncs every commit.
  char tmpl[] = "/dev/shm/cv-server-fuzz-XXXXXX";
  char fallback[] = "/tmp/cv-server-fuzz-XXXXXX";
  char* dir = ::mkdtemp(tmpl);
  if (dir == nullptr) dir = ::mkdtemp(fallback);
  if (dir == nullptr) std::abort();
  const std::string d = dir;
  data_dir = new std::string(d);
  std::atexit([] {
    std::error_code ec;
    std::filesystem::remove_all(*data_dir, ec);
  });
  Env* env = Env::Default();
  auto* h = new Harness;
  GenerateSelfSignedCertificate(*env, d + "/cert.pem", d + "/key.pem", {"localhost"}, {}).value();
  h->tokens = SqliteTokenStore::Open(env, d + "/auth.db").value();
  h->tokens->AddUser("alice").IgnoreError();
  h->tokens->AddUser("bob").IgnoreError();
  h->token = std::string(h->tokens->Issue("alice", "fuzz").value().token.AsStringView());
  ServerConfig config;
  config.access_log = false;
  config.max_object_bytes = 1 << 20;
  config.quota_bytes = 8 << 20;
  config.auth_failures_before_backoff = 1 << 30;  // the fuzzer sends many bad tokens
  FileBlobStore::Options options;
  options.max_object_bytes = config.max_object_bytes;
  options.quota_bytes = config.quota_bytes;
  options.inline_max_bytes = 512;  // both storage paths
  h->store = FileBlobStore::Open(env, d + "/data", options).value();
  h->server =
      BlobServer::New(config, d + "/cert.pem", d + "/key.pem", h->store.get(), h->tokens.get(), env)
          .value();
  std::fprintf(stderr, "server_fuzz: data in %s\n", d.c_str());
  return h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Harness* harness = NewHarness();
  std::string input(reinterpret_cast<const char*>(data), size);
  for (size_t at = input.find("@T"); at != std::string::npos; at = input.find("@T", at)) {
    input.replace(at, 2, harness->token);
    at += harness->token.size();
  }
  std::string answer = harness->server->ProcessRawForTesting(input);
  // Only the first answer is checked: a later one could be an object's body echoing the text.
  if (answer.rfind("HTTP/1.1 500", 0) == 0) {
    std::fprintf(stderr, "server_fuzz: answered 500:\n%s\n", answer.c_str());
    std::abort();
  }
  return 0;
}
