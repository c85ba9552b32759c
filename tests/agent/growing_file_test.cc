// Tests for GrowingFile: a reader keeps up with a writer appending on another thread, sees
// the writer's error after the bytes written before it, and can ask the writer to stop.
#include "agent/growing_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <thread>

namespace cardvault {
namespace {

class GrowingFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cv-growing-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    path_ = dir_ + "/part";
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT_GE(fd_, 0);
  }
  void TearDown() override {
    ::close(fd_);
    std::filesystem::remove_all(dir_);
  }
  // Reads everything until end or error; returns the bytes and sets `status`.
  static std::string ReadAll(GrowingFile& f, Status* status) {
    std::string out;
    uint8_t buf[7];  // small reads cross the writer's pieces
    while (true) {
      StatusOr<size_t> n = f.Read(buf);
      if (!n.ok()) {
        *status = n.status();
        return out;
      }
      if (*n == 0) return out;
      out.append(reinterpret_cast<char*>(buf), *n);
    }
  }

  std::string dir_, path_;
  int fd_ = -1;
};

TEST_F(GrowingFileTest, ReaderFollowsTheWriterToTheEnd) {
  ASSERT_EQ(::write(fd_, "resumed:", 8), 8);  // what an earlier run left
  auto f = GrowingFile::Open(path_, 8).value();
  std::string expected = "resumed:";
  for (int i = 0; i < 200; ++i) expected += "piece " + std::to_string(i) + ";";
  std::thread writer([&] {
    uint64_t written = 8;
    for (int i = 0; i < 200; ++i) {
      std::string piece = "piece " + std::to_string(i) + ";";
      ASSERT_EQ(::write(fd_, piece.data(), piece.size()), static_cast<ssize_t>(piece.size()));
      written += piece.size();
      f->Advance(written);
      if (i % 50 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    f->Finish(Status::Ok());
  });
  Status status;
  EXPECT_EQ(ReadAll(*f, &status), expected);
  EXPECT_TRUE(status.ok());
  writer.join();
}

TEST_F(GrowingFileTest, WriterErrorComesAfterTheBytesWrittenBeforeIt) {
  auto f = GrowingFile::Open(path_, 0).value();
  std::thread writer([&] {
    ASSERT_EQ(::write(fd_, "partial", 7), 7);
    f->Advance(7);
    f->Finish(UnavailableError("connection cut (test)"));
  });
  Status status;
  EXPECT_EQ(ReadAll(*f, &status), "partial");
  EXPECT_EQ(status.code(), StatusCode::kUnavailable);
  writer.join();
  EXPECT_EQ(f->WaitFinished().code(), StatusCode::kUnavailable);
}

TEST_F(GrowingFileTest, CancelIsSeenByTheWriter) {
  auto f = GrowingFile::Open(path_, 0).value();
  EXPECT_FALSE(f->cancelled());
  std::thread writer([&] {
    while (!f->cancelled()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    f->Finish(CancelledError("stopped"));
  });
  f->Cancel();
  EXPECT_EQ(f->WaitFinished().code(), StatusCode::kCancelled);
  writer.join();
}

}  // namespace
}  // namespace cardvault
