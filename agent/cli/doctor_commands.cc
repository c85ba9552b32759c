// `cardvault doctor`: one short function per check, each returning a DoctorCheck.
#include "agent/cli/doctor_commands.h"

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "agent/card/card_backends.h"
#include "agent/control/control_client.h"
#include "agent/control/control_server.h"
#include "agent/sync/agent_context.h"
#include "agent/sync/config.h"
#include "core/bytes.h"
#include "core/card/card_recipient.h"
#include "storage/sqlite_db.h"

namespace cardvault {
namespace {

constexpr char kOk[] = "ok";
constexpr char kProblem[] = "PROBLEM";
constexpr char kSkipped[] = "skipped";

DoctorCheck Ok(std::string check, std::string detail) {
  return {std::move(check), kOk, std::move(detail), ""};
}
DoctorCheck Problem(std::string check, std::string detail, std::string fix) {
  return {std::move(check), kProblem, std::move(detail), std::move(fix)};
}
DoctorCheck Skipped(std::string check, std::string why) {
  return {std::move(check), kSkipped, std::move(why), ""};
}

std::string Octal(uint32_t mode) {
  std::ostringstream s;
  s << std::oct << std::setw(4) << std::setfill('0') << (mode & 07777);
  return s.str();
}

std::string Describe(const Status& s) {
  return s.message() + (s.reason().empty() ? "" : " [" + s.reason() + "]");
}

// What the checks after the config share: the config and, once reached, the server.
struct DoctorState {
  std::optional<AgentConfig> config;
  std::unique_ptr<RemoteStore> server;
  Status server_status = UnavailableError("not tried");
  std::string server_date;  // the Date header of the health answer
};

DoctorCheck CheckConfig(Env& env, const std::string& path, DoctorState& state) {
  const char* kName = "config";
  StatusOr<FileInfo> info = env.Stat(path);
  if (!info.ok()) {
    return Problem(kName, "cannot read " + path + ": " + info.status().message(),
                   "create it with `cardvault init` or point --config at it");
  }
  if ((info->mode & 0400) == 0) {  // root reads it anyway; the agent's user cannot
    return Problem(kName, path + " is not readable by its owner (mode " + Octal(info->mode) + ")",
                   "chmod 600 " + path);
  }
  StatusOr<AgentConfig> config = AgentConfig::Load(env, path);
  if (!config.ok()) {
    return Problem(kName, Describe(config.status()),
                   "make " + path + " readable (chmod 600 " + path +
                       ") and valid JSON (docs/configuration.md), or write a new one with "
                       "`cardvault init --force`");
  }
  state.config = std::move(*config);
  if ((info->mode & 077) != 0) {
    return Problem(kName,
                   path + " is readable or writable by others (mode " + Octal(info->mode) + ")",
                   "chmod 600 " + path);
  }
  return Ok(kName, path + " (mode " + Octal(info->mode) + ")");
}

DoctorCheck CheckTokenFile(Env& env, const DoctorState& state) {
  const char* kName = "token file";
  if (!state.config) return Skipped(kName, "no valid config");
  const std::string& path = state.config->token_file;
  StatusOr<SecretData> token = ReadTokenFile(env, path);
  if (!token.ok()) {
    return Problem(kName, Describe(token.status()),
                   "chmod 600 " + path +
                       "; if it is missing, issue a token on the server (`cardvault-server "
                       "token issue USER`) and write it there");
  }
  return Ok(kName, path + " (private)");
}

DoctorCheck CheckStateDb(Env& env, const DoctorState& state) {
  const char* kName = "state database";
  if (!state.config) return Skipped(kName, "no valid config");
  const std::string path = state.config->state_dir + "/state.db";
  if (!env.Stat(path).ok()) {
    return Skipped(kName, path + " does not exist yet (the agent creates it when it first runs)");
  }
  SqliteDb::Options options;
  options.read_only = true;
  StatusOr<std::unique_ptr<SqliteDb>> db = SqliteDb::Open(path, options);
  Status checked = db.ok() ? (*db)->QuickCheck(std::chrono::seconds(5)) : db.status();
  if (!checked.ok()) {
    return Problem(kName, path + ": " + Describe(checked),
                   "stop the agent, move " + state.config->state_dir +
                       " aside and run `cardvault adopt` to rebuild the state from the server");
  }
  return Ok(kName, path + " (quick_check passed)");
}

DoctorCheck CheckVaultFolder(Env& env, const DoctorState& state) {
  const char* kName = "vault folder";
  if (!state.config) return Skipped(kName, "no valid config");
  const std::string& vault = state.config->vault_dir;
  StatusOr<FileInfo> info = env.Stat(vault);
  if (!info.ok() || !S_ISDIR(info->mode)) {
    return Problem(kName, vault + " is not a folder",
                   "create it (mkdir -p " + vault + ") or fix vault_dir in the config");
  }
  return Ok(kName, vault);
}

DoctorCheck CheckAgent(const DoctorState& state) {
  const char* kName = "agent";
  if (!state.config) return Skipped(kName, "no valid config");
  const std::string socket = DefaultControlSocketPath();
  auto client = ControlClient::Connect(socket);
  StatusOr<std::string> answer =
      client.ok() ? (*client)->Call("status", 2000) : StatusOr<std::string>(client.status());
  if (!answer.ok()) {
    return Problem(kName, "no agent answers on " + socket + ": " + Describe(answer.status()),
                   "start it: `systemctl --user enable --now cardvault-agent` (or `cardvault "
                   "run`)");
  }
  const nlohmann::json j = nlohmann::json::parse(*answer, nullptr, false);
  const std::string watched = j.is_object() ? j.value("vault_dir", std::string()) : "";
  if (watched != state.config->vault_dir) {
    return Problem(
        kName,
        "the agent on " + socket + " watches " + watched + ", not " + state.config->vault_dir,
        "restart the agent with this config (systemctl --user restart "
        "cardvault-agent)");
  }
  return Ok(kName, "running, watching " + watched);
}

// The fix for a server that cannot be reached, by the reason of the error.
std::string ServerFix(const Status& s, const AgentConfig& config) {
  if (s.reason() == "tls_pin_mismatch") {
    return "the server's certificate changed or this is not your server: ask its admin for "
           "the new fingerprint (`openssl x509 -in cert.pem -noout -fingerprint -sha256`) and "
           "set server_fingerprint";
  }
  if (s.reason() == "tls_verification_failed" || s.reason() == "tls_ca_file") {
    return "check server_ca_file (" + config.server_ca_file + ") and the server's host name";
  }
  return "start the server or check server_url (" + config.server_url +
         ") and the network between here and there";
}

std::string ServerProblem(const Status& s) {
  if (s.reason() == "tls_pin_mismatch") return "wrong fingerprint: " + Describe(s);
  if (s.reason() == "network") return "connection refused or no answer: " + Describe(s);
  return Describe(s);
}

DoctorCheck CheckServer(Env& env, DoctorState& state) {
  const char* kName = "server";
  if (!state.config) return Skipped(kName, "no valid config");
  StatusOr<std::unique_ptr<RemoteStore>> server = ConnectServer(env, *state.config);
  if (!server.ok()) {
    return Skipped(kName, "no client: " + Describe(server.status()));
  }
  state.server_status = (*server)->Health(&state.server_date);
  if (!state.server_status.ok()) {
    return Problem(kName, state.config->server_url + ": " + ServerProblem(state.server_status),
                   ServerFix(state.server_status, *state.config));
  }
  state.server = std::move(*server);
  return Ok(kName,
            state.config->server_url + " (" +
                (state.config->server_fingerprint.empty() ? "CA-verified" : "pinned certificate") +
                ")");
}

DoctorCheck CheckToken(DoctorState& state) {
  const char* kName = "token accepted";
  if (!state.config) return Skipped(kName, "no valid config");
  if (!state.server) return Skipped(kName, "the server is not reachable");
  StatusOr<std::string> user = state.server->WhoAmI();
  if (!user.ok()) {
    const bool refused = user.status().code() == StatusCode::kPermissionDenied;
    return Problem(kName,
                   (refused ? "the server refuses the device token (revoked or unknown): "
                            : "whoami failed: ") +
                       Describe(user.status()),
                   "issue a new token on the server (`cardvault-server token issue USER`) and "
                   "write it to " +
                       state.config->token_file + " (mode 0600)");
  }
  return Ok(kName, "as user " + *user);
}

// Parses an HTTP Date (IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT") as Unix seconds.
std::optional<int64_t> ParseHttpDate(const std::string& text) {
  std::tm tm{};
  std::istringstream in(text);
  in.imbue(std::locale::classic());
  in >> std::get_time(&tm, "%a, %d %b %Y %H:%M:%S GMT");
  if (in.fail()) return std::nullopt;
  return static_cast<int64_t>(::timegm(&tm));
}

DoctorCheck CheckClock(Env& env, const DoctorState& state) {
  const char* kName = "clock";
  if (!state.config) return Skipped(kName, "no valid config");
  if (!state.server_status.ok()) return Skipped(kName, "the server is not reachable");
  std::optional<int64_t> server_s = ParseHttpDate(state.server_date);
  if (!server_s) {
    return Skipped(kName, "the server's answer has no Date header (an older server)");
  }
  const int64_t skew = env.NowUnixNanos() / 1000000000 - *server_s;
  const std::string detail = std::to_string(skew) + " s against the server";
  if (skew > kDoctorMaxClockSkewSeconds || skew < -kDoctorMaxClockSkewSeconds) {
    return Problem(kName, detail,
                   "set the clock right (timedatectl set-ntp true), or ask the server's admin "
                   "to check its clock");
  }
  return Ok(kName, detail);
}

// The key ids of the config's card recipients (cv-p11-...).
std::vector<Bytes> CardKeyIds(const AgentConfig& config) {
  std::vector<Bytes> ids;
  for (const std::string& r : config.recipients) {
    if (r.rfind("cv-p11-", 0) != 0) continue;
    auto parsed = CardRecipient::Parse(r);
    if (parsed.ok()) ids.push_back((*parsed)->public_key().key_id());
  }
  return ids;
}

struct FoundKey {
  const CardInfo* card = nullptr;
  const CardKeyInfo* key = nullptr;
};

FoundKey FindKey(const CardListing& listing, const std::vector<Bytes>& ids) {
  for (const CardInfo& card : listing.cards) {
    for (const CardKeyInfo& key : card.keys) {
      if (!key.public_key) continue;
      for (const Bytes& id : ids) {
        if (key.public_key->key_id() == id) return {&card, &key};
      }
    }
  }
  return {};
}

DoctorCheck CheckPin(const CardInfo& card) {
  const char* kName = "card PIN";
  const CardPinState& pin = card.pin;
  if (!pin.known) return Skipped(kName, "the card does not tell its PIN state");
  if (pin.locked) {
    return Problem(kName, "the PIN is locked",
                   "unblock it with the PUK or SO PIN (the card's own tool), then try again");
  }
  if (pin.final_try) {
    return Problem(kName, "one more wrong PIN locks the card",
                   "enter the PIN only when sure of it; or reset the try counter with the PUK");
  }
  if (pin.count_low) {
    return Problem(kName, "a wrong PIN was entered before (tries left are low)",
                   "the next correct PIN clears this; enter it carefully");
  }
  return Ok(kName, "not locked, no wrong tries");
}

// The card check and, when the card is found, its PIN state.
std::vector<DoctorCheck> CheckCard(const DoctorState& state) {
  const char* kName = "card";
  if (!state.config) return {Skipped(kName, "no valid config"), Skipped("card PIN", "no card")};
  const std::vector<Bytes> ids = CardKeyIds(*state.config);
  if (ids.empty()) {
    return {Skipped(kName, "the config has no card recipient (cv-p11-...)"),
            Skipped("card PIN", "no card recipient")};
  }
  auto backend = OpenCardBackend(CardBackendOptions{state.config->card.module});
  StatusOr<CardListing> listing = backend.ok() ? (*backend)->List() : backend.status();
  const std::string fix =
      "insert the card holding key " + HexEncode(ids.front()) +
      " (`cardvault card list` shows what is visible), or set card.module to its driver";
  if (!listing.ok()) {
    return {Problem(kName, "cannot list cards: " + Describe(listing.status()), fix),
            Skipped("card PIN", "no card")};
  }
  FoundKey found = FindKey(*listing, ids);
  if (found.card == nullptr) {
    return {Problem(kName,
                    "no card shows the configured key (" + listing->source + ", " +
                        std::to_string(listing->cards.size()) + " slot(s))",
                    fix),
            Skipped("card PIN", "no card")};
  }
  return {Ok(kName, "\"" + found.card->label + "\" holds key \"" + found.key->label + "\" (" +
                        HexEncode(found.key->public_key->key_id()) + ")"),
          CheckPin(*found.card)};
}

// The nearest existing directory at or above `path`.
std::string ExistingAncestor(Env& env, std::string path) {
  for (int i = 0; i < 64 && !path.empty() && !env.Stat(path).ok(); ++i) {
    const size_t slash = path.find_last_of('/');
    path = slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
  }
  return path.empty() ? "/" : path;
}

DoctorCheck CheckDiskSpace(Env& env, const DoctorState& state) {
  const char* kName = "disk space";
  if (!state.config) return Skipped(kName, "no valid config");
  const std::string dir = ExistingAncestor(env, state.config->state_dir);
  struct statvfs fs {};
  if (::statvfs(dir.c_str(), &fs) != 0) return Skipped(kName, "cannot statvfs " + dir);
  const uint64_t free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  const std::string detail = std::to_string(free_bytes >> 20) + " MiB free for the spool on " + dir;
  if (free_bytes < kDoctorMinFreeBytes) {
    return Problem(kName, detail,
                   "free at least " + std::to_string(kDoctorMinFreeBytes >> 20) +
                       " MiB there, or move state_dir to a larger disk");
  }
  return Ok(kName, detail);
}

void PrintText(const std::vector<DoctorCheck>& checks) {
  for (const DoctorCheck& c : checks) {
    std::cout << std::left << std::setw(8) << c.status << " " << std::setw(15) << c.check << " "
              << c.detail << "\n";
    if (!c.fix.empty())
      std::cout << std::setw(25) << ""
                << "fix: " << c.fix << "\n";
  }
}

void PrintJson(const std::vector<DoctorCheck>& checks) {
  nlohmann::json out = nlohmann::json::array();
  for (const DoctorCheck& c : checks) {
    out.push_back({{"check", c.check}, {"status", c.status}, {"detail", c.detail}, {"fix", c.fix}});
  }
  std::cout << out.dump(2) << "\n";
}

constexpr char kDoctorHelp[] =
    "Prints one line per check:\n"
    "  ok       the check passed\n"
    "  PROBLEM  something is wrong; the next line says what to do\n"
    "  skipped  the check could not run (the line says why, e.g. no server to ask)\n"
    "Exits 0 only when no check is a PROBLEM. Never creates or changes state, never asks for "
    "a PIN.\n"
    "Checks: config (readable, valid, mode 0600), token file (private), state database "
    "(quick_check, read-only), vault folder, agent (answers on its control socket for this "
    "vault), server (reachable with the pinned certificate or CA), token accepted, clock "
    "(within 60 s of the server's Date header), card (shows the key of a cv-p11- recipient "
    "of the config) and card PIN (locked, final try, count low), disk space (at least 1024 "
    "MiB free where the spool lives).\n"
    "Example:\n"
    "  $ cardvault doctor\n"
    "  ok       config          /home/ana/.config/cardvault/config.json (mode 0600)\n"
    "  PROBLEM  server          https://vault.example:8443: wrong fingerprint: ...\n"
    "                           fix: ask its admin for the new fingerprint ...\n"
    "  cardvault doctor --json   (an array of {check, status, detail, fix})";

}  // namespace

std::vector<DoctorCheck> RunDoctor(Env& env, const std::string& config_path) {
  DoctorState state;
  std::vector<DoctorCheck> checks;
  checks.push_back(CheckConfig(env, config_path, state));
  checks.push_back(CheckTokenFile(env, state));
  checks.push_back(CheckStateDb(env, state));
  checks.push_back(CheckVaultFolder(env, state));
  checks.push_back(CheckAgent(state));
  checks.push_back(CheckServer(env, state));
  checks.push_back(CheckToken(state));
  checks.push_back(CheckClock(env, state));
  for (DoctorCheck& c : CheckCard(state)) checks.push_back(std::move(c));
  checks.push_back(CheckDiskSpace(env, state));
  return checks;
}

void AddDoctorCommand(CLI::App& app, const std::string& config_flag, int& exit_code) {
  struct Args {
    std::string config;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  auto* doctor = app.add_subcommand(
      "doctor", "Check the setup (config, server, token, card, agent, disk) and say what to fix.");
  doctor->add_option("--config", args->config, "Agent config file (as the global --config)");
  doctor->add_flag("--json", args->json, "Print an array of {check, status, detail, fix}");
  doctor->footer(kDoctorHelp);
  doctor->callback([&exit_code, &config_flag, args] {
    const std::string path = ConfigPath(args->config.empty() ? config_flag : args->config);
    const std::vector<DoctorCheck> checks = RunDoctor(*Env::Default(), path);
    args->json ? PrintJson(checks) : PrintText(checks);
    exit_code = 0;
    for (const DoctorCheck& c : checks) {
      if (c.status == kProblem) exit_code = 1;
    }
  });
}

}  // namespace cardvault
