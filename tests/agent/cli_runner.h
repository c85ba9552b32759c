// Test helpers that drive the built cardvault binary as a user would, from a shell.
#ifndef CARDVAULT_TESTS_AGENT_CLI_RUNNER_H_
#define CARDVAULT_TESTS_AGENT_CLI_RUNNER_H_

#include <stdio.h>
#include <sys/wait.h>

#include <fstream>
#include <iterator>
#include <string>

namespace cardvault {

inline const std::string kCli = std::string(CARDVAULT_BINARY_DIR) + "/agent/cardvault";

struct CliResult {
  int code;  // the exit code, -1 if killed by a signal
  std::string output;
};

// Runs `cardvault ARGS` through the shell with stdin from /dev/null; `output` holds stdout,
// plus stderr if `with_stderr`.
inline CliResult RunCli(const std::string& args, bool with_stderr = true) {
  std::string cmd = kCli + " " + args + (with_stderr ? " 2>&1" : " 2>/dev/null") + " </dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

inline std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

}  // namespace cardvault

#endif  // CARDVAULT_TESTS_AGENT_CLI_RUNNER_H_
