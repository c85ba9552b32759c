// Tests for the operating system's Env (POSIX or Windows) and the fault-injecting wrapper, on
// real files: what both Envs do alike. posix_env_test.cc and windows_env_test.cc hold the rest.
#include "core/env.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <vector>

#include "core/fault_injection_env.h"
#include "core/memory_file.h"
#include "core/platform.h"
#include "tests/core/env_test_fixture.h"
#include "tests/core/test_platform.h"

namespace cardvault {
namespace {

class EnvTest : public EnvTestBase {};

TEST_F(EnvTest, WriteAtomicallyAndReadBack) {
  ASSERT_TRUE(WriteFileAtomically(*env_, Path("a"), AsBytes("hello")).ok());
  auto data = ReadFileToBytes(*env_, Path("a"));
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(AsStringView(*data), "hello");
  auto info = env_->Stat(Path("a"));
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->size, 5u);
  EXPECT_EQ(info->mode & 0777, 0600u);
  EXPECT_TRUE(info->is_regular);
}

TEST_F(EnvTest, WriteAtOverwritesInPlace) {
  auto f = env_->NewWritableFile(Path("b"), 0600);
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->Append(AsBytes("xxxxworld")).ok());
  ASSERT_TRUE((*f)->WriteAt(0, AsBytes("helo")).ok());
  ASSERT_TRUE((*f)->Close().ok());
  EXPECT_EQ(AsStringView(ReadFileToBytes(*env_, Path("b")).value()), "heloworld");
}

TEST_F(EnvTest, ReopenKeepsThePrefixAndAppendsAfterIt) {
  ASSERT_TRUE(WriteFileAtomically(*env_, Path("r"), AsBytes("keep-this|drop-this")).ok());
  auto f = env_->ReopenWritableFile(Path("r"), 9);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ASSERT_TRUE((*f)->Append(AsBytes("+more")).ok());
  ASSERT_TRUE((*f)->Close().ok());
  EXPECT_EQ(AsStringView(ReadFileToBytes(*env_, Path("r")).value()), "keep-this+more");
  EXPECT_EQ(env_->ReopenWritableFile(Path("r"), 15).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(env_->ReopenWritableFile(Path("missing"), 0).status().code(), StatusCode::kNotFound);
}

TEST_F(EnvTest, ReadFullViewCopiesAFileThatCannotReadInPlaceIntoTheScratchBuffer) {
  ASSERT_TRUE(WriteFileAtomically(*env_, Path("v"), AsBytes("0123456789")).ok());
  auto opened = env_->NewSequentialFile(Path("v"));
  ASSERT_TRUE(opened.ok());
  SequentialFile& file = **opened;
  ASSERT_FALSE(file.ReadsInPlace());
  EXPECT_EQ(file.ReadInPlace(4).status().code(), StatusCode::kUnsupported);
  uint8_t scratch[6];
  ByteView got = ReadFullView(file, scratch).value();
  EXPECT_EQ(AsStringView(got), "012345");
  EXPECT_EQ(got.data(), scratch);
  got = ReadFullView(file, scratch).value();  // short at the end
  EXPECT_EQ(AsStringView(got), "6789");
  EXPECT_TRUE(ReadFullView(file, scratch).value().empty());
}

TEST(ReadFullViewTest, AnInMemoryFileIsReadInPlace) {
  const std::string data = "0123456789";
  MemorySequentialFile file(AsBytes(data));
  ASSERT_TRUE(file.ReadsInPlace());
  uint8_t scratch[6];
  ByteView got = ReadFullView(file, scratch).value();
  EXPECT_EQ(AsStringView(got), "012345");
  EXPECT_EQ(got.data(), AsBytes(data).data());
  got = ReadFullView(file, scratch).value();  // short at the end
  EXPECT_EQ(AsStringView(got), "6789");
  EXPECT_TRUE(ReadFullView(file, scratch).value().empty());
}

TEST_F(EnvTest, MissingFileIsNotFound) {
  auto r = env_->NewSequentialFile(Path("missing"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

TEST_F(EnvTest, SetTimesAndMode) {
  ASSERT_TRUE(WriteFileAtomically(*env_, Path("c"), AsBytes("x")).ok());
  ASSERT_TRUE(env_->SetFileTimesAndMode(Path("c"), 1234567890123456789, 0640).ok());
  auto info = env_->Stat(Path("c")).value();
  EXPECT_EQ(info.mtime_ns, StoredMtime(1234567890123456789));
  if (KeepsPosixModes()) {
    EXPECT_EQ(info.mode & 07777, 0640u);
  }
}

// Callers pick one flush of the file system over an fsync per file only where
// CanSyncFileSystem says it works, so it MUST NOT say so where the flush then fails (Wine opens
// a volume for writing, then answers its flush with ERROR_INVALID_FUNCTION).
TEST_F(EnvTest, CanSyncFileSystemOnlyWhereTheFlushWorks) {
  ASSERT_TRUE(WriteFileAtomically(*env_, Path("d"), AsBytes("x")).ok());
  if (env_->CanSyncFileSystem(dir_)) {
    EXPECT_TRUE(env_->SyncFileSystem(dir_).ok()) << env_->SyncFileSystem(dir_).ToString();
  } else {
    EXPECT_FALSE(env_->SyncFileSystem(dir_).ok()) << "it could have flushed it";
  }
}

// The *Inside calls on plain directories: they reach what they name, and refuse paths that are
// not plain before touching anything.
TEST_F(EnvTest, InsideOperationsWorkOnPlainPaths) {
  namespace fs = std::filesystem;
  fs::create_directories(Path("root/a/b"));
  const std::string root = Path("root");
  auto put = [&](const std::string& name) {
    EXPECT_TRUE(WriteFileAtomically(*env_, Path(name), AsBytes("x")).ok());
    return Path(name);
  };
  EXPECT_TRUE(env_->RenameInside(put("f1"), root, "a/b/f").ok());
  EXPECT_TRUE(fs::exists(Path("root/a/b/f")));
  EXPECT_TRUE(env_->RenameInside(put("f2"), root, "top").ok());
  EXPECT_TRUE(fs::exists(Path("root/top")));
  put("f3");
  for (const std::string rel : {"../f", "a/../f", "./f", "a//f", "", "/f"}) {
    EXPECT_EQ(env_->RenameInside(Path("f3"), root, rel).reason(), "unsafe_path") << rel;
  }
  EXPECT_TRUE(fs::exists(Path("f3")));
  ASSERT_TRUE(env_->SetDirectoryTimesAndModeInside(root, "a/b", 1234567890123456789, 0750).ok());
  auto info = env_->Stat(Path("root/a/b")).value();
  EXPECT_TRUE(info.is_directory);
  EXPECT_EQ(info.mtime_ns, StoredMtime(1234567890123456789));
  if (KeepsPosixModes()) {
    EXPECT_EQ(info.mode & 07777, 0750u);
  }
  EXPECT_EQ(env_->SetDirectoryTimesAndModeInside(root, "a/b/f", 0, 0700).code(),
            StatusCode::kIoError)
      << "a file is not a directory";
}

TEST_F(EnvTest, FaultInjectionFailsNthWriteAndLeavesTargetUntouched) {
  ASSERT_TRUE(WriteFileAtomically(*env_, Path("d"), AsBytes("old")).ok());
  FaultInjectionEnv faulty(env_);
  faulty.FailNthWrite(1);
  Status s = WriteFileAtomically(faulty, Path("d"), AsBytes("new"));
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_EQ(AsStringView(ReadFileToBytes(*env_, Path("d")).value()), "old");
  EXPECT_FALSE(std::filesystem::exists(Path("d.tmp-cardvault")));
}

TEST_F(EnvTest, FaultInjectionDiskFull) {
  FaultInjectionEnv faulty(env_);
  faulty.SetDiskFullAfter(4);
  Status s = WriteFileAtomically(faulty, Path("e"), AsBytes("12345"));
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(s.reason(), "disk_full");
  EXPECT_FALSE(std::filesystem::exists(Path("e")));
  faulty.ClearFaults();
  EXPECT_TRUE(WriteFileAtomically(faulty, Path("e"), AsBytes("12345")).ok());
}

TEST_F(EnvTest, FaultInjectionFailsRenameAndSync) {
  FaultInjectionEnv faulty(env_);
  faulty.FailNthRename(1);
  EXPECT_EQ(WriteFileAtomically(faulty, Path("f"), AsBytes("x")).code(), StatusCode::kIoError);
  EXPECT_FALSE(std::filesystem::exists(Path("f")));
  faulty.ClearFaults();
  faulty.FailNthSync(faulty.syncs() + 1);
  EXPECT_EQ(WriteFileAtomically(faulty, Path("g"), AsBytes("x")).code(), StatusCode::kIoError);
  EXPECT_FALSE(std::filesystem::exists(Path("g")));
}

TEST(DirNameTest, SplitsAtThePlatformsSeparators) {
  EXPECT_EQ(DirName("a/b/c"), "a/b");
  EXPECT_EQ(DirName("c"), ".");
  EXPECT_EQ(DirName("/c"), "/");
  EXPECT_EQ(DirName("/a/c"), "/a");
  if (IsPathSeparator('\\')) {
    // What DefaultConfigPath gives on Windows: `init` creates this directory before writing.
    EXPECT_EQ(DirName("C:\\users\\u\\AppData\\Roaming\\cardvault\\config.json"),
              "C:\\users\\u\\AppData\\Roaming\\cardvault");
    EXPECT_EQ(DirName("C:\\config.json"), "C:\\");
    EXPECT_EQ(DirName("C:/a\\b"), "C:/a");
  } else {
    EXPECT_EQ(DirName("a\\b"), ".");  // a backslash is part of a POSIX name
    EXPECT_EQ(DirName("C:/x"), "C:");
  }
}

}  // namespace
}  // namespace cardvault
