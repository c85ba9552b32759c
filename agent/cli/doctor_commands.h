// `cardvault doctor`: checks what a help desk asks first (config, token, state database,
// vault folder and agent, server, clock, card and PIN, disk space) and says what to do.
#ifndef CARDVAULT_AGENT_CLI_DOCTOR_COMMANDS_H_
#define CARDVAULT_AGENT_CLI_DOCTOR_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "core/env.h"

namespace cardvault {

// Below this much free space where the spool lives, `disk space` is a problem.
inline constexpr uint64_t kDoctorMinFreeBytes = uint64_t{1} << 30;  // 1 GiB
// A clock further than this from the server's is a problem.
inline constexpr int64_t kDoctorMaxClockSkewSeconds = 60;

// One line of the report. `status` is "ok", "PROBLEM" (then `fix` says what to do) or
// "skipped" (then `detail` says why).
struct DoctorCheck {
  std::string check;
  std::string status;
  std::string detail;
  std::string fix;
};

// Runs every check against the config at `config_path`. MUST NOT create or change any state
// (the state database is opened read-only), MUST NOT ask for a PIN or show UI, and every
// network or socket call is bounded by a timeout.
std::vector<DoctorCheck> RunDoctor(Env& env, const std::string& config_path);

// Adds `doctor` to `app`; `config_flag` is the global --config value.
void AddDoctorCommand(CLI::App& app, const std::string& config_flag, int& exit_code);

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_CLI_DOCTOR_COMMANDS_H_
