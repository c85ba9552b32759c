// ServerProcess implementation.
#include "tests/integration/server_process.h"

#include <gtest/gtest.h>

namespace cardvault {

void ServerProcess::Init() {
  Status init = server_.Init();
  ASSERT_TRUE(init.ok()) << init.ToString();
  auto token = server_.AddUser("alice", token_file());
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  token_ = *token;
}

void ServerProcess::SetAccessLog(bool on) {
  Status s = server_.SetConfig(on ? R"({"access_log": true})" : R"({"access_log": false})");
  ASSERT_TRUE(s.ok()) << s.ToString();
}

void ServerProcess::Start(const EnvVars& env, const std::vector<std::string>& server) {
  Status s = server_.Start(env, server);
  ASSERT_TRUE(s.ok()) << s.ToString();
}

std::unique_ptr<RemoteStore> ServerProcess::Client() const {
  auto c = server_.Client(token_);
  return c.ok() ? std::move(*c) : nullptr;
}

}  // namespace cardvault
