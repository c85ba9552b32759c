// SoftHsmTokens implementation: temporary token directories and helpers around the CLI tools.
#include "tests/core/pkcs11/softhsm_test_base.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace cardvault {

void SoftHsmTokens::SetUp() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "cv-softhsm-XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  dir_ = tmpl;
  std::filesystem::create_directory(token_dir());
  std::ofstream conf(dir_ + "/softhsm2.conf");
  conf << "directories.tokendir = " << token_dir() << "\n"
       << "objectstore.backend = file\n"
       << "log.level = ERROR\n";
  conf.close();
  setenv("SOFTHSM2_CONF", (dir_ + "/softhsm2.conf").c_str(), 1);
  unsetenv("PKCS11SPY");
  unsetenv("PKCS11SPY_OUTPUT");
}

void SoftHsmTokens::TearDown() {
  unsetenv("PKCS11SPY");
  unsetenv("PKCS11SPY_OUTPUT");
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

int SoftHsmTokens::Run(const std::string& command, std::string* output) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return -1;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) {
    if (output != nullptr) output->append(buf, n);
  }
  int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string SoftHsmTokens::InitToken(const std::string& label, const std::string& pin) {
  std::string out;
  int rc = Run("softhsm2-util --init-token --free --label '" + label + "' --pin '" + pin +
                   "' --so-pin " + kSoPin + " 2>&1",
               &out);
  EXPECT_EQ(rc, 0) << out;
  // softhsm2-util does not print the serial; read it back.
  std::string list;
  Run("softhsm2-util --show-slots 2>/dev/null", &list);
  std::istringstream lines(list);
  std::string line, serial;
  auto value_of = [](const std::string& l) {
    std::string v = l.substr(l.find(':') + 1);
    v.erase(0, v.find_first_not_of(' '));
    v.erase(v.find_last_not_of(" \r") + 1);
    return v;
  };
  // Each token block lists "Serial number:" before "Label:".
  while (std::getline(lines, line)) {
    if (line.find("Serial number:") != std::string::npos) serial = value_of(line);
    if (line.find("Label:") != std::string::npos && value_of(line) == label) return serial;
  }
  ADD_FAILURE() << "token " << label << " not listed:\n" << list;
  return {};
}

void SoftHsmTokens::AppendConfig(const std::string& line) {
  std::ofstream conf(dir_ + "/softhsm2.conf", std::ios::app);
  conf << line << "\n";
}

void SoftHsmTokens::EnableSpy() {
  setenv("PKCS11SPY", kSoftHsmModule, 1);
  setenv("PKCS11SPY_OUTPUT", spy_log().c_str(), 1);
}

int SoftHsmTokens::CountSpyCalls(const std::string& call) const {
  std::ifstream log(spy_log());
  std::string line;
  int count = 0;
  while (std::getline(log, line)) {
    // Call lines look like "7: C_Login" (sometimes followed by a timestamp or spaces).
    size_t at = line.find(": " + call);
    if (at == std::string::npos) continue;
    size_t end = at + 2 + call.size();
    if (end == line.size() || line[end] == ' ' || line[end] == '\r') ++count;
  }
  return count;
}

}  // namespace cardvault
