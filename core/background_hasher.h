// BackgroundHasher: SHA-256 of a byte sequence computed on a second thread, so hashing a
// file overlaps with encrypting and writing it.
#ifndef CARDVAULT_CORE_BACKGROUND_HASHER_H_
#define CARDVAULT_CORE_BACKGROUND_HASHER_H_

#include "core/crypto.h"
#include "core/worker_thread.h"

namespace cardvault {

// Hashes the pieces given to Submit in order. Lifetime: the bytes passed to Submit MUST stay
// valid and unmodified until `depth` more Submits or Finish returned (so `depth` + 1 buffers
// in turn keep the producer going). Small pieces are hashed inline; the worker thread
// starts only for large ones. Not thread-safe: one producer.
class BackgroundHasher {
 public:
  explicit BackgroundHasher(size_t depth = 1) : worker_(depth) {}

  // Waits until fewer than `depth` pieces are unhashed, then queues `data`.
  void Submit(ByteView data);
  // Waits for all pieces and returns the digest.
  Sha256Digest Finish();

 private:
  static constexpr size_t kInlineLimit = 256 * 1024;
  Sha256Hasher hasher_;
  WorkerThread worker_;  // declared last: joined first, while hasher_ is still alive
};

}  // namespace cardvault

#endif  // CARDVAULT_CORE_BACKGROUND_HASHER_H_
