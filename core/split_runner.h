// RunSplit: runs a block's per-chunk jobs on two threads (this one and a WorkerThread),
// each with its own AES-GCM context, and reports the first failure in chunk order.
#ifndef CARDVAULT_CORE_SPLIT_RUNNER_H_
#define CARDVAULT_CORE_SPLIT_RUNNER_H_

#include <cstddef>

#include "core/aes_gcm.h"
#include "core/status.h"
#include "core/worker_thread.h"

namespace cardvault {

// Calls job(gcm, k) for k in [0, n). With `second` non-null and n >= 2, the upper half runs
// on `worker` with `*second` while this thread runs the lower half with `first`; each half
// stops at its first error. Returns n when all succeeded, else the lowest failing k, with
// its Status in *error. Jobs MUST touch disjoint memory.
template <typename Job>
size_t RunSplit(size_t n, AesGcm& first, AesGcm* second, WorkerThread& worker, const Job& job,
                Status* error) {
  auto run = [&job](AesGcm& gcm, size_t from, size_t to, Status* s) {
    for (size_t k = from; k < to; ++k) {
      *s = job(gcm, k);
      if (!s->ok()) return k;
    }
    return to;
  };
  if (second == nullptr || n < 2) return run(first, 0, n, error);
  const size_t half = n / 2;
  Status upper_status;
  size_t upper_failed = n;
  worker.Submit([&] { upper_failed = run(*second, half, n, &upper_status); });
  size_t lower_failed = run(first, 0, half, error);
  worker.Wait();
  if (lower_failed < half) return lower_failed;
  *error = upper_status;
  return upper_failed;
}

}  // namespace cardvault

#endif  // CARDVAULT_CORE_SPLIT_RUNNER_H_
