// WorkerThread implementation: a condition variable hands queued jobs to the thread.
#include "core/worker_thread.h"

namespace cardvault {

WorkerThread::~WorkerThread() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void WorkerThread::Wait() {
  if (!thread_.joinable()) return;
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return unfinished_ == 0; });
}

void WorkerThread::WaitForRoom() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return unfinished_ < depth_; });
}

void WorkerThread::Submit(std::function<void()> job) {
  if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return unfinished_ < depth_; });
    queue_.push_back(std::move(job));
    ++unfinished_;
  }
  cv_.notify_all();
}

void WorkerThread::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    // Jobs already queued run before the thread stops.
    cv_.wait(lock, [this] { return !queue_.empty() || stop_; });
    if (queue_.empty()) return;
    std::function<void()> job = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    job();
    lock.lock();
    --unfinished_;
    cv_.notify_all();
  }
}

}  // namespace cardvault
