// BackgroundAppender: appends to a file on a second thread, so that writing a block (to
// the disk, around the page cache) overlaps with preparing the next one.
#ifndef CARDVAULT_CORE_BACKGROUND_APPENDER_H_
#define CARDVAULT_CORE_BACKGROUND_APPENDER_H_

#include <mutex>

#include "core/env.h"
#include "core/worker_thread.h"

namespace cardvault {

// Appends the pieces given to Submit in order, one at a time. Lifetime: `file` MUST outlive
// this, and nobody else may use it while an append can be in flight (until Wait returned);
// the bytes passed to Submit MUST stay valid and unmodified until `depth` more Submits or
// Wait returned (so `depth` + 1 buffers in turn keep the producer going; a deeper queue
// rides out a disk that is slow now and then). Small pieces are appended inline; the
// worker thread starts only for large ones. After a failed append, every later call
// returns its error and appends nothing. Not thread-safe: one producer.
class BackgroundAppender {
 public:
  explicit BackgroundAppender(WritableFile* file, size_t depth = 1) : file_(file), worker_(depth) {}

  // Waits until fewer than `depth` appends are unfinished; then returns the first error of
  // the appends finished by then (queuing nothing), or queues `data`.
  [[nodiscard]] Status Submit(ByteView data);
  // Waits for the append in flight. Returns the first error.
  [[nodiscard]] Status Wait();

 private:
  static constexpr size_t kInlineLimit = 256 * 1024;
  Status FirstError();

  WritableFile* file_;
  std::mutex mu_;
  Status status_;        // guarded by mu_: the appends' first error
  WorkerThread worker_;  // declared last: joined first, while the rest is still alive
};

}  // namespace cardvault

#endif  // CARDVAULT_CORE_BACKGROUND_APPENDER_H_
