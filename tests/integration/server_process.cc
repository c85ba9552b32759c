// ServerProcess implementation.
#include "tests/integration/server_process.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>

namespace cardvault {
namespace {

const std::string kServer = std::string(CARDVAULT_BINARY_DIR) + "/api/cardvault-server";

void EditConfig(const std::string& path, const std::function<void(nlohmann::json&)>& edit) {
  nlohmann::json config = nlohmann::json::parse(ReadText(path));
  edit(config);
  std::ofstream(path) << config.dump(2);
}

}  // namespace

void ServerProcess::Init() {
  CommandResult init = RunCommand({kServer, "--data", data_dir(), "init"});
  ASSERT_EQ(init.exit_code, 0) << init.output;
  size_t at = init.output.find("fingerprint: ");
  ASSERT_NE(at, std::string::npos) << init.output;
  fingerprint_ = init.output.substr(at + 13, 64);
  port_ = FreePort();
  EditConfig(data_dir() + "/config.json", [&](nlohmann::json& c) {
    c["port"] = port_;
    c["access_log"] = false;
  });
  ASSERT_EQ(RunCommand({kServer, "--data", data_dir(), "user", "add", "alice"}).exit_code, 0);
  CommandResult token = RunCommand({kServer, "--data", data_dir(), "token", "issue", "alice"});
  ASSERT_EQ(token.exit_code, 0) << token.output;
  at = token.output.find("cvt_");
  ASSERT_NE(at, std::string::npos) << token.output;
  token_ = token.output.substr(at, token.output.find_first_of(" \n", at) - at);
  std::ofstream(token_file()) << token_ << "\n";
  ::chmod(token_file().c_str(), 0600);
}

void ServerProcess::SetAccessLog(bool on) {
  EditConfig(data_dir() + "/config.json", [on](nlohmann::json& c) { c["access_log"] = on; });
}

void ServerProcess::Start(const EnvVars& env) {
  process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{kServer, "--data", data_dir(), "serve"}, env, log_file());
  ASSERT_TRUE(WaitFor(
      [&] {
        auto c = Client();
        return c != nullptr && c->Health().ok();
      },
      10000))
      << ReadText(log_file());
}

std::unique_ptr<RemoteStore> ServerProcess::Client() const {
  RemoteStoreOptions o;
  o.port = port_;
  o.pinned_sha256 = fingerprint_;
  o.token = SecretData::CopyFrom(token_);
  auto c = RemoteStore::New(std::move(o));
  return c.ok() ? std::move(*c) : nullptr;
}

}  // namespace cardvault
