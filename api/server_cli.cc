// RunServerCli: the command line of cardvault-server (CLI11), one setup function per
// command group; the commands themselves are in server_init.cc, server_serve.cc and
// server_admin.cc.
#include "api/server_cli.h"

#include <CLI/CLI.hpp>
#include <cstdio>

#include "api/server_commands.h"

namespace cardvault {
namespace {

// What the parsed subcommand does; set by its CLI11 callback, run after parsing.
using Action = std::function<int()>;

// Options of a subcommand live as long as the App: the setup functions keep them here.
struct Args {
  ServerPaths paths;
  InitOptions init;
  std::string user_name;
  std::string quota_text;
  std::string device;
  int64_t token_id = 0;
  bool quarantine = false;
  bool json = false;
  MigrateOptions migrate;
};

void AddInitCommand(CLI::App& app, Args& a, Action& action) {
  auto* init = app.add_subcommand(
      "init", "create the data directory, config and a dev certificate; check the stores");
  init->add_option("--host", a.init.hosts, "extra DNS name or IP address for the certificate");
  init->add_option("--index", a.init.index,
                   "'sqlite' (default: index.db and auth.db in the data directory) or a "
                   "PostgreSQL connection string/URI without a password (it goes in a passfile)");
  init->add_option("--index-pool-size", a.init.index_pool_size,
                   "PostgreSQL connections per instance for the index");
  init->add_option("--bytes", a.init.bytes,
                   "'files' (default: blobs/ in the data directory) or 's3'")
      ->check(CLI::IsMember({"files", "s3"}));
  init->add_option("--s3-endpoint", a.init.s3.endpoint, "e.g. https://s3.example.com");
  init->add_option("--s3-bucket", a.init.s3.bucket, "the bucket (it must exist)");
  init->add_option("--s3-region", a.init.s3.region, "the region")->capture_default_str();
  init->add_option("--s3-prefix", a.init.s3.prefix, "put before every key");
  init->add_option("--s3-credentials", a.init.s3.credentials_file,
                   "JSON file with access_key_id and secret_access_key (mode 0600)");
  init->add_option("--s3-ca-file", a.init.s3.ca_file, "PEM bundle to verify the endpoint with");
  init->callback([&] { action = [&] { return InitCommand(a.paths, a.init); }; });
}

void AddServeCommand(CLI::App& app, Args& a, Action& action, const ServerCliHooks& hooks) {
  auto* serve = app.add_subcommand(
      "serve",
      "serve HTTPS until SIGTERM; SIGHUP reloads the certificate and key for new connections");
  serve->callback([&] { action = [&] { return ServeCommand(a.paths, hooks); }; });
}

void AddUserCommands(CLI::App& app, Args& a, Action& action) {
  auto* user = app.add_subcommand("user", "manage users");
  user->require_subcommand(1);
  auto* add = user->add_subcommand("add", "add a user");
  add->add_option("name", a.user_name)->required();
  add->callback([&] {
    action = [&] {
      return WithStores(a.paths, [&](ServerStores& stores) {
        if (Status s = stores.tokens->AddUser(a.user_name); !s.ok()) return FailCommand(s);
        std::printf("added user %s\n", a.user_name.c_str());
        return 0;
      });
    };
  });
  auto* list = user->add_subcommand("list", "list users");
  list->callback([&] {
    action = [&] {
      return WithStores(a.paths, [](ServerStores& stores) {
        auto users = stores.tokens->ListUsers();
        if (!users.ok()) return FailCommand(users.status());
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
      return WithStores(a.paths, [&](ServerStores& stores) {
        return SetQuotaCommand(stores, a.user_name, a.quota_text);
      });
    };
  });
}

void AddTokenCommands(CLI::App& app, Args& a, Action& action) {
  auto* token = app.add_subcommand("token", "manage access tokens");
  token->require_subcommand(1);
  auto* issue = token->add_subcommand("issue", "issue a token (printed once)");
  issue->add_option("user", a.user_name)->required();
  issue->add_option("--device", a.device, "device name");
  issue->callback([&] {
    action = [&] {
      return WithStores(a.paths, [&](ServerStores& stores) {
        return IssueTokenCommand(*stores.tokens, a.user_name, a.device);
      });
    };
  });
  auto* revoke = token->add_subcommand("revoke", "revoke a token");
  revoke->add_option("id", a.token_id)->required();
  revoke->callback([&] {
    action = [&] {
      return WithStores(a.paths, [&](ServerStores& stores) {
        if (Status s = stores.tokens->Revoke(a.token_id); !s.ok()) return FailCommand(s);
        std::printf("revoked token %lld\n", static_cast<long long>(a.token_id));
        return 0;
      });
    };
  });
  auto* list = token->add_subcommand("list", "list tokens");
  list->callback([&] {
    action = [&] {
      return WithStores(a.paths,
                        [](ServerStores& stores) { return ListTokensCommand(*stores.tokens); });
    };
  });
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
  check->callback([&] { action = [&] { return CheckCommand(a.paths, a.quarantine, a.json); }; });
}

void AddMigrateCommand(CLI::App& app, Args& a, Action& action, const ServerCliHooks& hooks) {
  auto* migrate = app.add_subcommand(
      "migrate",
      "copy a single-node data directory (index, blobs, users, tokens) into the stores a config "
      "names (PostgreSQL, S3), verified by SHA-256; resumable: run it again after a stop; the "
      "source is never changed; exit 0 done, 1 done with damaged objects, 2 refused or stopped");
  migrate->add_option("--from", a.migrate.from, "the data directory to copy (its server stopped)")
      ->required();
  migrate->add_option("--to", a.migrate.to_config, "the destination's config.json")->required();
  migrate->add_option("--to-data", a.migrate.to_data,
                      "the destination's data directory (relative paths in its config; blobs/ "
                      "for 'files'); default: the directory of the config");
  migrate
      ->add_option("--work-dir", a.migrate.work_dir,
                   "where copies of the source's index.db and auth.db are kept while it runs")
      ->capture_default_str();
  migrate->add_flag("--json", a.migrate.json, "print the summary as one JSON object");
  migrate->add_flag("--progress", a.migrate.progress, "a progress line per page of versions");
  migrate
      ->add_option("--page-versions", a.migrate.page_versions,
                   "versions copied and then recorded in one index transaction")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));
  migrate->callback([&] { action = [&] { return MigrateCommand(a.migrate, hooks); }; });
}

}  // namespace

int RunServerCli(int argc, char** argv, const ServerCliHooks& hooks) {
  CLI::App app{"cardvault-server: encrypted blob storage over HTTPS"};
  app.require_subcommand(1);
  app.fallthrough();
  Args args;
  Action action;
  app.add_option("--data", args.paths.data, "data directory")->capture_default_str();
  app.add_option("--config", args.paths.config,
                 "config file (default: DATA/config.json); relative paths in it are relative to "
                 "the data directory");
  AddInitCommand(app, args, action);
  AddServeCommand(app, args, action, hooks);
  AddUserCommands(app, args, action);
  AddTokenCommands(app, args, action);
  AddCheckCommand(app, args, action);
  AddMigrateCommand(app, args, action, hooks);
  CLI11_PARSE(app, argc, argv);
  return action ? action() : 0;
}

}  // namespace cardvault
