// AgentContext implementation.
#include "agent/sync/agent_context.h"

#include <filesystem>

#include "core/card/recipient_parser.h"

namespace cardvault {

StatusOr<std::shared_ptr<Recipient>> ParseRecipientString(const std::string& text) {
  CV_ASSIGN_OR_RETURN(std::unique_ptr<Recipient> r, ParseRecipient(text));
  return std::shared_ptr<Recipient>(std::move(r));
}

StatusOr<SecretData> ReadTokenFile(Env& env, const std::string& path) {
  CV_ASSIGN_OR_RETURN(FileInfo info, env.Stat(path));
  if ((info.mode & 077) != 0) {
    return PermissionDeniedError(
        "the token file " + path + " is readable by others; run: chmod 600 " + path,
        "token_file_insecure");
  }
  CV_ASSIGN_OR_RETURN(Bytes raw, ReadFileToBytes(env, path));
  SecretData data = SecretData::CopyFrom(raw);
  std::fill(raw.begin(), raw.end(), 0);
  size_t end = 0;
  while (end < data.size() && data.data()[end] != '\n' && data.data()[end] != '\r') ++end;
  data.Truncate(end);
  if (data.empty()) return InvalidArgumentError("the token file " + path + " is empty");
  return data;
}

StatusOr<std::pair<std::string, int>> ParseServerUrl(const std::string& url) {
  const std::string scheme = "https://";
  if (url.rfind(scheme, 0) != 0) return InvalidArgumentError("server URL must start https://");
  std::string rest = url.substr(scheme.size());
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.empty() || rest.find('/') != std::string::npos) {
    return InvalidArgumentError("server URL must be https://host[:port]: " + url);
  }
  int port = 443;
  std::string host = rest;
  size_t colon = rest.rfind(':');
  if (colon != std::string::npos && rest.find(']') == std::string::npos) {
    host = rest.substr(0, colon);
    try {
      port = std::stoi(rest.substr(colon + 1));
    } catch (...) {
      port = -1;
    }
    if (port <= 0 || port > 65535) return InvalidArgumentError("bad port in " + url);
  }
  if (host.empty()) return InvalidArgumentError("no host in " + url);
  return std::make_pair(host, port);
}

StatusOr<std::unique_ptr<RemoteStore>> ConnectServer(Env& env, const AgentConfig& config) {
  CV_ASSIGN_OR_RETURN(auto host_port, ParseServerUrl(config.server_url));
  RemoteStoreOptions o;
  o.host = host_port.first;
  o.port = host_port.second;
  o.ca_file = config.server_ca_file;
  o.pinned_sha256 = config.server_fingerprint;
  CV_ASSIGN_OR_RETURN(o.token, ReadTokenFile(env, config.token_file));
  return RemoteStore::New(std::move(o));
}

Status CheckStateBelongsTo(StateDb& db, const AgentConfig& config) {
  StatusOr<std::string> server = db.GetMeta("server_url");
  StatusOr<std::string> vault = db.GetMeta("vault_dir");
  for (const auto* meta : {&server, &vault}) {
    if (meta->status().code() == StatusCode::kNotFound) return Status::Ok();  // not claimed yet
    CV_RETURN_IF_ERROR(meta->status());
  }
  // "C:\Users\a\secrets" and "C:/Users/a/secrets" are the same folder.
  const auto same_dir = [](const std::string& a, const std::string& b) {
    return std::filesystem::path(a).lexically_normal() ==
           std::filesystem::path(b).lexically_normal();
  };
  if (*server == config.server_url && same_dir(*vault, config.vault_dir)) return Status::Ok();
  return FailedPreconditionError(
      "the state database " + db.path() + " keeps the records of " + *vault + " on " + *server +
          ", not of " + config.vault_dir + " on " + config.server_url +
          ": with them the agent would skip files that server never got. Give this folder its "
          "own state directory (cardvault init ... --state-dir DIR), or, to start afresh, stop "
          "the agent and remove " +
          config.state_dir,
      "state_of_another_vault");
}

StatusOr<std::unique_ptr<AgentContext>> AgentContext::Open(Env& env, AgentConfig config) {
  auto ctx = std::make_unique<AgentContext>();
  CV_RETURN_IF_ERROR(env.CreateDirs(config.state_dir));
  // Owner only (POSIX 0700; Windows keeps access in the profile's ACLs).
  std::error_code ignored;
  std::filesystem::permissions(
      std::filesystem::path(std::u8string(config.state_dir.begin(), config.state_dir.end())),
      std::filesystem::perms::owner_all, ignored);
  CV_ASSIGN_OR_RETURN(ctx->db, StateDb::Open(config.state_dir + "/state.db"));
  CV_RETURN_IF_ERROR(CheckStateBelongsTo(*ctx->db, config));
  CV_RETURN_IF_ERROR(ctx->db->SetMeta("server_url", config.server_url));
  CV_RETURN_IF_ERROR(ctx->db->SetMeta("vault_dir", config.vault_dir));
  CV_ASSIGN_OR_RETURN(ctx->server, ConnectServer(env, config));
  SyncEngineOptions o;
  o.vault_dir = config.vault_dir;
  o.spool_dir = config.state_dir + "/spool";
  for (const std::string& r : config.recipients) {
    CV_ASSIGN_OR_RETURN(auto recipient, ParseRecipientString(r));
    o.card_recipients.push_back(recipient);
    o.recipient_strings.push_back(r);
  }
  o.ignore = IgnoreRules(config.ignore);
  o.env = &env;
  CV_ASSIGN_OR_RETURN(ctx->engine, SyncEngine::New(ctx->db.get(), ctx->server.get(), std::move(o)));
  // Small files upload at the rate of the server's commits: several connections at once.
  for (int i = 1; i < kUploadConnections; ++i) {
    CV_ASSIGN_OR_RETURN(auto store, ConnectServer(env, config));
    ctx->engine->AddUploadClient(store.get());
    ctx->upload_servers.push_back(std::move(store));
  }
  ctx->config = std::move(config);
  return ctx;
}

}  // namespace cardvault
