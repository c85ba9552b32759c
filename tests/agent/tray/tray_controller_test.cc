// Tests for TrayController against a real ControlServer on a real socket (offscreen Qt):
// state and tooltip follow the agent, the menu sends pause / resume / sync now, "agent not
// running" comes and goes with the socket, failures notify and nothing else does.
#include "agent/tray/tray_controller.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <QApplication>
#include <QThread>
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <mutex>

#include "agent/control/control_server.h"
#include "agent/tray/tray_icons.h"
#include "tests/agent/tray/qt_test_util.h"

namespace cardvault {
namespace {

class TrayControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EnsureApp();
    char tmpl[] = "/tmp/cv-tray-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    path_ = dir_ + "/run/agent.sock";
  }
  void TearDown() override {
    controller_.reset();
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A stand-in agent on the real control channel: pause and resume change its state as
  // the daemon's do.
  void StartServer() {
    auto s = ControlServer::Start(path_, [this](const std::string& cmd) -> StatusOr<std::string> {
      std::lock_guard<std::mutex> lock(mu_);
      commands_.push_back(cmd);
      if (cmd == refuse_) return UnavailableError("the card is busy", "busy");
      if (cmd == "status") {
        return R"({"state":")" + std::string(paused_ ? "paused" : "running") + R"(","pending":)" +
               std::to_string(pending_) +
               R"(,"uploaded":41,"failed":0,"last_success_ns":0,"vault_dir":")" + dir_ +
               R"(","last_error":""})";
      }
      if (cmd == "pause") paused_ = true;
      if (cmd == "resume") paused_ = false;
      if (cmd == "pause" || cmd == "resume" || cmd == "sync_now") return std::string("{}");
      return InvalidArgumentError("unknown command " + cmd, "unknown_command");
    });
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(*s);
  }

  void StartController(bool start = true) {
    TrayOptions options;
    options.status_interval_ms = 100;
    options.tick_ms = 20;
    options.failure_notice_gap_ms = failure_gap_ms_;
    controller_ = std::make_unique<TrayController>(NewSocketAgentLink(path_, 1000), options);
    QObject::connect(controller_.get(), &TrayController::Notified,
                     [this](const QString& title, const QString& message) {
                       notifications_.push_back(title + " | " + message);
                     });
    if (start) controller_->Start(/*show_icon=*/false);
  }

  bool WaitForState(TrayState s) {
    return PumpUntil([&] { return controller_->view().state == s; });
  }
  size_t CountCommand(const std::string& cmd) {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<size_t>(std::count(commands_.begin(), commands_.end(), cmd));
  }
  void SetPending(int n) {
    std::lock_guard<std::mutex> lock(mu_);
    pending_ = n;
  }

  std::string dir_, path_;
  std::mutex mu_;
  std::vector<std::string> commands_;
  bool paused_ = false;
  int pending_ = 0;
  std::string refuse_;
  int failure_gap_ms_ = 10000;
  std::unique_ptr<ControlServer> server_;
  std::unique_ptr<TrayController> controller_;
  std::vector<QString> notifications_;
};

TEST_F(TrayControllerTest, StateTooltipAndIconFollowTheAgent) {
  SetPending(3);
  StartServer();
  StartController();
  ASSERT_TRUE(WaitForState(TrayState::kSyncing));
  EXPECT_EQ(controller_->status_action()->text(), "Syncing: 3 pending");
  EXPECT_TRUE(controller_->icon().toolTip().contains("3 pending, 41 uploaded, 0 failed"))
      << controller_->icon().toolTip().toStdString();
  EXPECT_EQ(controller_->icon().icon().pixmap(32, 32).toImage().convertToFormat(
                QImage::Format_ARGB32_Premultiplied),
            TrayIconImage(TrayState::kSyncing, 32));

  SetPending(0);
  ASSERT_TRUE(WaitForState(TrayState::kIdle));
  EXPECT_EQ(controller_->status_action()->text(), "Up to date");
  EXPECT_EQ(controller_->icon().icon().pixmap(32, 32).toImage().convertToFormat(
                QImage::Format_ARGB32_Premultiplied),
            TrayIconImage(TrayState::kIdle, 32));
  EXPECT_EQ(controller_->FolderUrl(), QUrl::fromLocalFile(QString::fromStdString(dir_)));
  EXPECT_TRUE(controller_->open_folder_action()->isEnabled());
  EXPECT_TRUE(notifications_.empty());
}

TEST_F(TrayControllerTest, PauseAndResumeSendTheirCommandsAndTheMenuFollows) {
  StartServer();
  StartController();
  ASSERT_TRUE(WaitForState(TrayState::kIdle));
  EXPECT_EQ(controller_->pause_action()->text(), "Pause syncing");
  controller_->pause_action()->trigger();
  ASSERT_TRUE(WaitForState(TrayState::kPaused));
  EXPECT_EQ(CountCommand("pause"), 1u);
  EXPECT_EQ(controller_->pause_action()->text(), "Resume syncing");
  EXPECT_FALSE(controller_->sync_action()->isEnabled());

  controller_->pause_action()->trigger();
  ASSERT_TRUE(WaitForState(TrayState::kIdle));
  EXPECT_EQ(CountCommand("resume"), 1u);
  EXPECT_EQ(CountCommand("pause"), 1u);
  EXPECT_EQ(controller_->pause_action()->text(), "Pause syncing");
}

TEST_F(TrayControllerTest, SyncNowSendsSyncNow) {
  StartServer();
  StartController();
  ASSERT_TRUE(WaitForState(TrayState::kIdle));
  std::vector<QString> done;
  QObject::connect(
      controller_.get(), &TrayController::CommandDone,
      [&](const QString& cmd, bool ok) { done.push_back(cmd + (ok ? " ok" : " no")); });
  EXPECT_EQ(CountCommand("sync_now"), 0u);
  controller_->sync_action()->trigger();
  ASSERT_TRUE(PumpUntil([&] { return !done.empty(); }));
  EXPECT_EQ(done, std::vector<QString>{"sync_now ok"});
  EXPECT_EQ(CountCommand("sync_now"), 1u);
}

TEST_F(TrayControllerTest, AgentNotRunningAppearsAndRecoversWithTheSocket) {
  StartController();
  ASSERT_TRUE(PumpUntil([&] { return !controller_->view().status_line.empty(); }));
  EXPECT_EQ(controller_->view().state, TrayState::kAgentNotRunning);
  EXPECT_EQ(controller_->status_action()->text(), "Agent not running");
  EXPECT_FALSE(controller_->pause_action()->isEnabled());
  EXPECT_FALSE(controller_->sync_action()->isEnabled());
  EXPECT_FALSE(controller_->open_folder_action()->isEnabled());

  StartServer();
  ASSERT_TRUE(WaitForState(TrayState::kIdle));
  EXPECT_TRUE(controller_->pause_action()->isEnabled());

  server_.reset();  // the agent stops
  ASSERT_TRUE(WaitForState(TrayState::kAgentNotRunning));
  EXPECT_TRUE(controller_->icon().toolTip().contains("agent not running"));

  StartServer();  // and comes back
  ASSERT_TRUE(WaitForState(TrayState::kIdle));
  EXPECT_TRUE(notifications_.empty()) << "the agent coming and going is not worth a popup";
}

TEST_F(TrayControllerTest, AFailedFileNotifiesOnceAndOtherEventsDoNot) {
  StartServer();
  StartController();
  ASSERT_TRUE(WaitForState(TrayState::kIdle));  // subscribed before the first status
  server_->Publish(R"({"event":"file_queued","path":"notes.txt"})");
  server_->Publish(R"({"event":"file_uploaded","path":"notes.txt"})");
  server_->Publish(R"({"event":"file_failed","path":"a/b.txt","detail":"permission denied"})");
  ASSERT_TRUE(PumpUntil([&] { return !notifications_.empty(); }));
  PumpUntil([] { return false; }, 300);  // anything else would have arrived by now
  ASSERT_EQ(notifications_.size(), 1u);
  EXPECT_TRUE(notifications_[0].contains("a/b.txt: permission denied"))
      << notifications_[0].toStdString();
}

TEST_F(TrayControllerTest, AFailureBurstIsOneMoreNotificationWithTheCount) {
  failure_gap_ms_ = 1000;
  StartServer();
  StartController();
  ASSERT_TRUE(WaitForState(TrayState::kIdle));
  server_->Publish(R"({"event":"file_failed","path":"one","detail":"server said 500"})");
  ASSERT_TRUE(PumpUntil([&] { return notifications_.size() == 1; }));
  EXPECT_TRUE(notifications_[0].contains("one: server said 500"));
  // Three more in separate batches, within the gap: held back, then one notice for all.
  for (const char* name : {"two", "three", "four"}) {
    server_->Publish(std::string(R"({"event":"file_failed","path":")") + name + R"("})");
    PumpUntil([] { return false; }, 60);
  }
  EXPECT_EQ(notifications_.size(), 1u);
  ASSERT_TRUE(PumpUntil([&] { return notifications_.size() == 2; }));
  EXPECT_TRUE(notifications_[1].contains("3 files failed, first two"))
      << notifications_[1].toStdString();
  PumpUntil([] { return false; }, 1200);
  EXPECT_EQ(notifications_.size(), 2u);
}

TEST_F(TrayControllerTest, ARefusedCommandNotifiesWithTheAgentsMessage) {
  refuse_ = "pause";
  StartServer();
  StartController();
  ASSERT_TRUE(WaitForState(TrayState::kIdle));
  controller_->pause_action()->trigger();
  ASSERT_TRUE(PumpUntil([&] { return !notifications_.empty(); }));
  EXPECT_TRUE(notifications_[0].contains("pause failed")) << notifications_[0].toStdString();
  EXPECT_TRUE(notifications_[0].contains("the card is busy")) << notifications_[0].toStdString();
  EXPECT_EQ(controller_->view().state, TrayState::kIdle);
}

TEST_F(TrayControllerTest, NothingTalksToTheAgentOrShowsBeforeStart) {
  StartServer();
  StartController(/*start=*/false);
  PumpUntil([] { return false; }, 300);
  EXPECT_EQ(server_->client_count(), 0u);
  EXPECT_EQ(CountCommand("status"), 0u);
  EXPECT_FALSE(controller_->icon().isVisible());
  EXPECT_EQ(controller_->status_action()->text(), "Connecting to the agent...");
  controller_->Start(/*show_icon=*/false);
  ASSERT_TRUE(WaitForState(TrayState::kIdle));
  EXPECT_GE(CountCommand("status"), 1u);
}

}  // namespace
}  // namespace cardvault
