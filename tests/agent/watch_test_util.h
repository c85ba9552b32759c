// What the watcher tests share: a temporary folder per test and polling a Watcher until the
// events wanted arrived (bounded in time).
#ifndef CARDVAULT_TESTS_AGENT_WATCH_TEST_UTIL_H_
#define CARDVAULT_TESTS_AGENT_WATCH_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "agent/watch/watcher.h"
#include "tests/core/test_platform.h"

namespace cardvault {

class WatchDirTest : public ::testing::Test {
 protected:
  void SetUp() override { root_ = NewTempDir("cv-watch-test"); }
  void TearDown() override { std::filesystem::remove_all(root_); }
  void Write(const std::string& rel, const std::string& content) {
    std::filesystem::create_directories(std::filesystem::path(root_ + "/" + rel).parent_path());
    std::ofstream(root_ + "/" + rel) << content;
  }
  std::string root_;
};

// Polls until `want` holds for the events gathered so far, or 3 s pass.
inline std::vector<WatchEvent> PollUntil(
    Watcher& w, const std::function<bool(const std::vector<WatchEvent>&)>& want) {
  std::vector<WatchEvent> all;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (!want(all) && std::chrono::steady_clock::now() < deadline) {
    auto ev = w.Poll(100);
    EXPECT_TRUE(ev.ok()) << ev.status().ToString();
    if (ev.ok()) all.insert(all.end(), ev->begin(), ev->end());
  }
  return all;
}

// Every event that arrives during `d`.
inline std::vector<WatchEvent> PollFor(Watcher& w, std::chrono::milliseconds d) {
  const auto deadline = std::chrono::steady_clock::now() + d;
  return PollUntil(w, [&](const auto&) { return std::chrono::steady_clock::now() >= deadline; });
}

inline bool Has(const std::vector<WatchEvent>& ev, WatchEvent::Kind kind, const std::string& path) {
  return std::any_of(ev.begin(), ev.end(),
                     [&](const WatchEvent& e) { return e.kind == kind && e.path == path; });
}

inline bool HasDirectory(const std::vector<WatchEvent>& ev, WatchEvent::Kind kind,
                         const std::string& path) {
  return std::any_of(ev.begin(), ev.end(), [&](const WatchEvent& e) {
    return e.kind == kind && e.path == path && e.is_directory;
  });
}

}  // namespace cardvault

#endif  // CARDVAULT_TESTS_AGENT_WATCH_TEST_UTIL_H_
