// `cardvault-server serve`: the configured stores behind a BlobServer, signals, readiness,
// and the background jobs (retention purge, orphan sweep) run on one instance at a time.
#include <signal.h>
#include <systemd/sd-daemon.h>

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "api/blob_server.h"
#include "api/server_commands.h"
#include "storage/data_dir_lock.h"
#include "storage/private_files.h"

namespace cardvault {
namespace {

// Orphan sweeps walk every stored key (a whole bucket listing for S3): at start, then daily.
constexpr int64_t kSweepIntervalSeconds = 24 * 3600;

// SIGHUP: the certificate and key files again, for new connections (open ones keep theirs).
// A certificate that cannot be used is logged and the current one kept.
void ReloadCertificate(BlobServer& server) {
  sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
             static_cast<unsigned long long>(Env::Default()->MonotonicNanos() / 1000));
  auto fingerprint = server.ReloadCertificate();
  if (fingerprint.ok()) {
    std::fprintf(stderr, "cardvault-server: SIGHUP: certificate reloaded, sha256 fingerprint %s\n",
                 fingerprint->c_str());
  } else {
    std::fprintf(stderr,
                 "cardvault-server: SIGHUP: keeping the current certificate: %s; fix the files "
                 "and send SIGHUP again\n",
                 fingerprint.status().ToString().c_str());
  }
  std::fflush(stderr);
  sd_notify(0, "READY=1");
}

// Signals go to one thread: SIGHUP reloads the certificate, SIGTERM and SIGINT stop the
// server. Every other thread blocks them (`signals` is blocked before any thread starts).
void HandleSignals(const sigset_t& signals, BlobServer& server) {
  while (true) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      ReloadCertificate(server);
      continue;
    }
    std::fprintf(stderr, "cardvault-server: signal %d, stopping\n", sig);
    sd_notify(0, "STOPPING=1");
    server.Stop();
    return;
  }
}

// Runs one background job under the stores' job lock and logs what happened.
void RunJob(JobLock& jobs, const char* name, const std::function<StatusOr<size_t>()>& job) {
  size_t count = 0;
  StatusOr<bool> ran = jobs.RunExclusive(name, [&]() -> Status {
    CV_ASSIGN_OR_RETURN(count, job());
    return Status::Ok();
  });
  if (!ran.ok()) {
    std::fprintf(stderr, "cardvault-server: %s: %s\n", name, ran.status().ToString().c_str());
  } else if (*ran) {
    std::fprintf(stderr, "cardvault-server: %s: ran, %zu removed\n", name, count);
  } else {
    std::fprintf(stderr, "cardvault-server: %s: skipped, another instance runs it\n", name);
  }
  std::fflush(stderr);
}

// The background jobs until Stop(): the purge every maintenance interval, the orphan sweep
// at start and daily.
class Maintenance {
 public:
  Maintenance(Env* env, const ServerConfig& config, IndexedBlobStore& store, JobLock& jobs)
      : env_(env), config_(config), store_(store), jobs_(jobs), thread_([this] { Loop(); }) {}
  ~Maintenance() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  int64_t NowUnix() const { return env_->NowUnixNanos() / 1000000000; }
  void Loop() {
    int64_t next_sweep = 0;
    std::unique_lock lock(mu_);
    while (!done_) {
      lock.unlock();
      if (NowUnix() >= next_sweep) {
        RunJob(jobs_, "orphan-sweep",
               [&] { return store_.SweepOrphans(NowUnix(), config_.orphan_min_age_seconds); });
        next_sweep = NowUnix() + kSweepIntervalSeconds;
      }
      RunJob(jobs_, "retention-purge", [&] { return store_.PurgeExpired(NowUnix()); });
      lock.lock();
      cv_.wait_for(lock, std::chrono::seconds(config_.maintenance_interval_seconds),
                   [&] { return done_; });
    }
  }

  Env* env_;
  const ServerConfig& config_;
  IndexedBlobStore& store_;
  JobLock& jobs_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;  // last: starts once everything above is set
};

// Blocks the signals HandleSignals waits for, in this thread and so in every thread it
// starts afterwards: call it before any thread starts.
sigset_t BlockServerSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

// Serves `server` until one of `signals` stops it.
Status ServeUntilStopped(BlobServer& server, const sigset_t& signals) {
  std::thread signal_thread([&] { HandleSignals(signals, server); });
  Status served = server.Serve();
  // Wake the signal thread if Serve() ended for another reason.
  pthread_kill(signal_thread.native_handle(), SIGTERM);
  signal_thread.join();
  return served;
}

}  // namespace

int ServeCommand(const ServerPaths& paths, const ServerCliHooks& hooks) {
  Env* env = Env::Default();
  const sigset_t signals = BlockServerSignals();
  // Files of older versions (or copied in) become the owner's only, like every new one.
  if (Status p = MakeDataDirPrivate(paths.data); !p.ok()) return FailCommand(p);
  // Shared by serving instances; `migrate` takes it exclusively while it copies the directory.
  auto lock = DataDirLock::Acquire(paths.data, DataDirLock::Mode::kServe);
  if (!lock.ok()) return FailCommand(lock.status());
  auto config = ServerConfig::Load(*env, paths.config_path());
  if (!config.ok()) return FailCommand(config.status());
  auto stores = OpenServerStores(env, paths.data, *config, StoresFor::kServe);
  if (!stores.ok()) return FailCommand(stores.status());
  IndexedBlobStore store(env, std::move(stores->index), std::move(stores->bytes),
                         BlobStoreOptions(*config));
  std::unique_ptr<BlobStore> decorated;
  if (hooks.decorate_store) decorated = hooks.decorate_store(store);
  auto server = BlobServer::New(*config, ResolveDataPath(paths.data, config->cert_file),
                                ResolveDataPath(paths.data, config->key_file),
                                decorated ? decorated.get() : &store, stores->tokens.get(), env,
                                stores->auth_backoff.get());
  if (!server.ok()) return FailCommand(server.status());
  auto port = (*server)->Bind(config->listen_host, config->port);
  if (!port.ok()) return FailCommand(port.status());
  std::fprintf(stderr, "cardvault-server: listening on %s:%d (index: %s, bytes: %s)\n",
               config->listen_host.c_str(), *port,
               config->uses_postgresql() ? "postgresql" : "sqlite", config->bytes.c_str());
  std::fflush(stderr);
  Status served;
  {
    Maintenance maintenance(env, *config, store, *stores->jobs);
    // systemd (Type=notify): the socket listens, so connections from now on are served.
    sd_notifyf(0, "READY=1\nSTATUS=listening on %s:%d", config->listen_host.c_str(), *port);
    served = ServeUntilStopped(**server, signals);
  }
  std::fprintf(stderr, "cardvault-server: stopped\n");
  return served.ok() ? 0 : FailCommand(served);
}

}  // namespace cardvault
