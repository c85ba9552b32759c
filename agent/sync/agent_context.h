// AgentContext: everything a sync command needs, built from the AgentConfig: the state
// database, the spool, the server client and the recipients.
#ifndef CARDVAULT_AGENT_SYNC_AGENT_CONTEXT_H_
#define CARDVAULT_AGENT_SYNC_AGENT_CONTEXT_H_

#include <memory>
#include <string>
#include <vector>

#include "agent/sync/config.h"
#include "agent/sync/state_db.h"
#include "agent/sync/sync_engine.h"
#include "api/remote_store.h"

namespace cardvault {

// ParseRecipient (core/card/recipient_parser.h) as a shared_ptr: cv-x25519-... or cv-p11-....
StatusOr<std::shared_ptr<Recipient>> ParseRecipientString(const std::string& text);

// Reads a device token file: its first line, which MUST be non-empty, from a file that
// group and others cannot read (kPermissionDenied "token_file_insecure").
StatusOr<SecretData> ReadTokenFile(Env& env, const std::string& path);

// Splits https://host[:port][/] into host and port (default 443).
StatusOr<std::pair<std::string, int>> ParseServerUrl(const std::string& url);

StatusOr<std::unique_ptr<RemoteStore>> ConnectServer(Env& env, const AgentConfig& config);

// Connections the engine uploads over at once (the server commits small objects in groups,
// so parallel uploads are what make many small files fast).
inline constexpr int kUploadConnections = 4;

// A state database keeps the records of one folder on one server, written (meta "server_url",
// "vault_dir") when AgentContext::Open first opens it. Another config MUST NOT use it: its
// records would make the agent skip files the new server never got and send deletions of
// files it never had. Errors: kFailedPrecondition "state_of_another_vault", naming both and
// what to do. A database written before these keys existed belongs to whoever opens it first.
Status CheckStateBelongsTo(StateDb& db, const AgentConfig& config);

struct AgentContext {
  AgentConfig config;
  std::unique_ptr<StateDb> db;
  std::unique_ptr<RemoteStore> server;
  std::vector<std::unique_ptr<RemoteStore>> upload_servers;  // more connections for uploads
  std::unique_ptr<SyncEngine> engine;

  // Opens the state (creating state_dir with mode 0700) after CheckStateBelongsTo, recording
  // the config's server and folder in it, connects the client (no request is made yet) and
  // builds the engine.
  static StatusOr<std::unique_ptr<AgentContext>> Open(Env& env, AgentConfig config);
};

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_SYNC_AGENT_CONTEXT_H_
