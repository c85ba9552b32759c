// WorkerThread: one background thread that runs one job at a time, so a producer can
// overlap work (hashing, sealing half of a block) with its own.
#ifndef CARDVAULT_CORE_WORKER_THREAD_H_
#define CARDVAULT_CORE_WORKER_THREAD_H_

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace cardvault {

// The thread starts on the first Submit and is joined by the destructor, after the running
// job finished. Jobs run in submission order, one at a time. Not thread-safe: one producer.
class WorkerThread {
 public:
  WorkerThread() = default;
  ~WorkerThread();
  WorkerThread(const WorkerThread&) = delete;
  WorkerThread& operator=(const WorkerThread&) = delete;

  // Waits for the previous job, then starts `job` on the worker.
  void Submit(std::function<void()> job);
  // Returns once no job is running.
  void Wait();

 private:
  void Run();

  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::function<void()> job_;
  bool busy_ = false;
  bool stop_ = false;
};

}  // namespace cardvault

#endif  // CARDVAULT_CORE_WORKER_THREAD_H_
