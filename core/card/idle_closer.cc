// IdleCloser: the idle timer's thread.
#include "core/card/idle_closer.h"

#include <utility>

namespace cardvault {

IdleCloser::IdleCloser(std::mutex& mu, std::chrono::seconds timeout,
                       std::function<bool()> has_connection, std::function<void()> close)
    : mu_(mu),
      timeout_(timeout),
      has_connection_(std::move(has_connection)),
      close_(std::move(close)) {}

IdleCloser::~IdleCloser() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void IdleCloser::Used() {
  last_used_ = std::chrono::steady_clock::now();
  if (timeout_.count() <= 0) {
    close_();
    return;
  }
  if (has_connection_() && !thread_.joinable()) thread_ = std::thread([this] { Loop(); });
  cv_.notify_all();
}

void IdleCloser::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (!has_connection_()) {
      cv_.wait(lock);
      continue;
    }
    const auto deadline = last_used_ + timeout_;
    if (std::chrono::steady_clock::now() >= deadline) {
      close_();
      continue;
    }
    cv_.wait_until(lock, deadline);
  }
}

}  // namespace cardvault
