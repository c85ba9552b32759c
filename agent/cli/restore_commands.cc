// restore, ls, versions and adopt: rebuild or browse the vault from the server and the card.
#include "agent/cli/restore_commands.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "agent/card/card_backends.h"
#include "agent/card/card_identity_set.h"
#include "agent/cli/card_backend_flags.h"
#include "agent/cli/card_commands.h"
#include "agent/cli/cli_errors.h"
#include "agent/restore/restorer.h"
#include "agent/sync/agent_context.h"
#include "api/retrying_object_client.h"
#include "core/card/card_stanza.h"
#include "core/platform.h"
#include "core/x25519_recipient.h"

namespace cardvault {
namespace {

// Parallel connections used to fetch the headers of the listing.
constexpr int kFetchConnections = 4;

struct RemoteArgs {
  std::string server, fingerprint, ca_file, token_file;
  std::string identity;  // software identity file instead of a card
  bool card = false;     // the default anyway; accepted for symmetry with decrypt --card
  CardBackendOptions backend;
  std::string token_label, key_label, pin_file;
  bool verbose = false;  // list each object the identity cannot open
};

void AddRemoteOptions(CLI::App* cmd, RemoteArgs& a) {
  cmd->add_option("--server", a.server,
                  "cardvault-server URL, https://host:port (default: from the config)");
  cmd->add_option("--fingerprint", a.fingerprint, "Pin the server certificate's SHA-256 (hex)");
  cmd->add_option("--ca-file", a.ca_file, "Or verify the server against this CA");
  cmd->add_option("--token-file", a.token_file, "Device token file (mode 0600)");
  auto* id = cmd->add_option("-i,--identity", a.identity,
                             "Software identity file (cardvault keygen) instead of a card");
  cmd->add_flag("--card", a.card, "Unwrap with the smartcard (the default)")->excludes(id);
  AddCardBackendFlags(*cmd, a.backend);
  cmd->add_option("--token", a.token_label, "The card's label");
  cmd->add_option("--key-label", a.key_label,
                  "The key on the card: its label, its certificate's or private key's label, its "
                  "CKA_ID or its key id (hex, as `cardvault card list` shows)");
  cmd->add_option("--pin-file", a.pin_file,
                  "File holding the PIN (mode 0600); default: $CARDVAULT_PIN_FILE, else a "
                  "pinentry prompt. Never a PIN on the command line.");
  cmd->add_flag("-v,--verbose", a.verbose,
                "List every object the card or identity cannot open (by default: a count)");
}

// The card, built on first use from the key ids the vault's key objects name (they are
// all listed before the first blob is opened), so a PIN is asked only if needed.
class DeferredCardIdentity final : public Identity {
 public:
  DeferredCardIdentity(std::shared_ptr<CardBackend> backend, CardIdentityRequest base)
      : backend_(std::move(backend)), base_(std::move(base)) {}
  void set_restorer(const Restorer* restorer) { restorer_ = restorer; }

  StatusOr<SecretData> Unwrap(std::span<const Stanza> stanzas) override {
    if (set_ == nullptr) {
      std::vector<Bytes> ids;
      for (const Bytes& id : restorer_->card_key_ids()) {
        for (const Stanza& s : stanzas) {
          if (s.key_id == id &&
              (s.type == kStanzaTypeRsaOaepSha1 || s.type == kStanzaTypeEcdhP256) &&
              std::find(ids.begin(), ids.end(), id) == ids.end()) {
            ids.push_back(id);
          }
        }
      }
      for (const Bytes& id : restorer_->card_key_ids()) {
        if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
      }
      CV_ASSIGN_OR_RETURN(set_, CardIdentitySet::New(backend_, base_, ids));
    }
    return set_->Unwrap(stanzas);
  }
  uint64_t private_key_operations() const {
    return set_ == nullptr ? 0 : set_->private_key_operations();
  }

 private:
  std::shared_ptr<CardBackend> backend_;
  CardIdentityRequest base_;
  const Restorer* restorer_ = nullptr;
  std::unique_ptr<CardIdentitySet> set_;
};

// A connection, an identity and a loaded catalog.
struct Session {
  std::unique_ptr<RemoteStore> store;
  std::unique_ptr<RetryingObjectClient> client;
  // Extra connections that fetch the listing's blobs in parallel.
  std::vector<std::unique_ptr<RemoteStore>> extra_stores;
  std::vector<std::unique_ptr<RetryingObjectClient>> extra_clients;
  std::unique_ptr<X25519Identity> software;
  std::unique_ptr<DeferredCardIdentity> card;
  std::unique_ptr<Restorer> restorer;
  int64_t load_ns = 0;

  // Private-key operations on the card; none with a software identity (-i).
  uint64_t CardOperations() const { return card != nullptr ? card->private_key_operations() : 0; }
  // "3 card operation(s)", or what was used instead of a card.
  std::string CardUse() const {
    if (card == nullptr) return "no card used (identity file)";
    return std::to_string(CardOperations()) + " card operation(s)";
  }
};

StatusOr<std::unique_ptr<Session>> OpenSession(Env& env, const RemoteArgs& a,
                                               const std::string& config_flag) {
  AgentConfig config;
  if (a.server.empty()) {
    auto loaded = AgentConfig::Load(env, ConfigPath(config_flag));
    if (!loaded.ok()) {
      return InvalidArgumentError(
          "no --server given and no agent config (" + loaded.status().message() +
              "); on a new machine pass --server URL --fingerprint HEX --token-file FILE",
          "no_server");
    }
    config = std::move(*loaded);
  } else {
    config.server_url = a.server;
  }
  if (!a.fingerprint.empty() || !a.ca_file.empty()) {
    config.server_fingerprint = a.fingerprint;
    config.server_ca_file = a.ca_file;
  }
  if (!a.token_file.empty()) config.token_file = a.token_file;
  if (config.token_file.empty()) {
    return InvalidArgumentError("say which device token to use: --token-file FILE", "no_token");
  }
  auto s = std::make_unique<Session>();
  CV_ASSIGN_OR_RETURN(s->store, ConnectServer(env, config));
  s->client = std::make_unique<RetryingObjectClient>(s->store.get(), RetryPolicy{});
  Identity* identity = nullptr;
  if (!a.identity.empty()) {
    CV_ASSIGN_OR_RETURN(Bytes text, ReadFileToBytes(env, a.identity));
    SecretData secret = SecretData::CopyFrom(text);
    std::fill(text.begin(), text.end(), 0);
    auto id = X25519Identity::Parse(secret.AsStringView());
    if (!id.ok()) return id.status().WithContext(a.identity);
    s->software = std::make_unique<X25519Identity>(std::move(*id));
    identity = s->software.get();
  } else {
    CardBackendOptions backend_options = a.backend;
    if (backend_options.module.empty()) backend_options.module = config.card.module;
    CV_ASSIGN_OR_RETURN(std::unique_ptr<CardBackend> backend, OpenCardBackend(backend_options));
    CardIdentityRequest request;
    request.card.label = a.token_label.empty() ? config.card.token_label : a.token_label;
    request.key.label = a.key_label.empty() ? config.card.key_label : a.key_label;
    request.pin_source = ChoosePinSource(a.pin_file.empty() ? config.card.pin_file : a.pin_file);
    s->card = std::make_unique<DeferredCardIdentity>(std::move(backend), std::move(request));
    identity = s->card.get();
  }
  s->restorer = std::make_unique<Restorer>(s->client.get(), identity, &env);
  if (s->card != nullptr) s->card->set_restorer(s->restorer.get());
  for (int i = 1; i < kFetchConnections; ++i) {
    CV_ASSIGN_OR_RETURN(auto store, ConnectServer(env, config));
    s->extra_clients.push_back(std::make_unique<RetryingObjectClient>(store.get(), RetryPolicy{}));
    s->extra_stores.push_back(std::move(store));
    s->restorer->AddFetchClient(s->extra_clients.back().get());
  }
  const int64_t start = env.MonotonicNanos();
  // A wrong PIN's error names the card and its PIN state already (the backend reads that
  // card's state once); the card is not listed again here.
  CV_RETURN_IF_ERROR(s->restorer->Load());
  s->load_ns = env.MonotonicNanos() - start;
  return s;
}

std::string FormatTime(int64_t ns) {
  std::tm tm_buf = {};
  LocalCalendarTime(ns / 1'000'000'000, &tm_buf);
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%d %H:%M:%S", &tm_buf);
  return out;
}

std::string Mib(uint64_t bytes) {
  char out[32];
  std::snprintf(out, sizeof out, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return out;
}

std::string ShortId(const std::string& id) { return id.substr(0, 16); }

// Says on stderr how many objects a later cardvault wrote that this one cannot use.
void NoteUnknownKinds(const Restorer& restorer) {
  if (restorer.unknown_kinds() == 0) return;
  std::cerr << "cardvault: skipped " << restorer.unknown_kinds()
            << " object(s) of a kind this version does not know (written by a later "
               "cardvault: upgrade to restore them)\n";
}

// One line per object the listing could not read whole (damaged, or its path unreadable),
// and a count of the objects of epochs this identity cannot open (each with -v).
void NoteLoadProblems(const Session& s, bool verbose) {
  for (const RestoreFailure& f : s.restorer->load_failures()) {
    std::cerr << "cardvault: DAMAGED " << (f.what == f.object_id ? "object " : "") << f.what << ": "
              << f.status.message();
    if (!f.status.reason().empty()) std::cerr << " [" << f.status.reason() << "]";
    std::cerr << "\n";
  }
  const std::vector<std::string>& unopenable = s.restorer->unopenable();
  if (unopenable.empty()) return;
  std::cerr << "cardvault: " << unopenable.size() << " object(s) of other key epochs: not "
            << (s.card != nullptr ? "openable with this card" : "openable with this identity")
            << (verbose ? "" : " (-v lists them)") << "\n";
  if (!verbose) return;
  for (const std::string& id : unopenable) std::cerr << "    " << id << "\n";
}

// "deleted", "directory  mode 0750" or "17 bytes  mode 0600".
// With "  DAMAGED: why [reason]" after a damaged version.
std::string VersionSummary(const RemoteVersion& v) {
  const format::Metadata& m = v.metadata;
  std::string out = "deleted";
  if (m.kind != format::Kind::kDeletion) {
    char mode[16];
    std::snprintf(mode, sizeof mode, "%04o", m.mode);
    out = (m.kind == format::Kind::kDirectory ? std::string("directory")
                                              : std::to_string(m.size) + " bytes") +
          "  mode " + mode;
  }
  if (v.damaged()) out += "  DAMAGED: " + v.damage.message() + " [" + v.damage.reason() + "]";
  return out;
}

struct AdoptResult {
  uint64_t adopted = 0;  // recorded as already uploaded
  uint64_t differ = 0;   // local content or mode differs from the server: the next sync uploads
};

// Records every file of the vault that equals the latest live version on the server as
// already uploaded, so that the next sync uploads nothing for it. Where files keep no POSIX
// modes (Windows), the content alone decides and the local mode is recorded: a vault synced
// from Linux with 0644 files is adopted, not uploaded again.
StatusOr<AdoptResult> Adopt(Env& env, const Restorer& restorer, StateDb& db,
                            const std::string& vault_dir) {
  AdoptResult result;
  const bool modes = PlatformKeepsPosixModes();
  for (const auto& [path, versions] : restorer.history()) {
    const RemoteVersion& latest = versions.back();
    const std::string full = vault_dir + "/" + path;
    if (latest.metadata.kind == format::Kind::kDirectory) {
      StatusOr<FileInfo> info = env.Stat(full);
      if (!info.ok() || !info->is_directory) continue;
      const FileRecord record = DirectoryFileRecord(path, *info);
      if (modes && record.mode != latest.metadata.mode) continue;  // the next sync records it
      CV_RETURN_IF_ERROR(db.RecordFile(record, std::nullopt).status());
      continue;
    }
    if (latest.metadata.kind != format::Kind::kFile) continue;
    StatusOr<FileInfo> info = env.Stat(full);
    if (!info.ok() || !info->is_regular) continue;
    const uint32_t mode = info->mode & 07777;
    uint64_t size = 0;
    CV_ASSIGN_OR_RETURN(const Sha256Digest digest, Sha256OfPath(env, full, &size));
    if (digest != latest.metadata.sha256 || (modes && mode != latest.metadata.mode)) {
      ++result.differ;
      continue;
    }
    FileRecord record{path, size, info->mtime_ns, info->inode, mode, digest, false};
    CV_RETURN_IF_ERROR(db.RecordFile(record, std::nullopt).status());
    ++result.adopted;
  }
  return result;
}

// The JSON summary of `restore --json`.
nlohmann::json RestoreJson(const Session& s, const RestoreSummary& summary, double secs,
                           bool verbose) {
  const uint64_t files = summary.restored + summary.identical + summary.skipped;
  nlohmann::json j;
  j["restored"] = summary.restored;
  j["directories"] = summary.directories;
  j["identical"] = summary.identical;
  j["skipped"] = summary.skipped;
  j["failed"] = summary.failures.size();
  j["bytes_written"] = summary.bytes_written;
  j["bytes_downloaded"] = summary.bytes_downloaded;
  j["epochs"] = s.restorer->epochs();
  j["card_operations"] = s.CardOperations();
  j["seconds"] = secs;
  j["list_seconds"] = static_cast<double>(s.load_ns) / 1e9;
  j["files_per_second"] = static_cast<double>(files) / secs;
  j["renamed"] = nlohmann::json::array();
  for (const auto& [path, name] : summary.renamed) {
    j["renamed"].push_back({{"path", path}, {"written", name}});
  }
  j["failures"] = nlohmann::json::array();
  j["damaged"] = nlohmann::json::array();
  for (const RestoreFailure& f : summary.failures) {
    nlohmann::json one = {{"path", f.what},
                          {"error", f.status.message()},
                          {"reason", f.status.reason()},
                          {"object", f.object_id},
                          {"damaged", f.damaged}};
    // A damaged object whose path could not be read is named by its id alone.
    if (f.damaged) {
      j["damaged"].push_back({{"path", f.what == f.object_id ? "" : f.what},
                              {"object", f.object_id},
                              {"reason", f.status.reason()},
                              {"error", f.status.message()}});
    }
    j["failures"].push_back(std::move(one));
  }
  j["unopenable"] = s.restorer->unopenable().size();
  if (verbose) j["unopenable_objects"] = s.restorer->unopenable();
  return j;
}

// The human summary of `restore` on stderr.
void PrintRestoreSummary(const Session& s, const RestoreSummary& summary, const std::string& target,
                         double secs) {
  for (const auto& [path, name] : summary.renamed) {
    std::cerr << "cardvault: kept the local " << path << " (it differs); restored copy: " << name
              << "\n";
  }
  for (const RestoreFailure& f : summary.failures) {
    const bool unnamed = f.what == f.object_id;
    std::cerr << "cardvault: " << (f.damaged ? "DAMAGED " : "FAILED ") << (unnamed ? "object " : "")
              << f.what << ": " << f.status.message();
    if (!f.status.reason().empty()) std::cerr << " [" << f.status.reason() << "]";
    std::cerr << "\n";
  }
  const auto unnamed =
      std::count_if(summary.failures.begin(), summary.failures.end(),
                    [](const RestoreFailure& f) { return f.damaged && f.what == f.object_id; });
  if (unnamed > 0) {
    std::cerr << "cardvault: warning: " << unnamed
              << " damaged object(s) could not be named (their header is damaged or missing on "
                 "the server); one may be a newer version of a file restored here. Ask the "
                 "server's admin to run `cardvault-server check`.\n";
  }
  std::cerr << "cardvault: restored " << summary.restored << " file"
            << (summary.restored == 1 ? "" : "s") << " and " << summary.directories << " director"
            << (summary.directories == 1 ? "y" : "ies") << " (" << Mib(summary.bytes_written)
            << ") to " << target << " in " << static_cast<int64_t>(secs * 1000) << " ms; "
            << summary.identical << " already identical, " << summary.skipped << " skipped, "
            << summary.failures.size() << " failed; " << s.restorer->epochs() << " key epoch(s), "
            << s.CardUse() << "\n";
}

struct RestoreArgs {
  RemoteArgs remote;
  std::string target, at, version;
  bool deleted = false, overwrite = false, skip_existing = false, json = false;
  bool allow_older = false;
  std::vector<std::string> globs;
};

StatusOr<RestoreOptions> MakeRestoreOptions(const RestoreArgs& ra) {
  RestoreOptions options;
  options.target_dir = ra.target;
  while (options.target_dir.size() > 1 && options.target_dir.back() == '/') {
    options.target_dir.pop_back();
  }
  options.globs = ra.globs;
  options.include_deleted = ra.deleted;
  options.version_id = ra.version;
  options.allow_older = ra.allow_older;
  options.conflict = ra.overwrite       ? ConflictPolicy::kOverwrite
                     : ra.skip_existing ? ConflictPolicy::kSkip
                                        : ConflictPolicy::kKeepBoth;
  if (!ra.at.empty()) {
    CV_ASSIGN_OR_RETURN(options.at_ns, ParseRestoreTime(ra.at));
  }
  return options;
}

// "\r12/40 files, 3.0 MiB of 9.1 MiB, ..." on a terminal, at most ten times a second.
std::function<void(const RestoreProgress&)> ProgressPrinter(Env& env, bool tty) {
  const int64_t start = env.MonotonicNanos();
  auto last_print = std::make_shared<int64_t>(0);
  return [&env, tty, start, last_print](const RestoreProgress& p) {
    const int64_t now = env.MonotonicNanos();
    if (!tty || (now - *last_print < 100'000'000 && p.files_done != p.files_total)) return;
    *last_print = now;
    const double secs = std::max(1e-3, static_cast<double>(now - start) / 1e9);
    const double rate = static_cast<double>(p.bytes_done) / secs;
    const double eta = rate > 0 ? static_cast<double>(p.bytes_total - p.bytes_done) / rate : 0;
    char line[160];
    std::snprintf(line, sizeof line, "\r%llu/%llu files, %s of %s, %.1f MiB/s, ETA %.0f s   ",
                  static_cast<unsigned long long>(p.files_done),
                  static_cast<unsigned long long>(p.files_total), Mib(p.bytes_done).c_str(),
                  Mib(p.bytes_total).c_str(), rate / (1 << 20), eta);
    std::cerr << line << std::flush;
  };
}

int RunRestore(const RestoreArgs& ra, const std::string& config_flag) {
  Env& env = *Env::Default();
  StatusOr<RestoreOptions> options = MakeRestoreOptions(ra);
  if (!options.ok()) return ReportError(options.status());
  const int64_t start = env.MonotonicNanos();
  const bool tty = !ra.json && StderrIsTerminal();
  if (tty) std::cerr << "cardvault: listing the vault and decrypting its names..." << std::endl;
  auto session = OpenSession(env, ra.remote, config_flag);
  if (!session.ok()) return ReportError(session.status());
  Session& s = **session;
  auto summary = s.restorer->Restore(*options, ProgressPrinter(env, tty));
  if (tty) std::cerr << "\n";
  if (!summary.ok()) return ReportError(summary.status());
  const double secs = std::max(1e-6, static_cast<double>(env.MonotonicNanos() - start) / 1e9);
  if (ra.json) std::cout << RestoreJson(s, *summary, secs, ra.remote.verbose).dump(2) << "\n";
  PrintRestoreSummary(s, *summary, options->target_dir, secs);
  NoteUnknownKinds(*s.restorer);
  // The summary's failures include the listing's (damaged objects named by id).
  const std::vector<std::string>& unopenable = s.restorer->unopenable();
  if (!unopenable.empty()) {
    std::cerr << "cardvault: " << unopenable.size() << " object(s) of other key epochs: not "
              << (s.card != nullptr ? "openable with this card" : "openable with this identity")
              << ", not restored" << (ra.remote.verbose ? "" : " (-v lists them)") << "\n";
    if (ra.remote.verbose) {
      for (const std::string& id : unopenable) std::cerr << "    " << id << "\n";
    }
  }
  return summary->failures.empty() && unopenable.empty() ? 0 : 1;
}

void AddRestoreCommand(CLI::App& app, const std::string& config_flag, int& exit_code) {
  auto ra = std::make_shared<RestoreArgs>();
  auto* restore = app.add_subcommand(
      "restore",
      "Rebuild the vault (or part of it) from the server with the card: works on a new "
      "machine with no config and no local state.");
  AddRemoteOptions(restore, ra->remote);
  restore->add_option("--target", ra->target, "Directory to restore into (created if missing)")
      ->required();
  restore->add_option("--at", ra->at,
                      "Restore the state as of this time: YYYY-MM-DD (end of that day), "
                      "YYYY-MM-DDTHH:MM[:SS][Z] or @UNIX_SECONDS");
  restore->add_flag("--deleted", ra->deleted,
                    "Also restore files whose latest version is a deletion (their last content)");
  restore->add_option("--version", ra->version,
                      "Restore only this version (an id from `cardvault versions PATH`)");
  restore->add_flag("--allow-older", ra->allow_older,
                    "Where the chosen version is damaged on the server, restore the newest "
                    "intact version before it (default: restore nothing for that path)");
  auto* ow = restore->add_flag("--overwrite", ra->overwrite,
                               "Replace local files that differ (default: keep both)");
  restore->add_flag("--skip-existing", ra->skip_existing, "Leave local files that differ")
      ->excludes(ow);
  restore->add_flag("--json", ra->json, "Print a JSON summary on stdout (for scripts)");
  restore->add_option("globs", ra->globs,
                      "Only paths matching these globs or under these directories");
  restore->footer(
      "Examples:\n"
      "  cardvault restore --server https://vault.example.com:8443 --fingerprint 5f3a...e7f8 \\\n"
      "      --token-file ./device-token --target ~/secrets           # a new PC, card inserted\n"
      "  cardvault restore --target ~/secrets 'ssh/*'                  # with the agent's config\n"
      "  cardvault restore --target /tmp/old --at 2026-11-01 --deleted # as it was on Nov 1\n"
      "  cardvault restore --target /tmp/v --version 3fa4c2d1e0b9a877  # one version of one file\n"
      "A local file that differs is kept; the restored one is written beside it as\n"
      "\"NAME (restored YYYY-MM-DD).EXT\". Identical files are skipped, so running the same\n"
      "command again after an interruption resumes it. The PIN is asked once; the card does\n"
      "one private-key operation per key epoch. A version damaged on the server is reported\n"
      "(DAMAGED) and never silently replaced by an older one: --allow-older or --version\n"
      "restores an older one. Exit code 1 if anything failed or was damaged.");
  restore->callback([&exit_code, &config_flag, ra] { exit_code = RunRestore(*ra, config_flag); });
}

struct LsArgs {
  RemoteArgs remote;
  std::string path;
  bool versions = false, deleted = false;
};

// Prints the listing; returns how many listed paths have a damaged latest version.
int PrintListing(const Restorer& r, const LsArgs& la) {
  int damaged = 0;
  for (const auto& [path, versions] : r.history()) {
    if (!la.path.empty() && path != la.path && path.rfind(la.path + "/", 0) != 0) continue;
    const RemoteVersion& last = versions.back();
    const bool deleted = last.metadata.kind == format::Kind::kDeletion;
    if (deleted && !la.deleted) continue;
    // A deleted directory keeps its '/': what it was is its last content's kind.
    const RemoteVersion* content = &last;
    for (auto v = versions.rbegin(); v != versions.rend(); ++v) {
      content = &*v;
      if (v->metadata.kind != format::Kind::kDeletion) break;
    }
    const bool directory = content->metadata.kind == format::Kind::kDirectory;
    char size[64];
    std::snprintf(size, sizeof size, "%12llu  ",
                  static_cast<unsigned long long>(last.metadata.size));
    std::cout << (last.damaged() ? std::string("   (DAMAGED)  ")
                  : deleted      ? std::string("   (deleted)  ")
                  : directory    ? std::string("       (dir)  ")
                                 : std::string(size))
              << FormatTime(last.metadata.mtime_ns) << "  " << versions.size() << "v  " << path
              << (directory ? "/" : "") << "\n";
    if (last.damaged()) ++damaged;
    if (!la.versions && !last.damaged()) continue;
    for (const RemoteVersion& v : versions) {
      std::cout << "    " << ShortId(v.object_id) << "  " << FormatTime(v.metadata.mtime_ns) << "  "
                << VersionSummary(v) << "\n";
    }
  }
  return damaged;
}

void AddLsCommand(CLI::App& app, const std::string& config_flag, int& exit_code) {
  auto la = std::make_shared<LsArgs>();
  auto* ls = app.add_subcommand(
      "ls", "List the vault on the server: decrypted names, sizes, dates, number of versions.");
  AddRemoteOptions(ls, la->remote);
  ls->add_option("path", la->path, "Only this file or directory");
  ls->add_flag("--versions", la->versions, "Show every version of each file");
  ls->add_flag("--deleted", la->deleted, "Also show files whose latest version is a deletion");
  ls->footer(
      "Examples:\n  cardvault ls                      # with the agent's config and the card\n"
      "  cardvault ls ssh --versions --deleted\n"
      "Names are encrypted on the server: listing needs the card (one PIN, one card operation "
      "per key epoch). A file whose latest version is damaged on the server shows (DAMAGED) "
      "with its versions; exit code 1 then, or when an object could not be read at all.");
  ls->callback([&exit_code, &config_flag, la] {
    Env& env = *Env::Default();
    auto session = OpenSession(env, la->remote, config_flag);
    if (!session.ok()) {
      exit_code = ReportError(session.status());
      return;
    }
    const Restorer& r = *(*session)->restorer;
    const int damaged = PrintListing(r, *la);
    NoteLoadProblems(**session, la->remote.verbose);
    NoteUnknownKinds(r);
    exit_code = damaged == 0 && r.load_failures().empty() ? 0 : 1;
  });
}

struct VersionsArgs {
  RemoteArgs remote;
  std::string path;
};

void AddVersionsCommand(CLI::App& app, const std::string& config_flag, int& exit_code) {
  auto va = std::make_shared<VersionsArgs>();
  auto* versions = app.add_subcommand(
      "versions",
      "List every version of one file on the server, oldest first (in the order the agent "
      "recorded them), with its id, mtime, size and mode.");
  AddRemoteOptions(versions, va->remote);
  versions->add_option("path", va->path, "The file's path in the vault")->required();
  versions->footer(
      "Example:\n  cardvault versions 'ssh/id_ed25519'\n"
      "  cardvault restore --target /tmp/v --version ID    # restore one of them\n"
      "A version damaged on the server is listed with DAMAGED and why; exit code 1 then.");
  versions->callback([&exit_code, &config_flag, va] {
    Env& env = *Env::Default();
    auto session = OpenSession(env, va->remote, config_flag);
    if (!session.ok()) {
      exit_code = ReportError(session.status());
      return;
    }
    const Restorer& r = *(*session)->restorer;
    const size_t unreadable = r.load_failures().size();
    auto it = r.history().find(va->path);
    if (it == r.history().end()) {
      Status missing = NotFoundError("no file " + va->path + " in the vault");
      if (unreadable > 0) {
        missing = missing.WithContext(std::to_string(unreadable) +
                                      " damaged object(s) have no readable path "
                                      "(`cardvault ls` lists them); one may be this file");
      }
      exit_code = ReportError(missing);
      return;
    }
    bool damaged = false;
    for (const RemoteVersion& v : it->second) {
      std::cout << ShortId(v.object_id) << "  " << FormatTime(v.metadata.mtime_ns) << "  "
                << VersionSummary(v);
      if (v.metadata.recorded_ns.has_value()) {
        std::cout << "  recorded " << FormatTime(*v.metadata.recorded_ns);
      }
      std::cout << "\n";
      damaged = damaged || v.damaged();
    }
    if (unreadable > 0) {
      std::cerr << "cardvault: note: " << unreadable
                << " damaged object(s) have no readable path (`cardvault ls` lists them); a "
                   "version of this file may be among them\n";
    }
    exit_code = damaged ? 1 : 0;
  });
}

void AddAdoptCommand(CLI::App& app, const std::string& config_flag, int& exit_code) {
  auto aa = std::make_shared<RemoteArgs>();
  auto* adopt = app.add_subcommand(
      "adopt",
      "After `restore` and `init` on a new PC: record the restored files as already on the "
      "server, so the next sync uploads only what really changed.");
  AddRemoteOptions(adopt, *aa);
  adopt->footer(
      "Example (a new PC):\n"
      "  cardvault restore --server URL --fingerprint HEX --token-file T --target ~/secrets\n"
      "  cardvault init --vault ~/secrets --server URL --fingerprint HEX --token-file T \\\n"
      "      --recipient cv-p11-...\n"
      "  cardvault adopt                    # card and PIN once; then `cardvault run`\n"
      "Files that differ from the server's latest version are left for the next sync.");
  adopt->callback([&exit_code, &config_flag, aa] {
    Env& env = *Env::Default();
    auto config = AgentConfig::Load(env, ConfigPath(config_flag));
    if (!config.ok()) {
      exit_code = ReportError(config.status().WithContext("run `cardvault init` first"));
      return;
    }
    auto ctx = AgentContext::Open(env, *config);
    if (!ctx.ok()) {
      exit_code = ReportError(ctx.status());
      return;
    }
    auto session = OpenSession(env, *aa, config_flag);
    if (!session.ok()) {
      exit_code = ReportError(session.status());
      return;
    }
    auto result = Adopt(env, *(*session)->restorer, *(*ctx)->db, (*ctx)->config.vault_dir);
    if (!result.ok()) {
      exit_code = ReportError(result.status());
      return;
    }
    std::cerr << "cardvault: adopted " << result->adopted << " file"
              << (result->adopted == 1 ? "" : "s") << " as already uploaded; " << result->differ
              << " differ from the server and will be uploaded by the next sync\n";
    exit_code = 0;
  });
}

}  // namespace

void AddRestoreCommands(CLI::App& app, const std::string& config_flag, int& exit_code) {
  AddRestoreCommand(app, config_flag, exit_code);
  AddLsCommand(app, config_flag, exit_code);
  AddVersionsCommand(app, config_flag, exit_code);
  AddAdoptCommand(app, config_flag, exit_code);
}

}  // namespace cardvault
