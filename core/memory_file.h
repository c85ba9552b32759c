// In-memory SequentialFile and WritableFile, for tests, the fuzzer and in-memory benchmarks.
#ifndef CARDVAULT_CORE_MEMORY_FILE_H_
#define CARDVAULT_CORE_MEMORY_FILE_H_

#include <algorithm>
#include <cstring>

#include "core/env.h"

namespace cardvault {

// Reads from a borrowed byte view. Lifetime: the bytes MUST outlive the reader.
class MemorySequentialFile final : public SequentialFile {
 public:
  explicit MemorySequentialFile(ByteView data) : data_(data) {}
  StatusOr<size_t> Read(std::span<uint8_t> buf) override {
    size_t n = std::min(buf.size(), data_.size() - pos_);
    if (n > 0) std::memcpy(buf.data(), data_.data() + pos_, n);
    pos_ += n;
    return n;
  }
  std::optional<ByteView> TakeRemaining() override {
    ByteView rest = data_.subspan(pos_);
    pos_ = data_.size();
    return rest;
  }
  bool ReadsInPlace() const override { return true; }
  StatusOr<ByteView> ReadInPlace(size_t max) override {
    ByteView next = data_.subspan(pos_, std::min(max, data_.size() - pos_));
    pos_ += next.size();
    return next;
  }

 private:
  ByteView data_;
  size_t pos_ = 0;
};

// Appends into a borrowed Bytes. Lifetime: `out` MUST outlive the writer.
class MemoryWritableFile final : public WritableFile {
 public:
  explicit MemoryWritableFile(Bytes* out) : out_(out) {}
  Status Append(ByteView data) override {
    out_->insert(out_->end(), data.begin(), data.end());
    return Status::Ok();
  }
  Status WriteAt(uint64_t offset, ByteView data) override {
    if (offset + data.size() > out_->size()) return InvalidArgumentError("WriteAt past the end");
    std::copy(data.begin(), data.end(), out_->begin() + static_cast<ptrdiff_t>(offset));
    return Status::Ok();
  }
  Status Sync() override { return Status::Ok(); }
  Status Close() override { return Status::Ok(); }
  std::optional<std::span<uint8_t>> AppendInPlace(size_t n) override {
    const size_t old_size = out_->size();
    out_->resize(old_size + n);
    return std::span<uint8_t>(out_->data() + old_size, n);
  }

 private:
  Bytes* out_;
};

// Writes into memory the caller owns (`buffer`, which is neither zeroed nor reallocated),
// e.g. a buffer from make_unique_for_overwrite. Appending past its end is kResourceExhausted.
// The buffer MUST outlive the file.
class SpanWritableFile final : public WritableFile {
 public:
  explicit SpanWritableFile(std::span<uint8_t> buffer) : buffer_(buffer) {}
  Status Append(ByteView data) override {
    CV_ASSIGN_OR_RETURN(std::span<uint8_t> dst, Reserve(data.size()));
    std::copy(data.begin(), data.end(), dst.begin());
    return Status::Ok();
  }
  Status WriteAt(uint64_t offset, ByteView data) override {
    if (offset + data.size() > size_) return InvalidArgumentError("WriteAt past the end");
    std::copy(data.begin(), data.end(), buffer_.begin() + static_cast<ptrdiff_t>(offset));
    return Status::Ok();
  }
  Status Sync() override { return Status::Ok(); }
  Status Close() override { return Status::Ok(); }
  std::optional<std::span<uint8_t>> AppendInPlace(size_t n) override {
    StatusOr<std::span<uint8_t>> dst = Reserve(n);
    if (!dst.ok()) return std::nullopt;  // Append then reports the error
    return *dst;
  }
  // The bytes written so far.
  ByteView written() const { return buffer_.first(size_); }

 private:
  StatusOr<std::span<uint8_t>> Reserve(size_t n) {
    if (n > buffer_.size() - size_) {
      return ResourceExhaustedError("the memory buffer is full", "buffer_full");
    }
    std::span<uint8_t> dst = buffer_.subspan(size_, n);
    size_ += n;
    return dst;
  }

  std::span<uint8_t> buffer_;
  size_t size_ = 0;
};

}  // namespace cardvault

#endif  // CARDVAULT_CORE_MEMORY_FILE_H_
