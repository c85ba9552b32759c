// init, run, sync and status: the commands that use the config, the state and the server.
#include "agent/cli/sync_commands.h"

#include <chrono>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "agent/cli/stop_requests.h"
#include "agent/control/control_client.h"
#include "agent/control/control_server.h"
#include "agent/sync/agent_context.h"
#include "agent/sync/daemon.h"
#include "agent/sync/log.h"
#include "agent/sync/process_priority.h"
#include "core/platform.h"

namespace cardvault {
namespace {

int Fail(const Status& s) {
  std::cerr << "cardvault: error: " << s.message();
  if (!s.reason().empty()) std::cerr << " [" << s.reason() << "]";
  std::cerr << "\n";
  return 1;
}

// For `run` and `sync --once`: the agent's work runs in the background, at low priority
// unless the config says otherwise (before any thread starts, so that all inherit it).
StatusOr<std::unique_ptr<AgentContext>> OpenContext(const std::string& config_flag) {
  Env& env = *Env::Default();
  CV_ASSIGN_OR_RETURN(AgentConfig config, AgentConfig::Load(env, ConfigPath(config_flag)));
  if (config.low_priority) {
    if (Status s = LowerThreadPriority(); !s.ok()) {
      LogWarning(s.message() + "; running at normal priority");
    }
  }
  return AgentContext::Open(env, std::move(config));
}

// Reads a line from the terminal without echo.
StatusOr<SecretData> PromptSecret(const std::string& prompt) {
  if (!StdinIsTerminal()) {
    return InvalidArgumentError("no --token-file given and standard input is not a terminal");
  }
  std::cerr << prompt << std::flush;
  SetStdinEcho(false);
  SecretData buf(4096);
  size_t n = 0;
  char c;
  while (n < buf.size() && std::cin.get(c) && c != '\n') {
    if (c != '\r') buf.data()[n++] = static_cast<uint8_t>(c);
  }
  SetStdinEcho(true);
  std::cerr << "\n";
  buf.Truncate(n);
  if (buf.empty()) return InvalidArgumentError("empty token");
  return buf;
}

// "2026-12-06 03:04:05 UTC".
std::string UtcTime(int64_t unix_ns) {
  std::tm tm_buf = {};
  UtcCalendarTime(unix_ns / 1'000'000'000, &tm_buf);
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%d %H:%M:%S UTC", &tm_buf);
  return out;
}

// A state database already in c.state_dir MUST keep this folder's records
// (CheckStateBelongsTo): init says so before writing a config that could not run.
Status CheckExistingState(Env& env, const AgentConfig& c) {
  const std::string path = c.state_dir + "/state.db";
  if (!env.Stat(path).ok()) return Status::Ok();
  CV_ASSIGN_OR_RETURN(std::unique_ptr<StateDb> db, StateDb::Open(path));
  return CheckStateBelongsTo(*db, c);
}

std::string Plural(int64_t n, const char* word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

}  // namespace

void AddSyncCommands(CLI::App& app, const std::string& config_flag, int& exit_code) {
  // ---- init
  struct InitArgs {
    std::string vault, server, token_file, ca_file, fingerprint, state_dir;
    std::vector<std::string> recipients;
    CardConfig card;  // what restore, ls, versions and adopt use without their flags
    bool force = false;
  };
  auto ia = std::make_shared<InitArgs>();
  auto* init = app.add_subcommand(
      "init", "Write the agent's config after checking the folder, the server and the keys.");
  init->add_option("--vault", ia->vault, "Folder to protect (absolute path)")->required();
  init->add_option("--server", ia->server, "cardvault-server URL, https://host:port")->required();
  init->add_option("--token-file", ia->token_file,
                   "Device token from 'cardvault-server token issue' (asked if omitted)");
  init->add_option("--ca-file", ia->ca_file, "Verify the server against this CA");
  init->add_option("--fingerprint", ia->fingerprint, "Or pin the server certificate's SHA-256");
  init->add_option("--recipient", ia->recipients,
                   "Recipient the vault's keys are wrapped to (repeat for backup cards)")
      ->required();
  init->add_option("--state-dir", ia->state_dir, "Where state and spool live");
  init->add_option("--module", ia->card.module,
                   "The card's PKCS#11 module (default: p11-kit's proxy)");
  init->add_option("--token", ia->card.token_label, "The card's label");
  init->add_option("--key-label", ia->card.key_label, "The key's label on the card");
  init->add_option("--pin-file", ia->card.pin_file,
                   "File holding the card's PIN, for scripts (default: a pinentry prompt)");
  init->add_flag("--force", ia->force, "Replace an existing config");
  init->footer(
      "Example:\n  cardvault init --vault ~/secrets --server https://vault.example.com:8443 \\\n"
      "    --fingerprint 5f3a...e7f8 --token-file ./device-token --recipient cv-x25519-...\n"
      "The card options (--module, --token, --key-label, --pin-file) are recorded in the\n"
      "config, so restore, ls, versions and adopt need them no more.\n"
      "Nothing is written unless every check passes.");
  init->callback([&exit_code, &config_flag, ia] {
    Env& env = *Env::Default();
    const std::string path = ConfigPath(config_flag);
    if (!ia->force && env.Stat(path).ok()) {
      exit_code = Fail(AlreadyExistsError(path + " exists; use --force to replace it"));
      return;
    }
    AgentConfig c;
    c.vault_dir = ia->vault;
    c.server_url = ia->server;
    c.server_ca_file = ia->ca_file;
    c.server_fingerprint = ia->fingerprint;
    c.recipients = ia->recipients;
    c.state_dir = ia->state_dir;
    c.card.module = ia->card.module;
    c.card.token_label = ia->card.token_label;
    c.card.key_label = ia->card.key_label;
    c.card.pin_file = ia->card.pin_file;
    const std::string config_dir = DirName(path);
    c.token_file = ia->token_file.empty() ? config_dir + "/device-token" : ia->token_file;
    auto checked = AgentConfig::Parse(c.ToJson(), "the given options");
    if (!checked.ok()) {
      exit_code = Fail(checked.status());
      return;
    }
    c = *checked;
    auto vault = env.Stat(c.vault_dir);
    if (!vault.ok() || !vault->is_directory) {
      exit_code = Fail(NotFoundError(c.vault_dir + " is not a directory; create it first"));
      return;
    }
    for (const std::string* file : {&c.card.module, &c.card.pin_file}) {
      if (!file->empty() && !env.Stat(*file).ok()) {
        exit_code = Fail(NotFoundError(*file + " does not exist"));
        return;
      }
    }
    if (Status s = CheckExistingState(env, c); !s.ok()) {
      exit_code = Fail(s);
      return;
    }
    for (const std::string& r : c.recipients) {
      auto parsed = ParseRecipientString(r);
      if (!parsed.ok()) {
        exit_code = Fail(parsed.status());
        return;
      }
    }
    std::optional<SecretData> typed_token;
    if (ia->token_file.empty()) {
      auto t = PromptSecret("Device token: ");
      if (!t.ok()) {
        exit_code = Fail(t.status());
        return;
      }
      typed_token = std::move(*t);
      Status s = env.CreateDirs(config_dir);
      if (s.ok()) s = WriteFileAtomically(env, c.token_file, typed_token->span(), 0600);
      if (!s.ok()) {
        exit_code = Fail(s);
        return;
      }
    }
    auto server = ConnectServer(env, c);
    auto user = server.ok() ? (*server)->WhoAmI() : StatusOr<std::string>(server.status());
    if (!user.ok()) {
      if (typed_token) env.RemoveFile(c.token_file).IgnoreError();
      exit_code = Fail(user.status().WithContext("checking " + c.server_url));
      return;
    }
    Status s = env.CreateDirs(config_dir);
    if (s.ok()) s = WriteFileAtomically(env, path, AsBytes(c.ToJson()), 0600);
    if (!s.ok()) {
      exit_code = Fail(s);
      return;
    }
    std::cout << "cardvault: server " << c.server_url << " answers for user " << *user
              << "\ncardvault: wrote " << path << "\nNext: cardvault run   (or: cardvault "
              << "sync --once)\n";
    exit_code = 0;
  });

  // ---- run
  auto socket = std::make_shared<std::string>();
  auto hide_console = std::make_shared<bool>(false);
  auto* run = app.add_subcommand(
      "run", "Run the agent in the foreground: watch the folder and upload every change.");
  run->add_option("--socket", *socket,
                  "Control channel (default: $XDG_RUNTIME_DIR/cardvault/agent.sock; Windows: "
                  "\\\\.\\pipe\\cardvault-<user SID>)");
  run->add_flag("--hide-console", *hide_console,
                "Windows: hide the console window (as the autostart entry does); no effect on "
                "Linux");
  run->footer(StopRequests::Help() + "\n" + LogDestinationHelp());
  run->callback([&exit_code, &config_flag, socket, hide_console] {
    if (*hide_console) HideConsoleWindow();
    if (Status log = StartLogFile(); !log.ok()) LogWarning(log.message());
    auto ctx = OpenContext(config_flag);
    if (!ctx.ok()) {
      exit_code = Fail(ctx.status());
      return;
    }
    DaemonOptions o;
    o.control_socket = *socket;
    auto daemon = Daemon::New(ctx->get(), o);
    if (!daemon.ok()) {
      exit_code = Fail(daemon.status());
      return;
    }
    Status s;
    {
      StopRequests stop_requests(daemon->get());
      s = (*daemon)->Run();
    }
    exit_code = s.ok() ? 0 : Fail(s);
  });

  // ---- sync
  struct SyncArgs {
    bool once = false;
    int timeout_s = 60;
  };
  auto sa = std::make_shared<SyncArgs>();
  auto* sync = app.add_subcommand("sync", "Upload everything pending now.");
  sync->add_flag("--once", sa->once,
                 "Run without the agent: scan, upload all, exit 0 only when all is uploaded");
  sync->add_option("--timeout", sa->timeout_s, "With --once: how long to keep retrying (s)");
  sync->footer(
      "Without --once, asks the running agent to rescan and upload now. Either way, files "
      "whose upload failed for good (status shows why) are tried again: fix the cause, then "
      "sync.");
  sync->callback([&exit_code, &config_flag, sa] {
    if (!sa->once) {
      auto client = ControlClient::Connect(DefaultControlSocketPath());
      auto r = client.ok() ? (*client)->Call("sync_now") : StatusOr<std::string>(client.status());
      exit_code = r.ok() ? 0 : Fail(r.status());
      if (r.ok()) std::cout << "cardvault: the agent is syncing now\n";
      return;
    }
    auto ctx = OpenContext(config_flag);
    if (!ctx.ok()) {
      exit_code = Fail(ctx.status());
      return;
    }
    SyncEngine& engine = *(*ctx)->engine;
    engine.set_event_sink([](const SyncEvent& e) {
      if (e.type == "file_uploaded" || e.type == "file_failed" || e.type == "skipped") {
        std::cerr << e.type << " " << e.path << (e.detail.empty() ? "" : ": " + e.detail) << "\n";
      }
    });
    StatusOr<int> again = engine.RetryFailed();  // a manual sync tries failed files again
    Status s = again.ok() ? engine.Rescan() : again.status();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(sa->timeout_s);
    while (s.ok()) {
      auto r = engine.ProcessDue();
      if (!r.ok()) {
        s = r.status();
        break;
      }
      auto next = engine.NextRetryTime();
      if (!next.ok() || !*next) break;
      int64_t wait_ns = **next - Env::Default()->NowUnixNanos();
      if (std::chrono::steady_clock::now() + std::chrono::nanoseconds(wait_ns) > deadline) break;
      if (wait_ns > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(wait_ns));
    }
    if (!s.ok()) {
      exit_code = Fail(s);
      return;
    }
    auto counts = (*ctx)->db->Counts().value();
    const int64_t pending = counts.queued + counts.encrypted;
    std::cout << "cardvault: " << Plural(counts.uploaded, "version") << " uploaded, " << pending
              << " pending, " << counts.failed << " failed\n";
    if (pending > 0 || counts.failed > 0) {
      for (VersionState st :
           {VersionState::kQueued, VersionState::kEncrypted, VersionState::kFailed}) {
        for (const VersionRecord& v : (*ctx)->db->ListVersions(st).value()) {
          std::cout << "  " << VersionStateName(st) << "  " << v.path
                    << (v.last_error.empty() ? "" : "  (" + v.last_error + ")") << "\n";
        }
      }
      exit_code = 1;
      return;
    }
    exit_code = 0;
  });

  // ---- status
  auto json_out = std::make_shared<bool>(false);
  auto* status = app.add_subcommand("status", "Show what is pending, uploaded and failed.");
  status->add_flag("--json", *json_out, "Machine-readable output");
  status->callback([&exit_code, &config_flag, json_out] {
    Env& env = *Env::Default();
    auto config = AgentConfig::Load(env, ConfigPath(config_flag));
    if (!config.ok()) {
      exit_code = Fail(config.status());
      return;
    }
    const std::string db_path = config->state_dir + "/state.db";
    std::unique_ptr<StateDb> db;
    if (env.Stat(db_path).ok()) {
      auto opened = StateDb::Open(db_path);
      if (!opened.ok()) {
        exit_code = Fail(opened.status());
        return;
      }
      db = std::move(*opened);
    }
    StateCounts counts;
    if (db) counts = db->Counts().value();
    auto last = db ? db->GetMeta("last_success_ns") : StatusOr<std::string>(NotFoundError(""));
    nlohmann::json j = {{"pending", counts.queued + counts.encrypted},
                        {"uploaded", counts.uploaded},
                        {"failed", counts.failed},
                        {"last_success_ns", last.ok() ? std::stoll(*last) : 0}};
    nlohmann::json failures = nlohmann::json::array();
    const std::vector<VersionRecord> failed =
        db ? db->ListVersions(VersionState::kFailed).value() : std::vector<VersionRecord>();
    for (const VersionRecord& v : failed) {
      failures.push_back({{"path", v.path}, {"error", v.last_error}});
    }
    j["failures"] = failures;
    auto client = ControlClient::Connect(DefaultControlSocketPath());
    auto agent =
        client.ok() ? (*client)->Call("status", 2000) : StatusOr<std::string>(client.status());
    const nlohmann::json snapshot =
        agent.ok() ? nlohmann::json::parse(*agent, nullptr, false) : nlohmann::json();
    j["agent"] = snapshot.is_object() ? snapshot.value("state", nlohmann::json("unknown"))
                                      : nlohmann::json("not running");
    auto server = ConnectServer(env, *config);
    Status health = server.ok() ? (*server)->Health() : server.status();
    j["server"] = health.ok() ? "reachable" : health.ToString();
    // The running agent's view: since when its uploads find no server.
    const int64_t unreachable_ns =
        snapshot.is_object() ? snapshot.value("server_unreachable_since_ns", int64_t{0}) : 0;
    j["server_unreachable_since_ns"] = unreachable_ns;
    // What stops the running agent's uploads, e.g. a vault it must adopt first.
    j["agent_error"] =
        snapshot.is_object() ? snapshot.value("last_error", std::string()) : std::string();
    if (unreachable_ns > 0) j["server_unreachable_since"] = UtcTime(unreachable_ns);
    j["recipients"] = config->recipients.size();
    if (*json_out) {
      std::cout << j.dump(2) << "\n";
    } else {
      std::cout << "agent:     " << j["agent"].get<std::string>() << "\n"
                << "server:    " << config->server_url << " (" << j["server"].get<std::string>()
                << (unreachable_ns > 0
                        ? "; the agent finds it unreachable since " + UtcTime(unreachable_ns)
                        : std::string())
                << ")\n"
                << "pending:   " << j["pending"] << "\nuploaded:  " << j["uploaded"]
                << "\nfailed:    " << j["failed"] << "\n";
      if (!j["agent_error"].get<std::string>().empty()) {
        std::cout << "error:     " << j["agent_error"].get<std::string>() << "\n";
      }
      for (const auto& f : failures) {
        std::cout << "  " << f["path"].get<std::string>() << ": " << f["error"].get<std::string>()
                  << "\n";
      }
    }
    exit_code = 0;
  });
}

}  // namespace cardvault
