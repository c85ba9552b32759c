// RunServerCli: the cardvault-server command line (init, serve, user, token, check, migrate), for
// the cardvault-server binary and for test binaries that wire a fault into the store.
#ifndef CARDVAULT_API_SERVER_CLI_H_
#define CARDVAULT_API_SERVER_CLI_H_

#include <functional>
#include <memory>

#include "storage/blob_store.h"
#include "storage/store_migration.h"

namespace cardvault {

struct ServerCliHooks {
  // If set, `serve` serves the store this returns (a decorator over the configured store,
  // which outlives it) instead of the configured store itself: how tests inject faults.
  std::function<std::unique_ptr<BlobStore>(BlobStore& store)> decorate_store;
  // If set, `migrate` calls it at each progress point (after users and tokens, then after
  // each page of versions is imported): how tests stop a migration at a chosen point.
  std::function<void(const MigrationProgress& progress)> on_migrate_progress;
};

// Parses `argv` and runs the command; returns the process's exit code.
int RunServerCli(int argc, char** argv, const ServerCliHooks& hooks = {});

}  // namespace cardvault

#endif  // CARDVAULT_API_SERVER_CLI_H_
