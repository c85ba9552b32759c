// `cardvault doctor` with the real binaries: a cardvault-server child process over TLS on
// 127.0.0.1, a SoftHSM2 card (token directory per test) holding the configured key, and a
// running agent. Healthy, every check is ok; each fault names its problem and exits 1.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/core/pkcs11/softhsm_test_base.h"
#include "tests/integration/process_util.h"
#include "tests/integration/server_process.h"
#include "tests/integration/soft_card.h"

namespace cardvault {
namespace {

namespace fs = std::filesystem;
const std::string kBin = CARDVAULT_BINARY_DIR;
const std::string kCli = kBin + "/agent/cardvault";

class DoctorE2eTest : public SoftHsmTest {
 protected:
  void SetUp() override {
    SoftHsmTest::SetUp();
    pin_file_ = dir() + "/pin";
    std::ofstream(pin_file_) << kUserPin << "\n";
    ::chmod(pin_file_.c_str(), 0600);
    InitToken("Card A");
    auto recipient = CreateCardKey(kCli, "Card A", pin_file_);
    ASSERT_TRUE(recipient.ok()) << recipient.status().ToString();
    server_ = std::make_unique<ServerProcess>(dir());
    server_->Init();
    server_->Start();
    vault_ = dir() + "/vault";
    fs::create_directories(vault_);
    fs::create_directories(dir() + "/run");
    ::chmod((dir() + "/run").c_str(), 0700);
    env_ = {{"XDG_CONFIG_HOME", dir() + "/config"},
            {"XDG_DATA_HOME", dir() + "/data"},
            {"XDG_RUNTIME_DIR", dir() + "/run"},
            {"PINENTRY_PROGRAM", dir() + "/no-pinentry-here"}};
    CommandResult init =
        Cli({"init", "--vault", vault_, "--server", server_->url(), "--fingerprint",
             server_->fingerprint(), "--token-file", server_->token_file(), "--recipient",
             *recipient, "--module", kSoftHsmModule, "--pin-file", pin_file_});
    ASSERT_EQ(init.exit_code, 0) << init.output;
    StartAgent();
  }

  void TearDown() override {
    agent_.reset();
    server_.reset();
    SoftHsmTest::TearDown();
  }

  CommandResult Cli(std::vector<std::string> args) {
    args.insert(args.begin(), kCli);
    return RunCommand(args, env_);
  }

  // Runs `cardvault --config CONFIG doctor --json`; returns the exit code and the checks.
  std::pair<int, std::map<std::string, nlohmann::json>> Doctor() {
    CommandResult r = Cli({"doctor", "--json"});
    std::map<std::string, nlohmann::json> checks;
    const nlohmann::json j = nlohmann::json::parse(r.output, nullptr, false);
    EXPECT_TRUE(j.is_array()) << r.output;
    if (j.is_array()) {
      for (const nlohmann::json& c : j) checks[c.at("check").get<std::string>()] = c;
    }
    return {r.exit_code, checks};
  }

  void StartAgent() {
    std::vector<std::string> argv = {kCli, "run"};
    EnvVars env = env_;
    agent_ = std::make_unique<ChildProcess>(argv, env, dir() + "/agent.log");
    const std::string socket = dir() + "/run/cardvault/agent.sock";
    ASSERT_TRUE(WaitFor([&] { return fs::exists(socket); }, 15000))
        << ReadText(dir() + "/agent.log");
  }

  void SetConfig(const std::string& key, const nlohmann::json& value) {
    nlohmann::json c = nlohmann::json::parse(ReadText(config_path()));
    c[key] = value;
    std::ofstream(config_path()) << c.dump(2);
  }

  std::string config_path() const { return dir() + "/config/cardvault/config.json"; }

  std::string pin_file_, vault_;
  EnvVars env_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<ChildProcess> agent_;
};

// The status of `check`, with its detail and fix, for failure messages.
std::string Line(const std::map<std::string, nlohmann::json>& checks, const std::string& check) {
  auto it = checks.find(check);
  return it == checks.end() ? "(missing " + check + ")" : it->second.dump();
}

std::string Status(const std::map<std::string, nlohmann::json>& checks, const std::string& check) {
  auto it = checks.find(check);
  return it == checks.end() ? "missing" : it->second.at("status").get<std::string>();
}

TEST_F(DoctorE2eTest, HealthySetupIsAllOk) {
  CommandResult agent_ready = Cli({"status"});
  ASSERT_EQ(agent_ready.exit_code, 0) << agent_ready.output;
  auto [code, checks] = Doctor();
  for (const char* c : {"config", "token file", "vault folder", "agent", "server", "token accepted",
                        "clock", "card", "card PIN", "disk space"}) {
    EXPECT_EQ(Status(checks, c), "ok") << Line(checks, c);
  }
  // The running agent created the state database; doctor checked it read-only.
  EXPECT_EQ(Status(checks, "state database"), "ok") << Line(checks, "state database");
  EXPECT_EQ(code, 0);
  CommandResult text = Cli({"doctor"});
  EXPECT_EQ(text.exit_code, 0) << text.output;
  EXPECT_EQ(text.output.find("PROBLEM"), std::string::npos) << text.output;
}

TEST_F(DoctorE2eTest, ServerDownIsNamed) {
  server_->process().Signal(SIGTERM);
  ASSERT_EQ(server_->process().Wait(15000), 0);
  auto [code, checks] = Doctor();
  EXPECT_EQ(code, 1);
  EXPECT_EQ(Status(checks, "server"), "PROBLEM") << Line(checks, "server");
  EXPECT_NE(checks["server"]["detail"].get<std::string>().find("connection refused"),
            std::string::npos)
      << Line(checks, "server");
  EXPECT_EQ(Status(checks, "token accepted"), "skipped");
  EXPECT_EQ(Status(checks, "clock"), "skipped");
}

TEST_F(DoctorE2eTest, WrongFingerprintIsNamed) {
  SetConfig("server_fingerprint", std::string(64, 'a'));
  auto [code, checks] = Doctor();
  EXPECT_EQ(code, 1);
  EXPECT_EQ(Status(checks, "server"), "PROBLEM") << Line(checks, "server");
  EXPECT_NE(checks["server"]["detail"].get<std::string>().find("wrong fingerprint"),
            std::string::npos)
      << Line(checks, "server");
}

TEST_F(DoctorE2eTest, RevokedTokenIsNamed) {
  CommandResult revoke = RunCommand(
      {kBin + "/api/cardvault-server", "--data", server_->data_dir(), "token", "revoke", "1"});
  ASSERT_EQ(revoke.exit_code, 0) << revoke.output;
  auto [code, checks] = Doctor();
  EXPECT_EQ(code, 1);
  EXPECT_EQ(Status(checks, "server"), "ok") << Line(checks, "server");
  EXPECT_EQ(Status(checks, "token accepted"), "PROBLEM") << Line(checks, "token accepted");
  EXPECT_NE(checks["token accepted"]["detail"].get<std::string>().find("revoked"),
            std::string::npos)
      << Line(checks, "token accepted");
}

TEST_F(DoctorE2eTest, CardAbsentIsNamed) {
  agent_.reset();  // the agent keeps nothing of the card open, but stop it to be sure
  fs::remove_all(token_dir());
  auto [code, checks] = Doctor();
  EXPECT_EQ(code, 1);
  EXPECT_EQ(Status(checks, "card"), "PROBLEM") << Line(checks, "card");
  EXPECT_EQ(Status(checks, "card PIN"), "skipped") << Line(checks, "card PIN");
}

TEST_F(DoctorE2eTest, UnreadableConfigIsNamed) {
  ::chmod(config_path().c_str(), 0);
  auto [code, checks] = Doctor();
  EXPECT_EQ(code, 1);
  EXPECT_EQ(Status(checks, "config"), "PROBLEM") << Line(checks, "config");
  EXPECT_EQ(Status(checks, "server"), "skipped") << Line(checks, "server");
}

TEST_F(DoctorE2eTest, InvalidJsonConfigIsNamed) {
  std::ofstream(config_path(), std::ios::trunc) << "{ \"vault_dir\": ";
  auto [code, checks] = Doctor();
  EXPECT_EQ(code, 1);
  EXPECT_EQ(Status(checks, "config"), "PROBLEM") << Line(checks, "config");
}

}  // namespace
}  // namespace cardvault
