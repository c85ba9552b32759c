// cardvault-server: the command line (init, user, token, serve) around BlobServer.
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

#include "api/blob_server.h"
#include "api/file_blob_store.h"
#include "api/private_files.h"
#include "api/server_config.h"
#include "api/tls_identity.h"
#include "api/token_store.h"

namespace cardvault {
namespace {

std::string ConfigPath(const std::string& data) { return data + "/config.json"; }
std::string Resolve(const std::string& data, const std::string& path) {
  return !path.empty() && path[0] == '/' ? path : data + "/" + path;
}

int Fail(const Status& status) {
  std::fprintf(stderr, "cardvault-server: %s\n", status.ToString().c_str());
  return 1;
}

int Init(const std::string& data, const std::vector<std::string>& hosts) {
  Env& env = *Env::Default();
  if (env.Stat(ConfigPath(data)).ok()) {
    return Fail(AlreadyExistsError(ConfigPath(data) + " exists; refusing to overwrite"));
  }
  Status status = env.CreateDirs(data + "/tls");
  if (!status.ok()) return Fail(status);
  ServerConfig config;
  std::vector<std::string> dns = {"localhost"};
  std::vector<std::string> ips = {"127.0.0.1", "::1"};
  for (const auto& h : hosts) {
    (h.find_first_not_of("0123456789.:abcdef") == std::string::npos ? ips : dns).push_back(h);
  }
  auto fingerprint = GenerateSelfSignedCertificate(env, Resolve(data, config.cert_file),
                                                   Resolve(data, config.key_file), dns, ips);
  if (!fingerprint.ok()) return Fail(fingerprint.status());
  status = config.Save(env, ConfigPath(data));
  if (!status.ok()) return Fail(status);
  auto tokens = TokenStore::Open(&env, data + "/auth.db");
  if (!tokens.ok()) return Fail(tokens.status());
  auto store = FileBlobStore::Open(&env, data, {});
  if (!store.ok()) return Fail(store.status());
  status = MakeDataDirPrivate(data);
  if (!status.ok()) return Fail(status);
  std::printf("initialized %s\ncertificate sha256 fingerprint: %s\n", data.c_str(),
              fingerprint->c_str());
  return 0;
}

int Serve(const std::string& data) {
  Env* env = Env::Default();
  // Files of older versions (or copied in) become the owner's only, like every new one.
  if (Status p = MakeDataDirPrivate(data); !p.ok()) return Fail(p);
  auto config = ServerConfig::Load(*env, ConfigPath(data));
  if (!config.ok()) return Fail(config.status());
  FileBlobStore::Options options;
  options.max_object_bytes = config->max_object_bytes;
  options.quota_bytes = config->quota_bytes;
  options.retained_quota_percent = config->retained_quota_percent;
  options.retention_seconds = config->retention_seconds;
  options.inline_max_bytes = config->inline_max_bytes;
  auto store = FileBlobStore::Open(env, data, options);
  if (!store.ok()) return Fail(store.status());
  auto tokens = TokenStore::Open(env, data + "/auth.db");
  if (!tokens.ok()) return Fail(tokens.status());
  auto server = BlobServer::New(*config, Resolve(data, config->cert_file),
                                Resolve(data, config->key_file), store->get(), tokens->get(), env);
  if (!server.ok()) return Fail(server.status());
  auto port = (*server)->Bind(config->listen_host, config->port);
  if (!port.ok()) return Fail(port.status());

  // Signals go to one thread that stops the server; every other thread blocks them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::thread signal_thread([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    std::fprintf(stderr, "cardvault-server: signal %d, stopping\n", sig);
    (*server)->Stop();
  });
  std::thread purge_thread([&] {
    auto orphans = (*store)->SweepOrphans(env->NowUnixNanos() / 1000000000);
    if (!orphans.ok()) {
      std::fprintf(stderr, "cardvault-server: sweep: %s\n", orphans.status().ToString().c_str());
    }
    std::unique_lock lock(mu);
    while (!done) {
      auto purged = (*store)->PurgeExpired(env->NowUnixNanos() / 1000000000);
      if (!purged.ok()) {
        std::fprintf(stderr, "cardvault-server: purge: %s\n", purged.status().ToString().c_str());
      }
      cv.wait_for(lock, std::chrono::hours(1), [&] { return done; });
    }
  });
  std::fprintf(stderr, "cardvault-server: listening on %s:%d\n", config->listen_host.c_str(),
               *port);
  std::fflush(stderr);
  Status served = (*server)->Serve();
  {
    std::lock_guard lock(mu);
    done = true;
  }
  cv.notify_all();
  purge_thread.join();
  // Wake the signal thread if Serve() ended for another reason.
  pthread_kill(signal_thread.native_handle(), SIGTERM);
  signal_thread.join();
  std::fprintf(stderr, "cardvault-server: stopped\n");
  return served.ok() ? 0 : Fail(served);
}

}  // namespace
}  // namespace cardvault

int main(int argc, char** argv) {
  using namespace cardvault;
  // Everything the server creates in its data directory is the owner's only: files 0600,
  // directories 0700 (tokens, index and blobs alike).
  ::umask(077);
  // Up to max_connections sockets plus files: use the hard limit of open files.
  if (rlimit files{}; ::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &files);
  }
  CLI::App app{"cardvault-server: encrypted blob storage over HTTPS"};
  app.require_subcommand(1);
  app.fallthrough();
  std::string data = "/var/lib/cardvault-server";
  app.add_option("--data", data, "data directory")->capture_default_str();

  auto* init =
      app.add_subcommand("init", "create the data directory, config and a dev certificate");
  std::vector<std::string> hosts;
  init->add_option("--host", hosts, "extra DNS name or IP address for the certificate");

  auto* user = app.add_subcommand("user", "manage users");
  user->require_subcommand(1);
  auto* user_add = user->add_subcommand("add", "add a user");
  std::string user_name;
  user_add->add_option("name", user_name)->required();
  user->add_subcommand("list", "list users");
  auto* user_quota = user->add_subcommand(
      "quota", "give a user a quota of their own, in bytes ('default': the config's quota_bytes)");
  std::string quota_text;
  user_quota->add_option("name", user_name)->required();
  user_quota->add_option("bytes", quota_text, "bytes, or 'default'")->required();

  auto* token = app.add_subcommand("token", "manage access tokens");
  token->require_subcommand(1);
  auto* token_issue = token->add_subcommand("issue", "issue a token (printed once)");
  std::string device;
  token_issue->add_option("user", user_name)->required();
  token_issue->add_option("--device", device, "device name");
  auto* token_revoke = token->add_subcommand("revoke", "revoke a token");
  int64_t token_id = 0;
  token_revoke->add_option("id", token_id)->required();
  auto* token_list = token->add_subcommand("list", "list tokens");

  auto* serve = app.add_subcommand("serve", "serve HTTPS until SIGTERM");

  CLI11_PARSE(app, argc, argv);

  if (init->parsed()) return Init(data, hosts);
  if (serve->parsed()) return Serve(data);

  Env* env = Env::Default();
  if (!env->Stat(data + "/config.json").ok()) {
    return Fail(FailedPreconditionError(data + " is not initialized (run init)"));
  }
  auto tokens = TokenStore::Open(env, data + "/auth.db");
  if (!tokens.ok()) return Fail(tokens.status());
  if (user_quota->parsed()) {
    auto users = (*tokens)->ListUsers();
    if (!users.ok()) return Fail(users.status());
    if (std::find(users->begin(), users->end(), user_name) == users->end()) {
      return Fail(NotFoundError("no user " + user_name + " (see 'user list')", "no_such_user"));
    }
    std::optional<uint64_t> bytes;
    if (quota_text != "default") {
      uint64_t value = 0;
      auto [end, ec] =
          std::from_chars(quota_text.data(), quota_text.data() + quota_text.size(), value);
      if (ec != std::errc() || end != quota_text.data() + quota_text.size()) {
        return Fail(InvalidArgumentError("quota must be a number of bytes or 'default', not " +
                                         quota_text));
      }
      bytes = value;
    }
    Status status = FileBlobStore::SetUserQuota(data, user_name, bytes);
    if (!status.ok()) return Fail(status);
    if (bytes) {
      std::printf("quota of %s: %llu bytes\n", user_name.c_str(),
                  static_cast<unsigned long long>(*bytes));
    } else {
      std::printf("quota of %s: the default (quota_bytes in config.json)\n", user_name.c_str());
    }
  } else if (user_add->parsed()) {
    Status status = (*tokens)->AddUser(user_name);
    if (!status.ok()) return Fail(status);
    std::printf("added user %s\n", user_name.c_str());
  } else if (user->parsed()) {
    auto users = (*tokens)->ListUsers();
    if (!users.ok()) return Fail(users.status());
    for (const auto& u : *users) std::printf("%s\n", u.c_str());
  } else if (token_issue->parsed()) {
    auto issued = (*tokens)->Issue(user_name, device);
    if (!issued.ok()) return Fail(issued.status());
    std::fprintf(stderr, "token %lld for %s (shown once, store it now):\n",
                 static_cast<long long>(issued->id), user_name.c_str());
    std::fwrite(issued->token.data(), 1, issued->token.size(), stdout);
    std::fputc('\n', stdout);
  } else if (token_revoke->parsed()) {
    Status status = (*tokens)->Revoke(token_id);
    if (!status.ok()) return Fail(status);
    std::printf("revoked token %lld\n", static_cast<long long>(token_id));
  } else if (token_list->parsed()) {
    auto list = (*tokens)->List();
    if (!list.ok()) return Fail(list.status());
    for (const auto& t : *list) {
      std::printf("%lld\t%s\t%s\t%lld\t%s\n", static_cast<long long>(t.id), t.user.c_str(),
                  t.device.c_str(), static_cast<long long>(t.created_unix),
                  t.revoked ? "revoked" : "active");
    }
  }
  return 0;
}
