// The admin commands of cardvault-server (user, token, check) over the configured stores.
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "api/server_commands.h"

namespace cardvault {
namespace {

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

// The config of an initialized server, or why there is none.
StatusOr<ServerConfig> LoadInitialized(const ServerPaths& paths) {
  Env* env = Env::Default();
  if (!env->Stat(paths.config_path()).ok()) {
    return FailedPreconditionError(paths.data + " is not initialized (run init)");
  }
  CV_RETURN_IF_ERROR(CheckDataOwner(paths.data));
  return ServerConfig::Load(*env, paths.config_path());
}

void PrintDamaged(const IndexedBlobStore::DamagedObject& d) {
  std::printf("DAMAGED %s user=%s %s: %s%s\n", d.id.c_str(), d.user.c_str(), d.problem.c_str(),
              d.detail.c_str(), d.quarantined_now ? " (quarantined now)" : "");
  std::fflush(stdout);
}

void PrintCheckSummary(const IndexedBlobStore::CheckSummary& summary, bool json) {
  size_t quarantined = 0;
  nlohmann::json damaged = nlohmann::json::array();
  for (const auto& d : summary.damaged) {
    quarantined += d.quarantined_now ? 1 : 0;
    damaged.push_back({{"id", d.id},
                       {"user", d.user},
                       {"problem", d.problem},
                       {"detail", d.detail},
                       {"quarantined_now", d.quarantined_now}});
  }
  if (json) {
    nlohmann::json out = {{"objects", summary.objects},
                          {"bytes_hashed", summary.bytes},
                          {"damaged", std::move(damaged)},
                          {"quarantined_now", quarantined}};
    std::printf("%s\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    std::printf("checked %llu objects (%llu bytes hashed): %zu damaged, %zu quarantined now\n",
                static_cast<unsigned long long>(summary.objects),
                static_cast<unsigned long long>(summary.bytes), summary.damaged.size(),
                quarantined);
  }
}

// The stores `check` verifies. A data directory without config.json is checked as the
// single-node default (SQLite and files), as before servers could use PostgreSQL.
StatusOr<ServerStores> CheckedStores(const ServerPaths& paths) {
  Env* env = Env::Default();
  ServerConfig config;
  if (env->Stat(paths.config_path()).ok()) {
    CV_ASSIGN_OR_RETURN(config, ServerConfig::Load(*env, paths.config_path()));
  }
  if (!config.uses_postgresql() && !env->Stat(paths.data + "/index.db").ok()) {
    return FailedPreconditionError(paths.data + " has no index.db (not a data directory?)",
                                   "no_index");
  }
  return OpenServerStores(env, paths.data, config, StoresFor::kCheck);
}

}  // namespace

int FailCommand(const Status& status) {
  std::fprintf(stderr, "cardvault-server: %s\n", status.ToString().c_str());
  return 1;
}

int WithStores(const ServerPaths& paths, const std::function<int(ServerStores&)>& fn) {
  auto config = LoadInitialized(paths);
  if (!config.ok()) return FailCommand(config.status());
  auto stores = OpenServerStores(Env::Default(), paths.data, *config, StoresFor::kUsers);
  if (!stores.ok()) return FailCommand(stores.status());
  return fn(*stores);
}

int SetQuotaCommand(ServerStores& stores, const std::string& user_name,
                    const std::string& quota_text) {
  auto users = stores.tokens->ListUsers();
  if (!users.ok()) return FailCommand(users.status());
  if (std::find(users->begin(), users->end(), user_name) == users->end()) {
    return FailCommand(
        NotFoundError("no user " + user_name + " (see 'user list')", "no_such_user"));
  }
  std::optional<uint64_t> bytes;
  if (quota_text != "default") {
    uint64_t value = 0;
    auto [end, ec] =
        std::from_chars(quota_text.data(), quota_text.data() + quota_text.size(), value);
    if (ec != std::errc() || end != quota_text.data() + quota_text.size()) {
      return FailCommand(
          InvalidArgumentError("quota must be a number of bytes or 'default', not " + quota_text));
    }
    bytes = value;
  }
  if (Status status = stores.index->SetQuota(user_name, bytes); !status.ok()) {
    return FailCommand(status);
  }
  if (bytes) {
    std::printf("quota of %s: %llu bytes\n", user_name.c_str(),
                static_cast<unsigned long long>(*bytes));
  } else {
    std::printf("quota of %s: the default (quota_bytes in config.json)\n", user_name.c_str());
  }
  return 0;
}

int IssueTokenCommand(TokenStore& tokens, const std::string& user_name, const std::string& device) {
  auto issued = tokens.Issue(user_name, device);
  if (!issued.ok()) return FailCommand(issued.status());
  std::fprintf(stderr, "token %lld for %s (shown once, store it now):\n",
               static_cast<long long>(issued->id), user_name.c_str());
  std::fwrite(issued->token.data(), 1, issued->token.size(), stdout);
  std::fputc('\n', stdout);
  return 0;
}

int ListTokensCommand(TokenStore& tokens) {
  auto list = tokens.List();
  if (!list.ok()) return FailCommand(list.status());
  for (const auto& t : *list) {
    std::printf("%lld\t%s\t%s\t%lld\t%s\n", static_cast<long long>(t.id), t.user.c_str(),
                t.device.c_str(), static_cast<long long>(t.created_unix),
                t.revoked ? "revoked" : "active");
  }
  return 0;
}

int CheckCommand(const ServerPaths& paths, bool quarantine, bool json) {
  auto stores = CheckedStores(paths);
  if (!stores.ok()) {
    FailCommand(stores.status());
    return 2;
  }
  IndexedBlobStore::CheckOptions options;
  options.quarantine = quarantine;
  auto summary = IndexedBlobStore::Check(
      *stores->index, *stores->bytes, options,
      json ? std::function<void(const IndexedBlobStore::DamagedObject&)>() : PrintDamaged);
  if (!summary.ok()) {
    FailCommand(summary.status());
    return 2;
  }
  PrintCheckSummary(*summary, json);
  return summary->damaged.empty() ? 0 : 1;
}

}  // namespace cardvault
