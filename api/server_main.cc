// cardvault-server: the command line (init, user, token, serve, check) around BlobServer.
#include <pwd.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "api/blob_server.h"
#include "api/server_config.h"
#include "api/tls_identity.h"
#include "storage/file_blob_store.h"
#include "storage/private_files.h"
#include "storage/sqlite_token_store.h"

namespace cardvault {
namespace {

// The config file: --config, else config.json in the data directory.
std::string ConfigPath(const std::string& data, const std::string& config) {
  return config.empty() ? data + "/config.json" : config;
}
std::string Resolve(const std::string& data, const std::string& path) {
  return !path.empty() && path[0] == '/' ? path : data + "/" + path;
}

int Fail(const Status& status) {
  std::fprintf(stderr, "cardvault-server: %s\n", status.ToString().c_str());
  return 1;
}

int Init(const std::string& data, const std::string& config_path,
         const std::vector<std::string>& hosts) {
  Env& env = *Env::Default();
  if (env.Stat(config_path).ok()) {
    return Fail(AlreadyExistsError(config_path + " exists; refusing to overwrite"));
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
  status = config.Save(env, config_path);
  if (!status.ok()) return Fail(status);
  auto tokens = SqliteTokenStore::Open(&env, data + "/auth.db");
  if (!tokens.ok()) return Fail(tokens.status());
  auto store = FileBlobStore::Open(&env, data, {});
  if (!store.ok()) return Fail(store.status());
  status = MakeDataDirPrivate(data);
  if (!status.ok()) return Fail(status);
  std::printf("initialized %s\ncertificate sha256 fingerprint: %s\n", data.c_str(),
              fingerprint->c_str());
  return 0;
}

// SIGHUP: the certificate and key files again, for new connections (open ones keep theirs).
// A certificate that cannot be used is logged and the current one kept.
void ReloadCertificate(BlobServer& server) {
  sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
             static_cast<unsigned long long>(Env::Default()->MonotonicNanos() / 1000));
  auto fingerprint = server.ReloadCertificate();
  if (fingerprint.ok()) {
    std::fprintf(stderr, "cardvault-server: SIGHUP: certificate reloaded, sha256 fingerprint %s\n",
                 fingerprint->c_str());
  } else {
    std::fprintf(stderr,
                 "cardvault-server: SIGHUP: keeping the current certificate: %s; fix the files "
                 "and send SIGHUP again\n",
                 fingerprint.status().ToString().c_str());
  }
  std::fflush(stderr);
  sd_notify(0, "READY=1");
}

// Signals go to one thread: SIGHUP reloads the certificate, SIGTERM and SIGINT stop the
// server. Every other thread blocks them (`signals` is blocked before any thread starts).
void HandleSignals(const sigset_t& signals, BlobServer& server) {
  while (true) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      ReloadCertificate(server);
      continue;
    }
    std::fprintf(stderr, "cardvault-server: signal %d, stopping\n", sig);
    sd_notify(0, "STOPPING=1");
    server.Stop();
    return;
  }
}

int Serve(const std::string& data, const std::string& config_path) {
  Env* env = Env::Default();
  // Files of older versions (or copied in) become the owner's only, like every new one.
  if (Status p = MakeDataDirPrivate(data); !p.ok()) return Fail(p);
  auto config = ServerConfig::Load(*env, config_path);
  if (!config.ok()) return Fail(config.status());
  FileBlobStore::Options options;
  options.max_object_bytes = config->max_object_bytes;
  options.quota_bytes = config->quota_bytes;
  options.retained_quota_percent = config->retained_quota_percent;
  options.retention_seconds = config->retention_seconds;
  options.inline_max_bytes = config->inline_max_bytes;
  auto store = FileBlobStore::Open(env, data, options);
  if (!store.ok()) return Fail(store.status());
  auto tokens = SqliteTokenStore::Open(env, data + "/auth.db");
  if (!tokens.ok()) return Fail(tokens.status());
  auto server = BlobServer::New(*config, Resolve(data, config->cert_file),
                                Resolve(data, config->key_file), store->get(), tokens->get(), env);
  if (!server.ok()) return Fail(server.status());
  auto port = (*server)->Bind(config->listen_host, config->port);
  if (!port.ok()) return Fail(port.status());

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::thread signal_thread([&] { HandleSignals(signals, **server); });
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
  // systemd (Type=notify): the socket listens, so connections from now on are served.
  sd_notifyf(0, "READY=1\nSTATUS=listening on %s:%d", config->listen_host.c_str(), *port);
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

// `cardvault-server check`: prints each damaged object as it is found, then a summary.
// Exit code 0: every object is whole; 1: damaged objects; 2: the check could not run.
int Check(const std::string& data, bool quarantine, bool json) {
  FileBlobStore::CheckOptions options;
  options.quarantine = quarantine;
  auto print = [json](const FileBlobStore::DamagedObject& d) {
    if (json) return;
    std::printf("DAMAGED %s user=%s %s: %s%s\n", d.id.c_str(), d.user.c_str(), d.problem.c_str(),
                d.detail.c_str(), d.quarantined_now ? " (quarantined now)" : "");
    std::fflush(stdout);
  };
  auto summary = FileBlobStore::Check(Env::Default(), data, options, print);
  if (!summary.ok()) {
    Fail(summary.status());
    return 2;
  }
  size_t quarantined = 0;
  nlohmann::json damaged = nlohmann::json::array();
  for (const auto& d : summary->damaged) {
    quarantined += d.quarantined_now ? 1 : 0;
    damaged.push_back({{"id", d.id},
                       {"user", d.user},
                       {"problem", d.problem},
                       {"detail", d.detail},
                       {"quarantined_now", d.quarantined_now}});
  }
  if (json) {
    nlohmann::json out = {{"objects", summary->objects},
                          {"bytes_hashed", summary->bytes},
                          {"damaged", std::move(damaged)},
                          {"quarantined_now", quarantined}};
    std::printf("%s\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    std::printf("checked %llu objects (%llu bytes hashed): %zu damaged, %zu quarantined now\n",
                static_cast<unsigned long long>(summary->objects),
                static_cast<unsigned long long>(summary->bytes), summary->damaged.size(),
                quarantined);
  }
  return summary->damaged.empty() ? 0 : 1;
}

// root working on a data directory that belongs to the server's own user (the packaged
// server: `cardvault`) would leave files the server cannot open.
Status CheckDataOwner(const std::string& data) {
  struct stat st {};
  if (::geteuid() != 0 || ::stat(data.c_str(), &st) != 0 || st.st_uid == 0) return Status::Ok();
  const passwd* owner = ::getpwuid(st.st_uid);
  const std::string name = owner ? owner->pw_name : std::to_string(st.st_uid);
  return FailedPreconditionError(data + " belongs to " + name +
                                     "; run this as that user (runuser -u " + name +
                                     " -- cardvault-server ...), so the server can open what it "
                                     "writes",
                                 "wrong_user");
}

// Runs `fn` with the token store of an initialized data directory.
int WithTokens(const std::string& data, const std::string& config_path,
               const std::function<int(TokenStore&)>& fn) {
  Env* env = Env::Default();
  if (!env->Stat(config_path).ok()) {
    return Fail(FailedPreconditionError(data + " is not initialized (run init)"));
  }
  if (Status owner = CheckDataOwner(data); !owner.ok()) return Fail(owner);
  auto tokens = SqliteTokenStore::Open(env, data + "/auth.db");
  if (!tokens.ok()) return Fail(tokens.status());
  return fn(**tokens);
}

int SetQuota(TokenStore& tokens, const std::string& data, const std::string& user_name,
             const std::string& quota_text) {
  auto users = tokens.ListUsers();
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
      return Fail(
          InvalidArgumentError("quota must be a number of bytes or 'default', not " + quota_text));
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
  return 0;
}

// What the parsed subcommand does; set by its CLI11 callback, run after parsing.
using Action = std::function<int()>;

// Options of a subcommand live as long as the App: the setup functions keep them here.
struct Args {
  std::string data = "/var/lib/cardvault-server";
  std::string config;  // empty: DATA/config.json
  std::string config_path() const { return ConfigPath(data, config); }
  std::vector<std::string> hosts;
  std::string user_name;
  std::string quota_text;
  std::string device;
  int64_t token_id = 0;
  bool quarantine = false;
  bool json = false;
};

void AddInitAndServe(CLI::App& app, Args& a, Action& action) {
  auto* init =
      app.add_subcommand("init", "create the data directory, config and a dev certificate");
  init->add_option("--host", a.hosts, "extra DNS name or IP address for the certificate");
  init->callback([&] { action = [&] { return Init(a.data, a.config_path(), a.hosts); }; });
  auto* serve = app.add_subcommand(
      "serve",
      "serve HTTPS until SIGTERM; SIGHUP reloads the certificate and key for new connections");
  serve->callback([&] { action = [&] { return Serve(a.data, a.config_path()); }; });
}

void AddUserCommands(CLI::App& app, Args& a, Action& action) {
  auto* user = app.add_subcommand("user", "manage users");
  user->require_subcommand(1);
  auto* add = user->add_subcommand("add", "add a user");
  add->add_option("name", a.user_name)->required();
  add->callback([&] {
    action = [&] {
      return WithTokens(a.data, a.config_path(), [&](TokenStore& tokens) {
        Status status = tokens.AddUser(a.user_name);
        if (!status.ok()) return Fail(status);
        std::printf("added user %s\n", a.user_name.c_str());
        return 0;
      });
    };
  });
  auto* list = user->add_subcommand("list", "list users");
  list->callback([&] {
    action = [&] {
      return WithTokens(a.data, a.config_path(), [](TokenStore& tokens) {
        auto users = tokens.ListUsers();
        if (!users.ok()) return Fail(users.status());
        for (const auto& u : *users) std::printf("%s\n", u.c_str());
        return 0;
      });
    };
  });
  auto* quota = user->add_subcommand(
      "quota", "give a user a quota of their own, in bytes ('default': the config's quota_bytes)");
  quota->add_option("name", a.user_name)->required();
  quota->add_option("bytes", a.quota_text, "bytes, or 'default'")->required();
  quota->callback([&] {
    action = [&] {
      return WithTokens(a.data, a.config_path(), [&](TokenStore& tokens) {
        return SetQuota(tokens, a.data, a.user_name, a.quota_text);
      });
    };
  });
}

int IssueToken(TokenStore& tokens, const std::string& user_name, const std::string& device) {
  auto issued = tokens.Issue(user_name, device);
  if (!issued.ok()) return Fail(issued.status());
  std::fprintf(stderr, "token %lld for %s (shown once, store it now):\n",
               static_cast<long long>(issued->id), user_name.c_str());
  std::fwrite(issued->token.data(), 1, issued->token.size(), stdout);
  std::fputc('\n', stdout);
  return 0;
}

int ListTokens(TokenStore& tokens) {
  auto list = tokens.List();
  if (!list.ok()) return Fail(list.status());
  for (const auto& t : *list) {
    std::printf("%lld\t%s\t%s\t%lld\t%s\n", static_cast<long long>(t.id), t.user.c_str(),
                t.device.c_str(), static_cast<long long>(t.created_unix),
                t.revoked ? "revoked" : "active");
  }
  return 0;
}

void AddTokenCommands(CLI::App& app, Args& a, Action& action) {
  auto* token = app.add_subcommand("token", "manage access tokens");
  token->require_subcommand(1);
  auto* issue = token->add_subcommand("issue", "issue a token (printed once)");
  issue->add_option("user", a.user_name)->required();
  issue->add_option("--device", a.device, "device name");
  issue->callback([&] {
    action = [&] {
      return WithTokens(a.data, a.config_path(),
                        [&](TokenStore& t) { return IssueToken(t, a.user_name, a.device); });
    };
  });
  auto* revoke = token->add_subcommand("revoke", "revoke a token");
  revoke->add_option("id", a.token_id)->required();
  revoke->callback([&] {
    action = [&] {
      return WithTokens(a.data, a.config_path(), [&](TokenStore& tokens) {
        Status status = tokens.Revoke(a.token_id);
        if (!status.ok()) return Fail(status);
        std::printf("revoked token %lld\n", static_cast<long long>(a.token_id));
        return 0;
      });
    };
  });
  auto* list = token->add_subcommand("list", "list tokens");
  list->callback([&] { action = [&] { return WithTokens(a.data, a.config_path(), ListTokens); }; });
}

void AddCheckCommand(CLI::App& app, Args& a, Action& action) {
  auto* check = app.add_subcommand(
      "check",
      "verify every object's size and SHA-256 against the index; exit 1 if any is damaged "
      "(safe while the server runs)");
  check->add_flag("--quarantine", a.quarantine,
                  "move damaged objects' bytes to quarantine/ in the data directory (their index "
                  "rows stay: clients get object_damaged)");
  check->add_flag("--json", a.json, "print one JSON object instead of text");
  check->callback([&] { action = [&] { return Check(a.data, a.quarantine, a.json); }; });
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
  Args args;
  Action action;
  app.add_option("--data", args.data, "data directory")->capture_default_str();
  app.add_option("--config", args.config,
                 "config file (default: DATA/config.json); relative paths in it are relative to "
                 "the data directory");
  AddInitAndServe(app, args, action);
  AddUserCommands(app, args, action);
  AddTokenCommands(app, args, action);
  AddCheckCommand(app, args, action);
  CLI11_PARSE(app, argc, argv);
  return action ? action() : 0;
}
