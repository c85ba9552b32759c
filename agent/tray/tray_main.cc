// cardvault-tray: the desktop tray icon for a running cardvault agent (`cardvault run`).
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <QApplication>
#include <QSocketNotifier>
#include <QSystemTrayIcon>
#include <QTimer>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "agent/control/agent_link.h"
#include "agent/tray/tray_controller.h"

namespace {

constexpr int kTrayRetryMs = 2000;

// SIGTERM and SIGINT (the session ending, Ctrl-C) quit the event loop through this pipe,
// so the tray shuts down as cleanly as from its Quit item.
int signal_pipe[2] = {-1, -1};

void OnQuitSignal(int) {
  char c = 1;
  ssize_t n = ::write(signal_pipe[1], &c, 1);
  (void)n;
}

constexpr char kUsage[] =
    "Usage: cardvault-tray [--socket PATH]\n"
    "\n"
    "Shows the cardvault agent's state in the desktop's system tray: up to date, syncing,\n"
    "paused, error or agent not running, with pending/uploaded/failed counts in the\n"
    "tooltip. The menu pauses or resumes syncing, syncs now and opens the folder. It never\n"
    "asks for a PIN; it notifies only when a file fails.\n"
    "\n"
    "Options:\n"
    "  --socket PATH  the agent's control socket (default: $XDG_RUNTIME_DIR/cardvault/\n"
    "                 agent.sock, or /tmp/cardvault-UID/agent.sock)\n"
    "  -h, --help     print this help\n";

}  // namespace

int main(int argc, char** argv) {
  std::string socket;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "-h") == 0 || std::strcmp(argv[i], "--help") == 0) {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (std::strcmp(argv[i], "--socket") == 0) {
      if (i + 1 == argc) {
        std::fprintf(stderr, "cardvault-tray: --socket needs a PATH\n\n%s", kUsage);
        return 2;
      }
      socket = argv[++i];
    } else if (std::strncmp(argv[i], "--socket=", 9) == 0) {
      socket = argv[i] + 9;
    } else {
      std::fprintf(stderr, "cardvault-tray: unexpected argument %s\n\n%s", argv[i], kUsage);
      return 2;
    }
  }
  if (socket.empty()) socket = cardvault::DefaultAgentSocketPath();
  // Without a display Qt would abort with a core dump; say what is missing instead.
  if (std::getenv("DISPLAY") == nullptr && std::getenv("WAYLAND_DISPLAY") == nullptr &&
      std::getenv("QT_QPA_PLATFORM") == nullptr) {
    std::fputs(
        "cardvault-tray: no graphical session (DISPLAY and WAYLAND_DISPLAY are unset); the "
        "tray needs a desktop. The agent runs without it: cardvault run, cardvault status\n",
        stderr);
    return 1;
  }

  QApplication app(argc, argv);
  QApplication::setApplicationName(QStringLiteral("cardvault-tray"));
  QApplication::setQuitOnLastWindowClosed(false);

  cardvault::TrayController controller(cardvault::NewSocketAgentLink(socket));
  QObject::connect(&controller, &cardvault::TrayController::QuitRequested, &app,
                   &QApplication::quit);
  if (::pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
    std::perror("cardvault-tray: pipe");
    return 1;
  }
  QSocketNotifier quit_notifier(signal_pipe[0], QSocketNotifier::Read);
  QObject::connect(&quit_notifier, &QSocketNotifier::activated, &app, &QApplication::quit);
  struct sigaction sa {};
  sa.sa_handler = OnQuitSignal;
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);

  // Without a tray host (no panel yet at login, or none at all) wait for one: exiting
  // would leave an autostarted tray missing for the whole session.
  QTimer retry;
  auto show_when_available = [&] {
    if (!QSystemTrayIcon::isSystemTrayAvailable()) return false;
    retry.stop();
    controller.Start();
    std::printf("cardvault-tray: shown in the system tray (agent socket %s)\n", socket.c_str());
    std::fflush(stdout);
    return true;
  };
  if (!show_when_available()) {
    std::printf(
        "cardvault-tray: no system tray is available on this desktop (no panel with a "
        "notification area); waiting for one\n");
    std::fflush(stdout);
    QObject::connect(&retry, &QTimer::timeout, &app, [&] { show_when_available(); });
    retry.start(kTrayRetryMs);
  }
  const int rc = app.exec();
  std::printf("cardvault-tray: quit\n");
  std::fflush(stdout);
  return rc;
}
