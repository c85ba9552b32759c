// StreamPipe: a bounded in-memory pipe from one writer thread to one reader (a download
// decrypted while it arrives, in constant memory and without a copy on disk).
#ifndef CARDVAULT_AGENT_SYNC_STREAM_PIPE_H_
#define CARDVAULT_AGENT_SYNC_STREAM_PIPE_H_

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>

#include "core/env.h"

namespace cardvault {

// The reader's side is a SequentialFile: Read waits for bytes and returns 0 at the end once
// the writer called Finish(OK); after Finish(error) it returns that error once the bytes
// written before it are consumed. The writer's side: Write waits for room, and fails with
// kCancelled once the reader called Cancel (so a reader that gave up never leaves the
// writer blocked). Thread-safe between exactly one reader and one writer. Holds at most
// `capacity` bytes.
class StreamPipe final : public SequentialFile {
 public:
  explicit StreamPipe(size_t capacity);

  // Reader side. ReadInPlace lends the reader a stretch of the ring (never across its
  // end, so a view may be shorter than what has arrived); the writer reuses it only after
  // the reader's next call.
  StatusOr<size_t> Read(std::span<uint8_t> buf) override;
  bool ReadsInPlace() const override { return true; }
  StatusOr<ByteView> ReadInPlace(size_t max) override;
  void Cancel();

  // Writer side.
  Status Write(ByteView data);
  void Finish(Status status);
  // The stream's bytes [offset, offset + n), in the ring: only while they are among the
  // last `capacity` written (the reader may have read them; only the writer overwrites)
  // and do not wrap around its end; nullopt otherwise. Valid until the next Write. The
  // ring is aligned for direct I/O, and the stream's byte k sits at k % capacity.
  std::optional<ByteView> Written(uint64_t offset, size_t n) const;

 private:
  size_t Wanted(size_t request) const;
  // Waits for what a read of `request` bytes wants (see Wanted), the lent bytes given back
  // first. Returns with `lock` held; an OK status with size_ == 0 is the end.
  Status WaitReadable(std::unique_lock<std::mutex>& lock, size_t request);

  const size_t capacity_;
  const DirectIoBuffer ring_;
  std::mutex mu_;
  std::condition_variable readable_, writable_;
  size_t head_ = 0;                 // guarded by mu_: next byte to read
  size_t size_ = 0;                 // guarded by mu_: bytes buffered
  size_t lent_ = 0;                 // guarded by mu_: of those, lent by ReadInPlace
  std::optional<Status> finished_;  // guarded by mu_
  bool cancelled_ = false;          // guarded by mu_
  size_t reader_wants_ = 0;         // guarded by mu_: what a waiting reader waits for
  bool writer_waiting_ = false;     // guarded by mu_
  uint64_t written_ = 0;            // the writer's: bytes written into the ring
};

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_SYNC_STREAM_PIPE_H_
