// The commands of cardvault-server (server_cli.cc parses the command line and calls them).
#ifndef CARDVAULT_API_SERVER_COMMANDS_H_
#define CARDVAULT_API_SERVER_COMMANDS_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "api/server_cli.h"
#include "api/server_config.h"
#include "api/server_stores.h"
#include "core/status.h"

namespace cardvault {

// Where a command finds its data directory and config file.
struct ServerPaths {
  std::string data = "/var/lib/cardvault-server";
  std::string config;  // empty: DATA/config.json
  std::string config_path() const { return config.empty() ? data + "/config.json" : config; }
};

// Prints `status` as the command's error and returns exit code 1.
int FailCommand(const Status& status);

// `init`: what the command line chose for the stores, written into a new config.
struct InitOptions {
  std::vector<std::string> hosts;  // extra names and addresses for the certificate
  std::string index;               // empty: "sqlite"
  int index_pool_size = 0;         // 0: the default
  std::string bytes;               // empty: "files"
  ServerS3Config s3;
};
int InitCommand(const ServerPaths& paths, const InitOptions& options);

// `serve`: until SIGTERM/SIGINT; SIGHUP reloads the certificate.
int ServeCommand(const ServerPaths& paths, const ServerCliHooks& hooks);

// Runs `fn` with the index and token store of an initialized server (StoresFor::kUsers).
int WithStores(const ServerPaths& paths, const std::function<int(ServerStores&)>& fn);
// `user quota NAME BYTES|default`.
int SetQuotaCommand(ServerStores& stores, const std::string& user_name,
                    const std::string& quota_text);
int IssueTokenCommand(TokenStore& tokens, const std::string& user_name, const std::string& device);
int ListTokensCommand(TokenStore& tokens);
// `check`: exit 0 whole, 1 damaged objects, 2 the check could not run.
int CheckCommand(const ServerPaths& paths, bool quarantine, bool json);

// `migrate --from DATA_DIR --to CONFIG`: exit 0 everything copied and whole, 1 copied with
// damaged objects (listed), 2 refused or stopped (run it again to resume).
struct MigrateOptions {
  std::string from;                   // the single-node data directory (never changed)
  std::string to_config;              // the destination's config.json
  std::string to_data;                // its data directory; empty: the directory of to_config
  std::string work_dir = "/var/tmp";  // where the source's databases are copied meanwhile
  bool json = false;
  bool progress = false;      // a progress line per page (default: every 5 s)
  size_t page_versions = 64;  // versions per import transaction
};
int MigrateCommand(const MigrateOptions& options, const ServerCliHooks& hooks);

}  // namespace cardvault

#endif  // CARDVAULT_API_SERVER_COMMANDS_H_
