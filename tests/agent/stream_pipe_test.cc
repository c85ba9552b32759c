// Tests for StreamPipe: bytes arrive in order through a ring smaller than the stream, read
// by copy or in place; a view lent in place is not overwritten before the reader's next
// call; the writer's error comes after the bytes written before it, and a reader that gives
// up releases a writer blocked on a full pipe.
#include "agent/sync/stream_pipe.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

namespace cardvault {
namespace {

// Reads everything until the end or an error, in reads of `piece` bytes.
std::string ReadAll(StreamPipe& pipe, size_t piece, Status* status) {
  std::string out;
  std::string buf(piece, '\0');
  while (true) {
    StatusOr<size_t> n = pipe.Read({reinterpret_cast<uint8_t*>(buf.data()), buf.size()});
    if (!n.ok()) {
      *status = n.status();
      return out;
    }
    if (*n == 0) return out;
    out.append(buf.data(), *n);
  }
}

std::string Stream(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131) ^ (i >> 8));
  return s;
}

// Streams 256 KiB through rings of several sizes, written in pieces of 3001 bytes and read
// by `read_all` (pipe, piece, capacity, status) in pieces of several sizes: every byte
// arrives, in order.
using ReadAllFn = std::function<std::string(StreamPipe&, size_t, size_t, Status*)>;
void ExpectEveryByteInOrder(const ReadAllFn& read_all) {
  const std::string data = Stream(256 << 10);
  for (size_t capacity : {size_t{7}, size_t{4096}, size_t{100000}}) {
    for (size_t piece : {size_t{1}, size_t{13}, size_t{65536}}) {
      StreamPipe pipe(capacity);
      std::thread writer([&] {
        for (size_t at = 0; at < data.size(); at += 3001) {
          ASSERT_TRUE(pipe.Write(AsBytes(std::string_view(data).substr(at, 3001))).ok());
        }
        pipe.Finish(Status::Ok());
      });
      Status status;
      const std::string got = read_all(pipe, piece, capacity, &status);
      writer.join();
      EXPECT_TRUE(status.ok()) << status.ToString();
      ASSERT_EQ(got.size(), data.size()) << capacity << " " << piece;
      EXPECT_TRUE(got == data) << capacity << " " << piece;
    }
  }
}

TEST(StreamPipeTest, EveryByteArrivesInOrderThroughASmallRing) {
  ExpectEveryByteInOrder([](StreamPipe& pipe, size_t piece, size_t, Status* status) {
    return ReadAll(pipe, piece, status);
  });
}

TEST(StreamPipeTest, WriterErrorComesAfterTheBytesWrittenBeforeIt) {
  StreamPipe pipe(1024);
  std::thread writer([&] {
    ASSERT_TRUE(pipe.Write(AsBytes("partial")).ok());
    pipe.Finish(UnavailableError("connection reset", "network"));
  });
  Status status;
  EXPECT_EQ(ReadAll(pipe, 4096, &status), "partial");
  writer.join();
  EXPECT_EQ(status.reason(), "network");
}

TEST(StreamPipeTest, CancelReleasesAWriterBlockedOnAFullPipe) {
  StreamPipe pipe(16);
  Status written;
  std::thread writer([&] { written = pipe.Write(AsBytes(std::string(1000, 'x'))); });
  uint8_t buf[4];
  ASSERT_EQ(pipe.Read(buf).value(), 4u);  // the writer is now blocked on the full ring
  pipe.Cancel();
  writer.join();
  EXPECT_EQ(written.code(), StatusCode::kCancelled);
}

std::string Str(ByteView b) { return std::string(AsStringView(b)); }

// Reads everything in place, in views of at most `piece` bytes; checks each view's bounds.
std::string ReadAllInPlace(StreamPipe& pipe, size_t piece, size_t capacity, Status* status) {
  std::string out;
  while (true) {
    StatusOr<ByteView> view = pipe.ReadInPlace(piece);
    if (!view.ok()) {
      *status = view.status();
      return out;
    }
    if (view->empty()) return out;
    EXPECT_LE(view->size(), std::min(piece, capacity));
    out.append(reinterpret_cast<const char*>(view->data()), view->size());
  }
}

TEST(StreamPipeTest, EveryByteArrivesInOrderWhenReadInPlace) {
  ExpectEveryByteInOrder(ReadAllInPlace);
}

TEST(StreamPipeTest, ALentViewIsNotOverwrittenBeforeTheReadersNextCall) {
  StreamPipe pipe(8);
  ASSERT_TRUE(pipe.Write(AsBytes("abcdefgh")).ok());
  const ByteView view = pipe.ReadInPlace(8).value();  // the whole ring, lent
  ASSERT_EQ(Str(view), "abcdefgh");
  std::atomic<bool> wrote{false};
  std::thread writer([&] {
    ASSERT_TRUE(pipe.Write(AsBytes("12345678")).ok());
    wrote = true;
    pipe.Finish(Status::Ok());
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(wrote);  // the lent bytes still count as unread: no room
  EXPECT_EQ(Str(view), "abcdefgh");
  EXPECT_EQ(Str(pipe.ReadInPlace(8).value()), "12345678");  // gives the first view back
  writer.join();
  EXPECT_TRUE(wrote);
  EXPECT_TRUE(pipe.ReadInPlace(8).value().empty());
}

TEST(StreamPipeTest, ReadFullViewIsInPlaceUnlessTheBytesWrapAroundTheRing) {
  uint8_t scratch[12];
  {
    StreamPipe pipe(16);
    ASSERT_TRUE(pipe.Write(AsBytes("0123456789")).ok());
    const ByteView got = ReadFullView(pipe, std::span(scratch, 10)).value();
    EXPECT_EQ(Str(got), "0123456789");
    EXPECT_NE(got.data(), scratch);  // contiguous in the ring: not copied
  }
  StreamPipe pipe(16);
  ASSERT_TRUE(pipe.Write(AsBytes("0123456789")).ok());
  ASSERT_EQ(pipe.Read(std::span(scratch, 10)).value(), 10u);
  ASSERT_TRUE(pipe.Write(AsBytes("abcdefghijkl")).ok());  // 6 bytes to the end, 6 wrapped
  pipe.Finish(Status::Ok());
  const ByteView got = ReadFullView(pipe, std::span(scratch, 12)).value();
  EXPECT_EQ(Str(got), "abcdefghijkl");
  EXPECT_EQ(got.data(), scratch);  // gathered across the end
  EXPECT_TRUE(ReadFullView(pipe, std::span(scratch, 12)).value().empty());
}

TEST(StreamPipeTest, TheWriterSeesItsLastBytesInTheRingUntilItOverwritesThem) {
  StreamPipe pipe(8);
  ASSERT_TRUE(pipe.Write(AsBytes("abcdef")).ok());
  EXPECT_EQ(Str(pipe.Written(1, 4).value()), "bcde");
  EXPECT_FALSE(pipe.Written(4, 3).has_value());  // not written yet
  uint8_t buf[6];
  ASSERT_EQ(pipe.Read(buf).value(), 6u);
  EXPECT_EQ(Str(pipe.Written(0, 6).value()), "abcdef");  // read, but not overwritten
  ASSERT_TRUE(pipe.Write(AsBytes("ghij")).ok());         // i and j wrap to the front
  EXPECT_FALSE(pipe.Written(0, 2).has_value());          // overwritten by i and j
  EXPECT_EQ(Str(pipe.Written(2, 6).value()), "cdefgh");
  EXPECT_FALSE(pipe.Written(6, 4).has_value());  // g h | i j: across the end
  EXPECT_EQ(Str(pipe.Written(8, 2).value()), "ij");
  EXPECT_EQ(reinterpret_cast<uintptr_t>(pipe.Written(8, 2)->data()) % kDirectIoAlignment, 0u);
}

TEST(StreamPipeTest, WriterErrorComesAfterTheBytesReadInPlace) {
  StreamPipe pipe(1024);
  ASSERT_TRUE(pipe.Write(AsBytes("partial")).ok());
  pipe.Finish(UnavailableError("connection reset", "network"));
  EXPECT_EQ(Str(pipe.ReadInPlace(100).value()), "partial");
  StatusOr<ByteView> next = pipe.ReadInPlace(100);
  ASSERT_FALSE(next.ok());
  EXPECT_EQ(next.status().reason(), "network");
}

}  // namespace
}  // namespace cardvault
