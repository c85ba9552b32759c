// End to end with the real agent: cardvault-server over TLS, `cardvault run` as a child
// process, and TrayController (offscreen Qt) on the agent's socket: files uploaded show in
// the counts, pause and resume from the menu stop and restart uploads, and the tray follows
// the agent stopping and starting again.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <QApplication>
#include <QThread>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "agent/tray/tray_controller.h"
#include "tests/agent/tray/qt_test_util.h"
#include "tests/integration/process_util.h"
#include "tests/integration/server_process.h"

namespace cardvault {
namespace {

namespace fs = std::filesystem;
const std::string kCli = CARDVAULT_BINARY_DIR "/agent/cardvault";

class TrayAgentE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EnsureApp();
    char tmpl[] = "/tmp/cv-tray-e2e-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    vault_ = dir_ + "/vault";
    fs::create_directories(vault_);
    fs::create_directories(dir_ + "/run");
    ::chmod((dir_ + "/run").c_str(), 0700);
    env_ = {{"XDG_CONFIG_HOME", dir_ + "/config"},
            {"XDG_DATA_HOME", dir_ + "/data"},
            {"XDG_RUNTIME_DIR", dir_ + "/run"}};
    socket_ = dir_ + "/run/cardvault/agent.sock";
    server_ = std::make_unique<ServerProcess>(dir_);
    server_->Init();
    server_->Start();
    CommandResult key = RunCommand({kCli, "keygen", "-o", dir_ + "/card.key"});
    ASSERT_EQ(key.exit_code, 0) << key.output;
    CommandResult init =
        RunCommand({kCli, "init", "--vault", vault_, "--server", server_->url(), "--fingerprint",
                    server_->fingerprint(), "--token-file", server_->token_file(), "--recipient",
                    key.output.substr(0, key.output.find('\n'))},
                   env_);
    ASSERT_EQ(init.exit_code, 0) << init.output;
    const std::string cfg = dir_ + "/config/cardvault/config.json";
    nlohmann::json c = nlohmann::json::parse(ReadText(cfg));
    c["settle_delay_ms"] = 200;
    std::ofstream(cfg) << c.dump(2);
  }
  void TearDown() override {
    controller_.reset();
    agent_.reset();
    server_.reset();
    fs::remove_all(dir_);
  }

  void StartAgent() {
    agent_ = std::make_unique<ChildProcess>(std::vector<std::string>{kCli, "run"}, env_,
                                            dir_ + "/agent.log");
  }
  void Write(const std::string& name, const std::string& content) {
    std::ofstream(vault_ + "/" + name, std::ios::trunc) << content;
  }
  bool TooltipHas(const std::string& text, int timeout_ms = 20000) {
    return PumpUntil([&] { return controller_->view().tooltip.find(text) != std::string::npos; },
                     timeout_ms);
  }
  bool StateIs(TrayState s, int timeout_ms = 20000) {
    return PumpUntil([&] { return controller_->view().state == s; }, timeout_ms);
  }
  std::string Log() { return ReadText(dir_ + "/agent.log") + "\n" + controller_->view().tooltip; }

  std::string dir_, vault_, socket_;
  EnvVars env_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<ChildProcess> agent_;
  std::unique_ptr<TrayController> controller_;
};

TEST_F(TrayAgentE2eTest, FollowsTheRealAgentThroughUploadsPauseAndRestart) {
  TrayOptions options;
  options.status_interval_ms = 200;
  options.tick_ms = 50;
  controller_ = std::make_unique<TrayController>(NewSocketAgentLink(socket_, 2000), options);
  controller_->Start(/*show_icon=*/false);
  ASSERT_TRUE(StateIs(TrayState::kAgentNotRunning, 5000)) << controller_->view().tooltip;

  StartAgent();
  ASSERT_TRUE(StateIs(TrayState::kIdle)) << Log();
  EXPECT_EQ(controller_->FolderUrl().toLocalFile().toStdString(), vault_);

  Write("one.txt", "first secret");
  ASSERT_TRUE(TooltipHas("0 pending, 1 uploaded, 0 failed")) << Log();
  EXPECT_EQ(controller_->view().state, TrayState::kIdle);
  EXPECT_EQ(controller_->view().tooltip.find("Last upload: never"), std::string::npos);

  // Paused from the menu: a new file waits, and is uploaded once resumed.
  controller_->pause_action()->trigger();
  ASSERT_TRUE(StateIs(TrayState::kPaused)) << Log();
  EXPECT_EQ(controller_->pause_action()->text(), "Resume syncing");
  Write("two.txt", "second secret");
  ASSERT_TRUE(TooltipHas("1 pending, 1 uploaded")) << Log();
  EXPECT_EQ(controller_->view().state, TrayState::kPaused);
  controller_->pause_action()->trigger();
  ASSERT_TRUE(TooltipHas("0 pending, 2 uploaded, 0 failed")) << Log();
  EXPECT_EQ(controller_->view().state, TrayState::kIdle);

  // The agent stops (SIGTERM, as systemd does) and starts again.
  agent_->Signal(SIGTERM);
  ASSERT_EQ(agent_->Wait(20000), 0) << Log();
  ASSERT_TRUE(StateIs(TrayState::kAgentNotRunning)) << Log();
  EXPECT_FALSE(controller_->pause_action()->isEnabled());
  StartAgent();
  ASSERT_TRUE(StateIs(TrayState::kIdle)) << Log();
  ASSERT_TRUE(TooltipHas("2 uploaded")) << Log();

  // Sync now reaches the real agent, which accepts it.
  std::vector<QString> done;
  QObject::connect(
      controller_.get(), &TrayController::CommandDone,
      [&](const QString& cmd, bool ok) { done.push_back(cmd + (ok ? " ok" : " no")); });
  controller_->sync_action()->trigger();
  ASSERT_TRUE(PumpUntil([&] { return !done.empty(); }, 10000)) << Log();
  EXPECT_EQ(done, std::vector<QString>{"sync_now ok"});
}

}  // namespace
}  // namespace cardvault
