// Shared benchmark helpers: timing, child processes with peak RSS, table rows, test data and a
// real cardvault-server child process on 127.0.0.1 with users and tokens.
#ifndef CARDVAULT_BENCH_BENCH_UTIL_H_
#define CARDVAULT_BENCH_BENCH_UTIL_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "api/remote_store.h"
#include "tests/integration/process_util.h"

namespace cardvault {

// The name printed before fatal errors ("format_bench: ...").
void SetBenchName(const std::string& name);
// Prints "NAME: what" to stderr and exits 1 unless `ok`.
void Check(bool ok, const std::string& what);
inline void Must(const Status& s, const std::string& what) {
  Check(s.ok(), what + ": " + s.ToString());
}

double Seconds(const std::function<void()>& f);
// Median of `runs` timings.
double Median(int runs, const std::function<void()>& f);
inline double Mbps(uint64_t bytes, double seconds) { return bytes / seconds / 1e6; }

// A shell command's stdout (popen).
std::string Capture(const std::string& cmd);

// A child process run to completion, with its wall time and peak RSS (wait4's ru_maxrss).
struct Measured {
  double seconds = 0;
  long peak_rss_kib = 0;
  int exit_code = -1;  // 128+N when killed by signal N
  std::string output;  // stdout and stderr together (the log file's content)
};
// Runs argv with `env` added; stdout and stderr go to `log_path` (or /dev/null if empty).
Measured RunMeasured(const std::vector<std::string>& argv, const EnvVars& env = {},
                     const std::string& log_path = {});
// As RunMeasured, and exits with the output if the command fails.
Measured RunOrDie(const std::vector<std::string>& argv, const EnvVars& env = {},
                  const std::string& log_path = {});

// A running process's peak RSS (VmHWM), or -1.
long PeakRssKib(int pid);

// "  what                      123 MB/s    1.24x of curl   note"
void Row(const std::string& what, double value, const std::string& unit, const std::string& vs,
         double base, const std::string& note = {});
// "(target >= 0.5: met)" or "(target >= 0.5: MISSED)".
std::string Target(bool met, const std::string& what);

// mkdtemp under `base`: "BASE/PREFIX-XXXXXX".
std::string MakeTempDir(const std::string& base, const std::string& prefix);

// Deterministic pseudo-random bytes (xorshift64), continuing from `*state` (non-zero).
void FillPseudoRandom(uint8_t* data, size_t size, uint64_t* state);
// Writes `size` pseudo-random bytes to `path` in 1 MiB blocks.
void WritePseudoRandomFile(const std::string& path, uint64_t size, uint64_t seed);
// Lowercase hex SHA-256 of a file's content.
std::string Sha256OfFile(const std::string& path);

// A real cardvault-server child process on a free port of 127.0.0.1, with its self-signed
// certificate (pinned by fingerprint) and any number of users, each with one device token.
class BenchServer {
 public:
  // `dir` holds the data directory, the token files and the log.
  explicit BenchServer(std::string dir) : dir_(std::move(dir)) {}
  ~BenchServer();

  // Creates the data directory: a free port, no access log, then `config[key] = value` pairs
  // of `extra_config` (a JSON object's text, may be empty).
  void Init(const std::string& extra_config = {});
  // Adds a user and issues a token; writes it to token_file(user) (mode 0600) and returns it.
  std::string AddUser(const std::string& user);
  // Serves and waits until /v1/health answers.
  void Start();
  void Stop();

  std::unique_ptr<RemoteStore> Client(const std::string& token) const;
  int pid() const { return process_->pid(); }
  int port() const { return port_; }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  const std::string& fingerprint() const { return fingerprint_; }
  std::string data_dir() const { return dir_ + "/server"; }
  std::string cert_file() const { return data_dir() + "/tls/cert.pem"; }
  std::string token_file(const std::string& user) const { return dir_ + "/token-" + user; }

 private:
  std::string dir_;
  std::string fingerprint_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace cardvault

#endif  // CARDVAULT_BENCH_BENCH_UTIL_H_
