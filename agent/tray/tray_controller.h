// TrayController: the tray icon's logic: shows the agent's state (icon, tooltip, menu),
// sends pause / resume / sync now, and notifies when a file fails. Talks to the agent only
// through an AgentLink, on an AgentPoller thread.
#ifndef CARDVAULT_AGENT_TRAY_TRAY_CONTROLLER_H_
#define CARDVAULT_AGENT_TRAY_TRAY_CONTROLLER_H_

#include <QAction>
#include <QElapsedTimer>
#include <QMenu>
#include <QObject>
#include <QString>
#include <QSystemTrayIcon>
#include <QTimer>
#include <QUrl>
#include <memory>
#include <vector>

#include "agent/control/agent_link.h"
#include "agent/tray/common/agent_poller.h"
#include "agent/tray/common/failure_notices.h"
#include "agent/tray/common/tray_state.h"

namespace cardvault {

struct TrayOptions {
  int status_interval_ms = 2000;      // how often the status is refreshed without events
  int tick_ms = 200;                  // how often events are looked for
  int failure_notice_gap_ms = 10000;  // at least this long between "file failed" notices
};

// Lives on the GUI thread; every slot and signal runs there. Until Start() nothing talks to
// the agent and nothing is shown. It never asks for a PIN and shows a notification only
// when a file fails (at most one per TrayOptions::failure_notice_gap_ms, counting the
// failures in between) or a command the user chose fails.
class TrayController : public QObject {
  Q_OBJECT

 public:
  explicit TrayController(std::unique_ptr<AgentLink> link, TrayOptions options = {},
                          QObject* parent = nullptr);
  ~TrayController() override;  // stops the poller (waits at most the link's timeout)

  // Starts talking to the agent. With `show_icon`, also shows the tray icon (the caller
  // checked QSystemTrayIcon::isSystemTrayAvailable()).
  void Start(bool show_icon = true);

  const TrayView& view() const { return view_; }
  QSystemTrayIcon& icon() { return icon_; }
  QMenu& menu() { return menu_; }
  QAction* status_action() { return status_action_; }
  QAction* pause_action() { return pause_action_; }
  QAction* sync_action() { return sync_action_; }
  QAction* open_folder_action() { return open_folder_action_; }
  QAction* quit_action() { return quit_action_; }
  // The watched folder as a file URL (empty until the agent said where it is).
  QUrl FolderUrl() const;

 signals:
  void ViewChanged();  // after every status answer, changed or not
  void Notified(const QString& title, const QString& message);
  void CommandDone(const QString& command, bool ok);
  void QuitRequested();

 private:
  void OnStatus(const StatusOr<AgentStatus>& status);
  void OnEvents(const std::vector<AgentEvent>& events);
  void OnCommandDone(AgentCommand command, const Status& status);
  void NotifyFailures();  // a notice for the failures not reported yet, when one is due
  void Notify(const QString& title, const QString& message, QSystemTrayIcon::MessageIcon kind);
  void TogglePause();
  void Render();

  std::unique_ptr<AgentLink> link_;  // moved into the poller by Start()
  const TrayOptions options_;
  TrayView view_;
  bool rendered_ = false;
  FailureNotices failures_;  // the rate limit the Win32 tray shares
  QElapsedTimer clock_;      // started at construction: FailureNotices' time
  QTimer failure_timer_;
  TrayState icon_state_ = TrayState::kAgentNotRunning;
  QSystemTrayIcon icon_;
  QMenu menu_;
  QAction* status_action_;
  QAction* pause_action_;
  QAction* sync_action_;
  QAction* open_folder_action_;
  QAction* quit_action_;
  std::unique_ptr<AgentPoller> poller_;  // last: stopped first
};

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_TRAY_TRAY_CONTROLLER_H_
