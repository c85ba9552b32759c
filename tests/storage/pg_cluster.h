// PgCluster: a throwaway PostgreSQL cluster for tests, on a Unix socket only (no TCP), in a
// temporary directory removed with it, or by its watchdog (tests/engines/owner_watchdog.sh)
// when the process that started it dies without running the destructor (SIGKILL).
#ifndef CARDVAULT_TESTS_STORAGE_PG_CLUSTER_H_
#define CARDVAULT_TESTS_STORAGE_PG_CLUSTER_H_

#include <memory>
#include <string>

#include "core/status_or.h"

namespace cardvault {

class PgCluster {
 public:
  // initdb (trust, user "cv", C locale) and pg_ctl start, as the "postgres" user when run
  // as root (PostgreSQL refuses root). kUnsupported with what to install when PostgreSQL is
  // not installed; other errors carry the server's log. Also leaves a watchdog that stops
  // the server and removes its directory within ~2 s of this process's death, however it
  // died.
  static StatusOr<std::unique_ptr<PgCluster>> Start();
  // Stops the server (immediate) and removes its directory.
  ~PgCluster();

  // A new, empty database.
  Status CreateDatabase(const std::string& name);
  // The libpq connection string of database `name`.
  std::string ConnInfo(const std::string& name) const;
  // Stops the server (fast: open connections are closed), waits `down_ms` and starts it
  // again on the same socket, data kept: for clients that MUST survive a database restart.
  Status Restart(int down_ms);

 private:
  PgCluster(std::string bin, std::string dir) : bin_(std::move(bin)), dir_(std::move(dir)) {}
  Status StartServer();
  std::string bin_;  // the PostgreSQL bin directory
  std::string dir_;  // data/, the socket and log
  bool started_ = false;
};

// The cluster of this test binary, started on first use and stopped when the tests end; or
// nullptr with `why_not` set (the message a test skips with).
PgCluster* SharedPgCluster(std::string* why_not);

// A new database on the shared cluster (or the message to skip with, as an error).
StatusOr<std::string> NewSharedDatabase();

// A new database on the shared cluster, as its connection string: what a test's SetUp
// calls. kUnsupported (the message to skip with) when the shared cluster cannot start.
StatusOr<std::string> NewSharedDatabaseConnInfo();

// For the conformance suites' `unavailable`: why the shared cluster cannot be used, or "".
std::string SharedPgClusterUnavailable();

// For the conformance suites' `create` and `reopen`: the connection string of the database
// belonging to the test directory `dir`; `create` makes a new one (NewSharedDatabase), else
// the one made for `dir` before is returned again.
StatusOr<std::string> SharedDatabaseFor(const std::string& dir, bool create);

}  // namespace cardvault

#endif  // CARDVAULT_TESTS_STORAGE_PG_CLUSTER_H_
