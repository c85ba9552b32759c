// Soft card helpers (soft_card.h).
#include "tests/integration/soft_card.h"

#include <filesystem>
#include <fstream>

namespace cardvault {

std::string WriteSoftHsmConf(const std::string& dir) {
  std::filesystem::create_directories(dir + "/tokens");
  std::ofstream(dir + "/softhsm2.conf") << "directories.tokendir = " << dir << "/tokens\n"
                                        << "objectstore.backend = file\nlog.level = ERROR\n";
  return dir + "/softhsm2.conf";
}

StatusOr<std::string> CreateCardKey(const std::string& cli, const std::string& label,
                                    const std::string& pin_file, const EnvVars& env) {
  CommandResult r = RunCommand(
      {cli, "card", "init", "--module", kSoftHsm2Module, "--token", label, "--pin-file", pin_file},
      env);
  const size_t at = r.output.find("cv-p11-");
  if (r.exit_code != 0 || at == std::string::npos) {
    return IoError("cardvault card init failed: " + r.output);
  }
  return r.output.substr(at, r.output.find_first_of(" \n", at) - at);
}

}  // namespace cardvault
