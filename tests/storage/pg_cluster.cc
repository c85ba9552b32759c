// PgCluster implementation: initdb and pg_ctl from the newest /usr/lib/postgresql/*/bin.
#include "tests/storage/pg_cluster.h"

#include <gtest/gtest.h>
#include <pwd.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "storage/pg_pool.h"
#include "tests/storage/shared_engine.h"

namespace cardvault {
namespace {

constexpr int kPort = 5432;  // only names the socket file: no TCP listener

std::string NewestBinDir() {
  std::string best;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
    const std::string bin = e.path().string() + "/bin";
    if (std::filesystem::exists(bin + "/initdb") && std::filesystem::exists(bin + "/pg_ctl") &&
        bin > best) {
      best = bin;
    }
  }
  return best;
}

std::string ReadLog(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// As the "postgres" user when run as root (PostgreSQL refuses root).
std::string AsServerUser() { return ::geteuid() == 0 ? "runuser -u postgres -- " : ""; }

// Leaves tests/engines/owner_watchdog.sh watching this process: once it is gone (even by
// SIGKILL) the server is stopped and `dir` removed.
Status StartWatchdog(const std::string& bin, const std::string& dir) {
  const std::string watchdog =
      std::string(CARDVAULT_SOURCE_DIR) + "/tests/engines/owner_watchdog.sh";
  const std::string cmd = "bash " + watchdog + " " + std::to_string(::getpid()) + " " + dir + " " +
                          AsServerUser() + bin + "/pg_ctl -w -t 30 -D " + dir +
                          "/data -m immediate stop";
  if (std::system(cmd.c_str()) != 0) return IoError("cannot start " + watchdog);
  return Status::Ok();
}

}  // namespace

StatusOr<std::unique_ptr<PgCluster>> PgCluster::Start() {
  const std::string bin = NewestBinDir();
  if (bin.empty()) {
    return UnsupportedError(
        "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): "
        "apt-get install postgresql (scripts/bootstrap.sh) to run these tests");
  }
  char tmpl[] = "/tmp/cv-pg-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return IoError("mkdtemp failed");
  std::unique_ptr<PgCluster> cluster(new PgCluster(bin, tmpl));
  const std::string& dir = cluster->dir_;
  std::string as_user;
  if (::geteuid() == 0) {
    const passwd* pw = ::getpwnam("postgres");
    if (pw == nullptr) return UnsupportedError("running as root and there is no postgres user");
    if (::chown(dir.c_str(), pw->pw_uid, pw->pw_gid) != 0) return IoError("chown failed");
    as_user = "runuser -u postgres -- ";
  }
  // Two logs: initdb's output is redirected by this (maybe root) process, the server's
  // log is written by the server's own user.
  const std::string init_log = dir + "/initdb.log";
  const std::string initdb = as_user + bin + "/initdb -D " + dir + "/data -A trust -U cv " +
                             "--no-sync -E UTF8 --locale=C >" + init_log + " 2>&1";
  if (std::system(initdb.c_str()) != 0) return IoError("initdb failed:\n" + ReadLog(init_log));
  CV_RETURN_IF_ERROR(cluster->StartServer());
  cluster->started_ = true;
  CV_RETURN_IF_ERROR(StartWatchdog(bin, dir));
  return cluster;
}

Status PgCluster::StartServer() {
  const std::string log = dir_ + "/server.log";
  // fsync=off: a test cluster need not survive power loss, and fsyncs only slow the tests.
  const std::string start = AsServerUser() + bin_ + "/pg_ctl -w -t 30 -D " + dir_ + "/data -l " +
                            log + " -o \"-k " + dir_ + " -p " + std::to_string(kPort) +
                            " -c listen_addresses='' -c fsync=off\" start >/dev/null 2>&1";
  if (std::system(start.c_str()) != 0) return IoError("pg_ctl start failed:\n" + ReadLog(log));
  return Status::Ok();
}

Status PgCluster::Restart(int down_ms) {
  const std::string stop =
      AsServerUser() + bin_ + "/pg_ctl -w -t 30 -D " + dir_ + "/data -m fast stop >/dev/null 2>&1";
  if (std::system(stop.c_str()) != 0) return IoError("pg_ctl stop failed");
  std::this_thread::sleep_for(std::chrono::milliseconds(down_ms));
  return StartServer();
}

PgCluster::~PgCluster() {
  if (started_) {
    const std::string stop = AsServerUser() + bin_ + "/pg_ctl -w -t 30 -D " + dir_ +
                             "/data -m immediate stop >/dev/null 2>&1";
    if (std::system(stop.c_str()) != 0) {
      // Nothing more to do in a destructor; the directory is removed all the same.
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string PgCluster::ConnInfo(const std::string& name) const {
  return "host=" + dir_ + " port=" + std::to_string(kPort) + " user=cv dbname=" + name;
}

Status PgCluster::CreateDatabase(const std::string& name) {
  CV_ASSIGN_OR_RETURN(auto pool, PgPool::Create(ConnInfo("postgres"), 1));
  CV_ASSIGN_OR_RETURN(auto conn, pool->Acquire());
  return conn->Exec("CREATE DATABASE " + name);
}

namespace {

std::atomic<int> databases{0};
SharedEngine<PgCluster> shared("PostgreSQL");

}  // namespace

PgCluster* SharedPgCluster(std::string* why_not) { return shared.Get(why_not); }

StatusOr<std::string> NewSharedDatabase() {
  std::string why_not;
  PgCluster* cluster = SharedPgCluster(&why_not);
  if (cluster == nullptr) return UnsupportedError(why_not);
  const std::string name = "t" + std::to_string(++databases);
  CV_RETURN_IF_ERROR(cluster->CreateDatabase(name));
  return name;
}

StatusOr<std::string> NewSharedDatabaseConnInfo() {
  CV_ASSIGN_OR_RETURN(std::string name, NewSharedDatabase());
  std::string why_not;
  return SharedPgCluster(&why_not)->ConnInfo(name);
}

std::string SharedPgClusterUnavailable() {
  std::string why_not;
  SharedPgCluster(&why_not);
  return why_not;
}

StatusOr<std::string> SharedDatabaseFor(const std::string& dir, bool create) {
  static std::mutex mu;
  static std::map<std::string, std::string> databases_by_dir;
  std::string db;
  if (create) {
    CV_ASSIGN_OR_RETURN(db, NewSharedDatabase());
    std::lock_guard lock(mu);
    databases_by_dir[dir] = db;
  } else {
    std::lock_guard lock(mu);
    db = databases_by_dir.at(dir);
  }
  std::string why_not;
  PgCluster* cluster = SharedPgCluster(&why_not);
  if (cluster == nullptr) return UnsupportedError(why_not);
  return cluster->ConnInfo(db);
}

}  // namespace cardvault
