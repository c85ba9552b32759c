// Shared benchmark helpers: timing, child processes with peak RSS, table rows and test data.
// A real server for a benchmark: LocalServer (tests/integration/local_server.h).
#ifndef CARDVAULT_BENCH_BENCH_UTIL_H_
#define CARDVAULT_BENCH_BENCH_UTIL_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/status_or.h"
#include "tests/integration/process_util.h"

namespace cardvault {

// The name printed before fatal errors ("format_bench: ...").
void SetBenchName(const std::string& name);
// Prints "NAME: what" to stderr and exits 1 unless `ok`, first killing (SIGKILL) the
// background processes given to KillOnFailure (std::exit runs no destructors).
void Check(bool ok, const std::string& what);
void KillOnFailure(int pid);
void ForgetOnFailure(int pid);  // once the process is waited for (its pid may be reused)
inline void Must(const Status& s, const std::string& what) {
  Check(s.ok(), what + ": " + s.ToString());
}

double Seconds(const std::function<void()>& f);
// Median of `runs` timings.
double Median(int runs, const std::function<void()>& f);
inline double Mbps(uint64_t bytes, double seconds) { return bytes / seconds / 1e6; }

// A shell command's stdout (popen).
std::string Capture(const std::string& cmd);

// Runs argv (RunCommand: output, seconds, peak RSS) and exits with its output if it fails.
CommandResult RunOrDie(const std::vector<std::string>& argv, const EnvVars& env = {});

// A running process's peak RSS (VmHWM), or -1.
long PeakRssKib(int pid);
// User + system CPU seconds a running process has used so far (-1 if it cannot be read).
double CpuSeconds(int pid);

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

// The value of `v`, or exits with `what` and its status.
template <typename T>
T Must(StatusOr<T> v, const std::string& what) {
  Must(v.status(), what);
  return std::move(*v);
}

}  // namespace cardvault

#endif  // CARDVAULT_BENCH_BENCH_UTIL_H_
