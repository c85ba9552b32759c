// SharedEngine: one engine process tree (a PostgreSQL cluster, a radosgw) per test binary,
// started on first use and stopped after the last test.
#ifndef CARDVAULT_TESTS_STORAGE_SHARED_ENGINE_H_
#define CARDVAULT_TESTS_STORAGE_SHARED_ENGINE_H_

#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <string>
#include <utility>

namespace cardvault {

// `Engine` has `static StatusOr<std::unique_ptr<Engine>> Start()`. Define one instance at
// namespace scope: its constructor registers the stop with GoogleTest before main runs.
template <typename Engine>
class SharedEngine {
 public:
  // `what` names the engine in the skip message ("PostgreSQL", "radosgw").
  explicit SharedEngine(std::string what) : what_(std::move(what)) {
    ::testing::AddGlobalTestEnvironment(new Stopper(this));
  }

  // The engine, started by the first call; nullptr with `*why_not` set (a message for
  // GTEST_SKIP) if it could not start, and then no later call tries again.
  Engine* Get(std::string* why_not) {
    std::lock_guard lock(mu_);
    if (engine_ == nullptr && why_not_.empty()) {
      auto started = Engine::Start();
      if (started.ok()) {
        engine_ = std::move(*started);
      } else {
        why_not_ = what_ + " tests skipped: " + started.status().ToString();
      }
    }
    *why_not = why_not_;
    return engine_.get();
  }

 private:
  class Stopper : public ::testing::Environment {
   public:
    explicit Stopper(SharedEngine* owner) : owner_(owner) {}
    void TearDown() override {
      std::lock_guard lock(owner_->mu_);
      owner_->engine_.reset();
    }

   private:
    SharedEngine* owner_;
  };

  const std::string what_;
  std::mutex mu_;
  std::unique_ptr<Engine> engine_;
  std::string why_not_;
};

}  // namespace cardvault

#endif  // CARDVAULT_TESTS_STORAGE_SHARED_ENGINE_H_
