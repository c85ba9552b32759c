// Test helpers for the tray: one offscreen QApplication per test binary, and pumping its
// event loop until a condition holds.
#ifndef CARDVAULT_TESTS_AGENT_TRAY_QT_TEST_UTIL_H_
#define CARDVAULT_TESTS_AGENT_TRAY_QT_TEST_UTIL_H_

#include <stdlib.h>

#include <QApplication>
#include <QThread>
#include <chrono>
#include <functional>

namespace cardvault {

// Creates the process's QApplication on the offscreen platform (once; never destroyed).
inline void EnsureApp() {
  static int argc = 1;
  static char name[] = "cardvault_tray_test";
  static char* argv[] = {name, nullptr};
  static QApplication* app = [] {
    ::setenv("QT_QPA_PLATFORM", "offscreen", 1);
    return new QApplication(argc, argv);
  }();
  (void)app;
}

// Runs the GUI event loop until `done` returns true or `timeout_ms` passed; returns done().
inline bool PumpUntil(const std::function<bool()>& done, int timeout_ms = 5000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
    if (done()) return true;
    QThread::msleep(5);
  }
  QCoreApplication::processEvents();
  return done();
}

}  // namespace cardvault

#endif  // CARDVAULT_TESTS_AGENT_TRAY_QT_TEST_UTIL_H_
