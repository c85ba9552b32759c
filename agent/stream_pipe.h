// StreamPipe: a bounded in-memory pipe from one writer thread to one reader (a download
// decrypted while it arrives, in constant memory and without a copy on disk).
#ifndef CARDVAULT_AGENT_STREAM_PIPE_H_
#define CARDVAULT_AGENT_STREAM_PIPE_H_

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

  // Reader side.
  StatusOr<size_t> Read(std::span<uint8_t> buf) override;
  void Cancel();

  // Writer side.
  Status Write(ByteView data);
  void Finish(Status status);

 private:
  size_t Wanted(size_t request) const;

  const size_t capacity_;
  const std::unique_ptr<uint8_t[]> ring_;
  std::mutex mu_;
  std::condition_variable readable_, writable_;
  size_t head_ = 0;                 // guarded by mu_: next byte to read
  size_t size_ = 0;                 // guarded by mu_: bytes buffered
  std::optional<Status> finished_;  // guarded by mu_
  bool cancelled_ = false;          // guarded by mu_
  size_t reader_wants_ = 0;         // guarded by mu_: what a waiting reader waits for
  bool writer_waiting_ = false;     // guarded by mu_
};

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_STREAM_PIPE_H_
