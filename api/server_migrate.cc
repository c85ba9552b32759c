// `cardvault-server migrate`: a single-node data directory into the stores a server config
// names (StoreMigration over DataDirSource and OpenServerStores), with progress, a summary
// and --json.
#include <stdlib.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "api/server_commands.h"
#include "storage/data_dir_source.h"
#include "storage/store_migration.h"

namespace cardvault {
namespace {

// A fresh private directory under `parent` for the copies of the source's databases.
StatusOr<std::string> NewWorkDir(const std::string& parent) {
  std::string tmpl = parent + "/cardvault-migrate-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) return ErrnoToStatus(errno, "mkdtemp", tmpl);
  return tmpl;
}

// The same directory, whatever the spelling (symlinks, "..", a trailing slash).
bool SameDir(const std::string& a, const std::string& b) {
  std::error_code ec;
  return std::filesystem::equivalent(a, b, ec);
}

nlohmann::json SummaryJson(const MigrationSummary& s) {
  nlohmann::json damaged = nlohmann::json::array();
  for (const MigratedDamage& d : s.damaged) {
    damaged.push_back(
        {{"user", d.user}, {"id", d.id}, {"source_version", d.source_version}, {"what", d.what}});
  }
  return {{"versions", s.versions},
          {"live_objects", s.live_objects},
          {"live_bytes", s.live_bytes},
          {"retained_bytes", s.retained_bytes},
          {"copied_now", s.progress.versions_copied},
          {"copied_before", s.progress.versions_earlier},
          {"bytes_copied_now", s.progress.bytes_copied},
          {"users", s.users},
          {"tokens", s.tokens},
          {"quotas", s.quotas},
          {"damaged", std::move(damaged)},
          {"seconds", s.seconds}};
}

void PrintSummary(const MigrationSummary& s) {
  std::printf(
      "migrated %llu versions (%llu live objects, %llu live bytes, %llu retained bytes) of %llu "
      "users, %llu tokens, %llu own quotas in %.1f s; this run copied %llu versions (%llu bytes), "
      "%llu were copied before; %zu damaged\n",
      static_cast<unsigned long long>(s.versions), static_cast<unsigned long long>(s.live_objects),
      static_cast<unsigned long long>(s.live_bytes),
      static_cast<unsigned long long>(s.retained_bytes), static_cast<unsigned long long>(s.users),
      static_cast<unsigned long long>(s.tokens), static_cast<unsigned long long>(s.quotas),
      s.seconds, static_cast<unsigned long long>(s.progress.versions_copied),
      static_cast<unsigned long long>(s.progress.bytes_copied),
      static_cast<unsigned long long>(s.progress.versions_earlier), s.damaged.size());
}

MigrationOptions Options(const MigrateOptions& cli, const ServerCliHooks& hooks, Env* env) {
  MigrationOptions options;
  options.page_versions = cli.page_versions;
  int64_t last_print = env->MonotonicNanos();
  options.on_progress = [cli, hooks, env, last_print](const MigrationProgress& p) mutable {
    if (hooks.on_migrate_progress) hooks.on_migrate_progress(p);
    const int64_t now = env->MonotonicNanos();
    if (!cli.progress && now - last_print < int64_t{5} * 1000000000) return Status::Ok();
    last_print = now;
    std::fprintf(stderr,
                 "progress: source version %lld, %llu versions copied (%llu bytes), %llu before\n",
                 static_cast<long long>(p.last_source_version),
                 static_cast<unsigned long long>(p.versions_copied),
                 static_cast<unsigned long long>(p.bytes_copied),
                 static_cast<unsigned long long>(p.versions_earlier));
    std::fflush(stderr);
    return Status::Ok();
  };
  options.on_damaged = [](const MigratedDamage& d) {
    std::fprintf(stderr, "DAMAGED %s user=%s (source version %lld): %s; copied as damaged\n",
                 d.id.c_str(), d.user.c_str(), static_cast<long long>(d.source_version),
                 d.what.c_str());
  };
  return options;
}

}  // namespace

int MigrateCommand(const MigrateOptions& cli, const ServerCliHooks& hooks) {
  Env* env = Env::Default();
  const std::string to_data = cli.to_data.empty()
                                  ? std::filesystem::path(cli.to_config).parent_path().string()
                                  : cli.to_data;
  if (SameDir(cli.from, to_data)) {
    FailCommand(InvalidArgumentError(
        "the destination's data directory is the source " + cli.from +
        "; give the destination its own (--to-data, or put CONFIG in another directory)"));
    return 2;
  }
  auto config = ServerConfig::Load(*env, cli.to_config);
  if (!config.ok()) return FailCommand(config.status()), 2;
  auto work_dir = NewWorkDir(cli.work_dir);
  if (!work_dir.ok()) return FailCommand(work_dir.status()), 2;
  StatusOr<MigrationSummary> summary = InternalError("not run");
  {
    auto source = DataDirSource::Open(env, cli.from, *work_dir);
    auto to = OpenServerStores(env, to_data, *config, StoresFor::kServe);
    if (!source.ok()) {
      summary = source.status();
    } else if (!to.ok()) {
      summary = to.status().WithContext("the destination (" + cli.to_config + ")");
    } else {
      StoreMigration migration(env, (*source)->stores(),
                               {to->index.get(), to->bytes.get(), to->tokens.get()},
                               Options(cli, hooks, env));
      summary = migration.Run();
    }
  }
  std::filesystem::remove_all(*work_dir);
  if (!summary.ok()) {
    FailCommand(summary.status());
    std::fprintf(stderr,
                 "cardvault-server: nothing the destination holds is lost; run the same command "
                 "again to resume\n");
    return 2;
  }
  if (cli.json) {
    std::printf("%s\n", SummaryJson(*summary)
                            .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                            .c_str());
  } else {
    PrintSummary(*summary);
  }
  return summary->damaged.empty() ? 0 : 1;
}

}  // namespace cardvault
