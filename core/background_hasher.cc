// BackgroundHasher implementation: one worker thread fed through a condition variable.
#include "core/background_hasher.h"

namespace cardvault {

BackgroundHasher::~BackgroundHasher() {
  if (worker_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    worker_.join();
  }
}

void BackgroundHasher::Wait() {
  if (!worker_.joinable()) return;
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return !has_job_; });
}

void BackgroundHasher::Submit(ByteView data) {
  Wait();
  if (data.size() < kInlineLimit) {
    hasher_.Update(data);
    return;
  }
  if (!worker_.joinable()) worker_ = std::thread([this] { Run(); });
  {
    std::lock_guard<std::mutex> lock(mu_);
    job_ = data;
    has_job_ = true;
  }
  cv_.notify_all();
}

Sha256Digest BackgroundHasher::Finish() {
  Wait();
  return hasher_.Finish();
}

void BackgroundHasher::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return has_job_ || stop_; });
    if (stop_) return;
    ByteView job = job_;
    lock.unlock();
    hasher_.Update(job);
    lock.lock();
    has_job_ = false;
    cv_.notify_all();
  }
}

}  // namespace cardvault
