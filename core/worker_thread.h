// WorkerThread: one background thread that runs queued jobs one at a time, in order, so a
// producer can overlap work (hashing, sealing half of a block, writing) with its own.
#ifndef CARDVAULT_CORE_WORKER_THREAD_H_
#define CARDVAULT_CORE_WORKER_THREAD_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace cardvault {

// The thread starts on the first Submit and is joined by the destructor, after the jobs
// already submitted finished. Jobs run in submission order, one at a time; at most `depth`
// are submitted and not yet finished (the running one included), so with depth 1 a Submit
// waits for the previous job. Not thread-safe: one producer.
class WorkerThread {
 public:
  explicit WorkerThread(size_t depth = 1) : depth_(depth < 1 ? 1 : depth) {}
  ~WorkerThread();
  WorkerThread(const WorkerThread&) = delete;
  WorkerThread& operator=(const WorkerThread&) = delete;

  // Waits until fewer than `depth` jobs are unfinished, then queues `job`.
  void Submit(std::function<void()> job);
  // Waits until fewer than `depth` jobs are unfinished (so the next Submit queues at once).
  void WaitForRoom();
  // Returns once every submitted job finished.
  void Wait();

 private:
  void Run();

  const size_t depth_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_: not yet started
  size_t unfinished_ = 0;                    // guarded by mu_: queued or running
  bool stop_ = false;                        // guarded by mu_
};

}  // namespace cardvault

#endif  // CARDVAULT_CORE_WORKER_THREAD_H_
