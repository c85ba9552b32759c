// AgentConfig: the agent's settings, read from a JSON file in the XDG config directory,
// validated so that every error names the key and the value it expects.
#ifndef CARDVAULT_AGENT_SYNC_CONFIG_H_
#define CARDVAULT_AGENT_SYNC_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "core/env.h"

namespace cardvault {

struct CardConfig {
  std::string module;        // PKCS#11 module path; empty: p11-kit's proxy
  std::string token_label;   // select the card by label...
  std::string token_serial;  // ...or by serial; both empty: any card holding the key
  std::string key_label;     // select the key by label...
  std::string key_id;        // ...or by CKA_ID (hex)
  std::string pin_file;      // non-interactive PIN (tests, scripts); empty: pinentry
  int idle_timeout_s = 300;  // log out after this long unused; 0: always ask
};

struct AgentConfig {
  std::string vault_dir;           // the watched folder (absolute)
  std::string server_url;          // https://host:port
  std::string token_file;          // device token (mode 0600)
  std::string server_ca_file;      // verify the server against this CA...
  std::string server_fingerprint;  // ...or pin its certificate (SHA-256, hex)
  CardConfig card;
  std::vector<std::string> recipients;  // extra recipients (backup cards, recovery key)
  std::vector<std::string> ignore;      // globs added to the defaults
  int settle_delay_ms = 2000;
  int rescan_interval_s = 3600;
  bool low_priority = true;  // `run` and `sync --once` at nice 9, best-effort I/O level 7
  std::string state_dir;     // SQLite state and spool; default: $XDG_DATA_HOME/cardvault

  // Parses and validates `json_text`. `origin` (usually the file name) prefixes errors.
  static StatusOr<AgentConfig> Parse(std::string_view json_text, const std::string& origin);
  static StatusOr<AgentConfig> Load(Env& env, const std::string& path);
  std::string ToJson() const;
};

// Where the config lives: `flag` if given, else $CARDVAULT_CONFIG, else DefaultConfigPath().
std::string ConfigPath(const std::string& flag);

// The platform's places (one file per platform: config_paths_posix.cc, _windows.cc):
// POSIX: $XDG_CONFIG_HOME/cardvault/config.json (default ~/.config/cardvault/config.json);
// Windows: %APPDATA%\cardvault\config.json (the roaming profile).
std::string DefaultConfigPath();
// DefaultConfigPath() as `--help` names it: "$XDG_CONFIG_HOME/cardvault/config.json",
// "%APPDATA%\\cardvault\\config.json".
std::string DefaultConfigPathHelp();
// POSIX: $XDG_DATA_HOME/cardvault (default ~/.local/share/cardvault);
// Windows: %LOCALAPPDATA%\cardvault (this PC only: the state and spool do not roam).
std::string DefaultStateDir();

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_SYNC_CONFIG_H_
