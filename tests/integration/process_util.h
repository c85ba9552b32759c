// Test helpers for driving the real binaries: run a command to completion, or start one in
// the background, with extra environment variables.
#ifndef CARDVAULT_TESTS_INTEGRATION_PROCESS_UTIL_H_
#define CARDVAULT_TESTS_INTEGRATION_PROCESS_UTIL_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace cardvault {

struct CommandResult {
  int exit_code = -1;      // 128+N when killed by signal N
  std::string output;      // stdout and stderr together
  double seconds = 0;      // wall time from fork to exit
  long peak_rss_kib = 0;   // the child's peak RSS (wait4's ru_maxrss)
  double cpu_seconds = 0;  // the child's user + system CPU time (wait4's rusage)
};

using EnvVars = std::map<std::string, std::string>;

// Runs argv[0] (looked up in PATH) with `env` added to this process's environment, to exit.
CommandResult RunCommand(const std::vector<std::string>& argv, const EnvVars& env = {},
                         const std::string& stdin_data = {});

// A background process; killed (SIGKILL) by the destructor if still running.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const EnvVars& env,
               const std::string& log_path);
  ~ChildProcess();
  int pid() const { return pid_; }
  void Signal(int sig);
  // Waits up to `timeout_ms`; returns the exit code (128+N for signal N) or -1 on timeout.
  int Wait(int timeout_ms);
  bool Running();

 private:
  int pid_ = -1;
  int status_ = -1;
};

// Polls `done` every 50 ms for up to `timeout_ms`.
bool WaitFor(const std::function<bool()>& done, int timeout_ms);

// A TCP port that was free a moment ago on 127.0.0.1.
int FreePort();

// The whole content of a file ("" if it cannot be read).
std::string ReadText(const std::string& path);

}  // namespace cardvault

#endif  // CARDVAULT_TESTS_INTEGRATION_PROCESS_UTIL_H_
