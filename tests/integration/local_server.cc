// LocalServer implementation: `cardvault-server init`, config edits, `user add`, `token
// issue`, `serve`.
#include "tests/integration/local_server.h"

#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace cardvault {
namespace {

const std::string kServer = std::string(CARDVAULT_BINARY_DIR) + "/api/cardvault-server";

// The text from `at` to the next space or newline (or to the end).
std::string Word(const std::string& text, size_t at) {
  return text.substr(at, text.find_first_of(" \n", at) - at);
}

}  // namespace

Status LocalServer::Init(const std::string& extra_config) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  CommandResult init = RunCommand({kServer, "--data", data_dir(), "init"});
  const size_t at = init.output.find("fingerprint: ");
  if (init.exit_code != 0 || at == std::string::npos) {
    return IoError("cardvault-server init failed: " + init.output);
  }
  fingerprint_ = init.output.substr(at + 13, 64);
  port_ = FreePort();
  CV_RETURN_IF_ERROR(
      SetConfig(R"({"port": )" + std::to_string(port_) + R"(, "access_log": false})"));
  return extra_config.empty() ? Status::Ok() : SetConfig(extra_config);
}

Status LocalServer::SetConfig(const std::string& json_object) {
  const std::string path = data_dir() + "/config.json";
  nlohmann::json config = nlohmann::json::parse(ReadText(path), nullptr, false);
  nlohmann::json edit = nlohmann::json::parse(json_object, nullptr, false);
  if (!config.is_object() || !edit.is_object()) {
    return InvalidArgumentError("cannot edit " + path + " with " + json_object);
  }
  config.update(edit);
  std::ofstream(path) << config.dump(2);
  return Status::Ok();
}

StatusOr<std::string> LocalServer::AddUser(const std::string& user, const std::string& token_file) {
  CommandResult add = RunCommand({kServer, "--data", data_dir(), "user", "add", user});
  if (add.exit_code != 0) return IoError("cardvault-server user add failed: " + add.output);
  CommandResult issue = RunCommand({kServer, "--data", data_dir(), "token", "issue", user});
  const size_t at = issue.output.find("cvt_");
  if (issue.exit_code != 0 || at == std::string::npos) {
    return IoError("cardvault-server token issue failed: " + issue.output);
  }
  const std::string token = Word(issue.output, at);
  std::ofstream(token_file) << token << "\n";
  ::chmod(token_file.c_str(), 0600);
  return token;
}

Status LocalServer::Start(const EnvVars& env, const std::vector<std::string>& server) {
  std::vector<std::string> command = server.empty() ? std::vector<std::string>{kServer} : server;
  for (const char* arg : {"--data", "", "serve"}) command.push_back(arg);
  command[command.size() - 2] = data_dir();
  process_ = std::make_unique<ChildProcess>(std::move(command), env, log_file());
  const bool up = WaitFor(
      [&] {
        auto c = Client("");
        return c.ok() && (*c)->Health().ok();
      },
      10000);
  return up ? Status::Ok() : UnavailableError("the server did not start: " + ReadText(log_file()));
}

void LocalServer::Stop() {
  if (process_ == nullptr || !process_->Running()) return;
  process_->Signal(SIGTERM);
  process_->Wait(30000);
}

StatusOr<std::unique_ptr<RemoteStore>> LocalServer::Client(const std::string& token) const {
  RemoteStoreOptions o;
  o.port = port_;
  o.pinned_sha256 = fingerprint_;
  o.token = SecretData::CopyFrom(token);
  o.read_timeout_seconds = 300;
  o.write_timeout_seconds = 300;
  return RemoteStore::New(std::move(o));
}

}  // namespace cardvault
