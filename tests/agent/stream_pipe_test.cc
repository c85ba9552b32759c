// Tests for StreamPipe: bytes arrive in order through a ring smaller than the stream, the
// writer's error comes after the bytes written before it, and a reader that gives up
// releases a writer blocked on a full pipe.
#include "agent/stream_pipe.h"

#include <gtest/gtest.h>

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

TEST(StreamPipeTest, EveryByteArrivesInOrderThroughASmallRing) {
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
      const std::string got = ReadAll(pipe, piece, &status);
      writer.join();
      EXPECT_TRUE(status.ok()) << status.ToString();
      ASSERT_EQ(got.size(), data.size()) << capacity << " " << piece;
      EXPECT_TRUE(got == data) << capacity << " " << piece;
    }
  }
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

}  // namespace
}  // namespace cardvault
