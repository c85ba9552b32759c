// TrayController implementation: poller callbacks are posted to the GUI thread, where the
// view is rebuilt and the icon, tooltip and menu follow it.
#include "agent/tray/tray_controller.h"

#include <QCursor>
#include <QDesktopServices>
#include <QMetaObject>

#include "agent/tray/common/tray_menu.h"
#include "agent/tray/tray_icons.h"

namespace cardvault {
namespace {

QString ToQString(const std::string& s) { return QString::fromStdString(s); }

}  // namespace

TrayController::TrayController(std::unique_ptr<AgentLink> link, TrayOptions options,
                               QObject* parent)
    : QObject(parent),
      link_(std::move(link)),
      options_(options),
      failures_(options.failure_notice_gap_ms) {
  clock_.start();
  status_action_ = menu_.addAction(QString());
  status_action_->setEnabled(false);
  menu_.addSeparator();
  pause_action_ = menu_.addAction(QString());
  sync_action_ = menu_.addAction(QString::fromLatin1(kSyncNowText));
  open_folder_action_ = menu_.addAction(QString::fromLatin1(kOpenFolderText));
  menu_.addSeparator();
  quit_action_ = menu_.addAction(QString::fromLatin1(kQuitText));

  connect(pause_action_, &QAction::triggered, this, [this] { TogglePause(); });
  connect(sync_action_, &QAction::triggered, this, [this] {
    if (poller_ != nullptr) poller_->Request(AgentCommand::kSyncNow);
  });
  connect(open_folder_action_, &QAction::triggered, this, [this] {
    QUrl url = FolderUrl();
    if (!url.isEmpty() && !QDesktopServices::openUrl(url)) {
      Notify(QStringLiteral("cardvault"), QStringLiteral("Cannot open ") + url.toLocalFile(),
             QSystemTrayIcon::Warning);
    }
  });
  connect(quit_action_, &QAction::triggered, this, &TrayController::QuitRequested);
  icon_.setContextMenu(&menu_);
  failure_timer_.setSingleShot(true);
  connect(&failure_timer_, &QTimer::timeout, this, [this] { NotifyFailures(); });
  // Trays that do not open the context menu on a left click get it here.
  connect(&icon_, &QSystemTrayIcon::activated, this, [this](QSystemTrayIcon::ActivationReason r) {
    if (r == QSystemTrayIcon::Trigger) menu_.popup(QCursor::pos());
  });
  Render();
}

TrayController::~TrayController() { poller_.reset(); }

void TrayController::Start(bool show_icon) {
  if (poller_ == nullptr && link_ != nullptr) {
    AgentPoller::Callbacks callbacks;
    // The poller's thread hands every answer to the GUI thread; `this` as the context
    // drops answers still queued when the controller is gone.
    callbacks.on_status = [this](const StatusOr<AgentStatus>& s) {
      QMetaObject::invokeMethod(
          this, [this, s] { OnStatus(s); }, Qt::QueuedConnection);
    };
    callbacks.on_events = [this](const std::vector<AgentEvent>& e) {
      QMetaObject::invokeMethod(
          this, [this, e] { OnEvents(e); }, Qt::QueuedConnection);
    };
    callbacks.on_command_done = [this](AgentCommand c, const Status& s) {
      QMetaObject::invokeMethod(
          this, [this, c, s] { OnCommandDone(c, s); }, Qt::QueuedConnection);
    };
    poller_ = std::make_unique<AgentPoller>(std::move(link_), std::move(callbacks),
                                            options_.status_interval_ms, options_.tick_ms);
  }
  if (show_icon) icon_.show();
}

QUrl TrayController::FolderUrl() const {
  if (view_.vault_dir.empty()) return QUrl();
  return QUrl::fromLocalFile(ToQString(view_.vault_dir));
}

void TrayController::OnStatus(const StatusOr<AgentStatus>& status) {
  view_ = ViewOf(status);
  Render();
  emit ViewChanged();
}

void TrayController::OnEvents(const std::vector<AgentEvent>& events) {
  failures_.Add(events);
  if (!failure_timer_.isActive()) NotifyFailures();
}

void TrayController::NotifyFailures() {
  // At most one notification per gap: failures that come in a burst (the server refusing
  // every upload) are counted into the next one.
  if (std::optional<FailureNotice> notice = failures_.Take(clock_.elapsed())) {
    Notify(ToQString(notice->title), ToQString(notice->message), QSystemTrayIcon::Warning);
  } else if (std::optional<int64_t> due = failures_.NextDueIn(clock_.elapsed())) {
    failure_timer_.start(static_cast<int>(*due));
  }
}

void TrayController::OnCommandDone(AgentCommand command, const Status& status) {
  const QString name = QString::fromLatin1(AgentCommandName(command));
  if (!status.ok()) {
    Notify(QStringLiteral("cardvault: ") + name + QStringLiteral(" failed"),
           ToQString(status.message()), QSystemTrayIcon::Warning);
  }
  emit CommandDone(name, status.ok());
}

void TrayController::Notify(const QString& title, const QString& message,
                            QSystemTrayIcon::MessageIcon kind) {
  if (icon_.isVisible()) icon_.showMessage(title, message, kind);
  emit Notified(title, message);
}

void TrayController::TogglePause() {
  if (poller_ == nullptr) return;
  poller_->Request(MenuOf(view_).pause_command);
}

void TrayController::Render() {
  const TrayMenu menu = MenuOf(view_);
  status_action_->setText(ToQString(menu.status_text));
  pause_action_->setText(ToQString(menu.pause_text));
  pause_action_->setEnabled(menu.pause_enabled);
  sync_action_->setEnabled(menu.sync_enabled);
  open_folder_action_->setEnabled(menu.open_folder_enabled);
  icon_.setToolTip(ToQString(menu.tooltip));
  if (!rendered_ || icon_state_ != view_.state) {
    icon_.setIcon(TrayIcon(view_.state));
    icon_state_ = view_.state;
    rendered_ = true;
  }
}

}  // namespace cardvault
