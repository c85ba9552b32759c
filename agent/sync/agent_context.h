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

struct AgentContext {
  AgentConfig config;
  std::unique_ptr<StateDb> db;
  std::unique_ptr<RemoteStore> server;
  std::vector<std::unique_ptr<RemoteStore>> upload_servers;  // more connections for uploads
  std::unique_ptr<SyncEngine> engine;

  // Opens the state (creating state_dir with mode 0700), connects the client (no request
  // is made yet) and builds the engine.
  static StatusOr<std::unique_ptr<AgentContext>> Open(Env& env, AgentConfig config);
};

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_SYNC_AGENT_CONTEXT_H_
