// StreamPipe implementation: a ring buffer whose bytes are copied outside the mutex (each side
// owns its part of the ring), with wake-ups batched so that a reader asking for a megabyte
// is not woken for every few kilobytes that arrive.
#include "agent/sync/stream_pipe.h"

#include <algorithm>
#include <cstring>

namespace cardvault {

StreamPipe::StreamPipe(size_t capacity)
    : capacity_(std::max<size_t>(capacity, 2)), ring_(NewDirectIoBuffer(capacity_)) {}

// How many bytes a waiting reader wants before it is woken: all it asked for, but never
// more than half the ring (the writer must be able to keep going meanwhile).
size_t StreamPipe::Wanted(size_t request) const { return std::min(request, capacity_ / 2); }

Status StreamPipe::WaitReadable(std::unique_lock<std::mutex>& lock, size_t request) {
  if (lent_ > 0) {
    head_ = (head_ + lent_) % capacity_;
    size_ -= lent_;
    lent_ = 0;
    if (writer_waiting_) writable_.notify_one();
  }
  reader_wants_ = Wanted(request);
  readable_.wait(lock, [&] { return size_ >= reader_wants_ || finished_.has_value(); });
  reader_wants_ = 0;
  if (size_ == 0 && finished_.has_value() && !finished_->ok()) return *finished_;
  return Status::Ok();
}

StatusOr<size_t> StreamPipe::Read(std::span<uint8_t> buf) {
  if (buf.empty()) return size_t{0};
  size_t n = 0, at = 0;
  {
    std::unique_lock lock(mu_);
    CV_RETURN_IF_ERROR(WaitReadable(lock, buf.size()));
    n = std::min(buf.size(), size_);
    at = head_;
  }
  // Bytes between head_ and head_ + size_ belong to the reader until it moves head_: the
  // writer only fills the rest, so the copy runs without the lock.
  const size_t first = std::min(n, capacity_ - at);
  std::memcpy(buf.data(), ring_.get() + at, first);
  std::memcpy(buf.data() + first, ring_.get(), n - first);
  std::lock_guard lock(mu_);
  head_ = (head_ + n) % capacity_;
  size_ -= n;
  if (writer_waiting_) writable_.notify_one();
  return n;
}

StatusOr<ByteView> StreamPipe::ReadInPlace(size_t max) {
  std::unique_lock lock(mu_);
  CV_RETURN_IF_ERROR(WaitReadable(lock, max));
  // The lent bytes stay counted in size_, so the writer leaves them alone until the
  // reader's next call gives them back.
  lent_ = std::min({max, size_, capacity_ - head_});
  return ByteView(ring_.get() + head_, lent_);
}

void StreamPipe::Cancel() {
  std::lock_guard lock(mu_);
  cancelled_ = true;
  writable_.notify_one();
}

Status StreamPipe::Write(ByteView data) {
  while (!data.empty()) {
    size_t tail = 0, n = 0;
    {
      std::unique_lock lock(mu_);
      writer_waiting_ = true;
      writable_.wait(lock, [&] { return cancelled_ || size_ < capacity_; });
      writer_waiting_ = false;
      if (cancelled_) return CancelledError("the reader stopped", "cancelled");
      tail = (head_ + size_) % capacity_;
      n = std::min({data.size(), capacity_ - size_, capacity_ - tail});
    }
    // The free space is the writer's until it grows size_: copied without the lock.
    std::memcpy(ring_.get() + tail, data.data(), n);
    data = data.subspan(n);
    written_ += n;
    std::lock_guard lock(mu_);
    size_ += n;
    if (reader_wants_ > 0 && size_ >= reader_wants_) readable_.notify_one();
  }
  return Status::Ok();
}

std::optional<ByteView> StreamPipe::Written(uint64_t offset, size_t n) const {
  if (offset > written_ || n > written_ - offset || written_ - offset > capacity_) {
    return std::nullopt;
  }
  const size_t at = static_cast<size_t>(offset % capacity_);
  if (n > capacity_ - at) return std::nullopt;
  return ByteView(ring_.get() + at, n);
}

void StreamPipe::Finish(Status status) {
  std::lock_guard lock(mu_);
  finished_ = std::move(status);
  readable_.notify_one();
}

}  // namespace cardvault
