// Tests for what only the POSIX Env does: symlinks never followed, write-once files around the
// page cache (O_DIRECT). The behaviour both Envs share is in env_test.cc.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <vector>

#include "core/env.h"
#include "tests/core/env_test_fixture.h"
#include "tests/core/test_platform.h"

namespace cardvault {
namespace {

class PosixEnvTest : public EnvTestBase {};

TEST_F(PosixEnvTest, ReopenNeverGoesThroughASymlink) {
  ASSERT_TRUE(WriteFileAtomically(*env_, Path("r"), AsBytes("keep-this")).ok());
  std::filesystem::create_symlink(Path("r"), Path("link"));
  EXPECT_FALSE(env_->ReopenWritableFile(Path("link"), 0).ok()) << "never through a symlink";
  EXPECT_EQ(AsStringView(ReadFileToBytes(*env_, Path("r")).value()), "keep-this");
}

// The fraction of `path`'s pages that are in the page cache (mincore).
double ResidentFraction(const std::string& path, size_t size) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  const size_t pages = (size + 4095) / 4096;
  std::vector<unsigned char> in_core(pages);
  ::mincore(map, size, in_core.data());
  ::munmap(map, size);
  size_t resident = 0;
  for (unsigned char c : in_core) resident += c & 1;
  return static_cast<double>(resident) / static_cast<double>(pages);
}

TEST_F(PosixEnvTest, WriteOnceAppendsGoAroundThePageCacheAndKeepTheContent) {
  constexpr size_t kBlock = 1 << 20;
  std::unique_ptr<uint8_t[]> storage(new uint8_t[kBlock + 2 * kDirectIoAlignment]);
  uint8_t* block =
      storage.get() +
      (kDirectIoAlignment - reinterpret_cast<uintptr_t>(storage.get()) % kDirectIoAlignment);
  std::string expected;
  for (bool advised : {false, true}) {
    const std::string path = Path(advised ? "once" : "cached");
    auto f = env_->NewWritableFile(path, 0600).value();
    if (advised) f->AdviseWriteOnce();
    expected.clear();
    for (int i = 0; i < 4; ++i) {
      std::memset(block, 'a' + i, kBlock);
      ASSERT_TRUE(f->Append({block, kBlock}).ok());
      expected.append(kBlock, static_cast<char>('a' + i));
    }
    ASSERT_TRUE(f->Append(AsBytes("unaligned tail")).ok());  // written normally
    ASSERT_TRUE(f->Append({block + 1, kBlock - 1}).ok());    // misaligned: written normally
    expected += "unaligned tail" + std::string(kBlock - 1, 'd');
    ASSERT_TRUE(f->Sync().ok());
    ASSERT_TRUE(f->Close().ok());
    EXPECT_TRUE(AsStringView(ReadFileToBytes(*env_, path).value()) == expected) << advised;
  }
  // Residency, once the reads above are forgotten: only the advised file's blocks (their
  // sizes are multiples of the alignment) stayed out of the cache (where the file system supports
  // O_DIRECT at all).
  const int probe = ::open(Path("probe").c_str(), O_WRONLY | O_CREAT | O_DIRECT, 0600);
  if (probe < 0) GTEST_SKIP() << "no O_DIRECT on " << dir_;
  ::close(probe);
  for (const char* name : {"cached", "once"}) {
    const int fd = ::open(Path(name).c_str(), O_RDONLY);
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
  }
  for (size_t i = 0; i < kBlock + 2 * kDirectIoAlignment; ++i) {
    storage[i] = static_cast<uint8_t>(i % 251);
  }
  std::string once;
  auto rewrite_cached = env_->ReopenWritableFile(Path("cached"), 0).value();
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(rewrite_cached->Append({block, kBlock}).ok());
  ASSERT_TRUE(rewrite_cached->Close().ok());
  auto rewrite_once = env_->ReopenWritableFile(Path("once"), 0).value();
  rewrite_once->AdviseWriteOnce();
  for (int i = 0; i < 4; ++i) {  // from an aligned address, then (bounced) from others
    const uint8_t* from = block + (i < 2 ? 0 : 8 * i);
    ASSERT_TRUE(rewrite_once->Append({from, kBlock}).ok());
    once.append(reinterpret_cast<const char*>(from), kBlock);
  }
  ASSERT_TRUE(rewrite_once->Close().ok());
  EXPECT_GT(ResidentFraction(Path("cached"), 4 * kBlock), 0.9);
  EXPECT_LT(ResidentFraction(Path("once"), 4 * kBlock), 0.1);
  EXPECT_TRUE(AsStringView(ReadFileToBytes(*env_, Path("once")).value()) == once);
}

TEST_F(PosixEnvTest, NewWritableFileDoesNotWriteThroughASymlink) {
  ASSERT_TRUE(WriteFileAtomically(*env_, Path("victim"), AsBytes("keep")).ok());
  std::filesystem::create_symlink(Path("victim"), Path("link"));
  auto f = env_->NewWritableFile(Path("link"));
  EXPECT_FALSE(f.ok());
  EXPECT_EQ(AsStringView(ReadFileToBytes(*env_, Path("victim")).value()), "keep");
}

// RenameInside and SetDirectoryTimesAndModeInside walk to their directory from the root
// without following a symlink at any depth, and refuse paths that are not plain.
TEST_F(PosixEnvTest, InsideOperationsNeverGoThroughASymlink) {
  namespace fs = std::filesystem;
  fs::create_directories(Path("root/a/b"));
  fs::create_directories(Path("outside/b"));
  fs::create_directory_symlink(Path("outside"), Path("root/link"));
  fs::create_directory_symlink(Path("outside/b"), Path("root/a/blink"));
  const std::string root = Path("root");
  auto put = [&](const std::string& name) {
    EXPECT_TRUE(WriteFileAtomically(*env_, Path(name), AsBytes("x")).ok());
    return Path(name);
  };
  EXPECT_TRUE(env_->RenameInside(put("f1"), root, "a/b/f").ok());
  EXPECT_TRUE(fs::exists(Path("root/a/b/f")));
  EXPECT_TRUE(env_->RenameInside(put("f2"), root, "top").ok());
  EXPECT_TRUE(fs::exists(Path("root/top")));
  for (const std::string rel : {"link/f", "link/b/f", "a/blink/f"}) {
    Status s = env_->RenameInside(put("f3"), root, rel);
    EXPECT_EQ(s.reason(), "unsafe_path") << rel << ": " << s.ToString();
  }
  for (const std::string rel : {"../f", "a/../f", "./f", "a//f", "", "/f"}) {
    EXPECT_EQ(env_->RenameInside(Path("f3"), root, rel).reason(), "unsafe_path") << rel;
  }
  EXPECT_TRUE(fs::is_empty(Path("outside/b"))) << "nothing went through a symlink";
  EXPECT_TRUE(fs::exists(Path("f3")));

  ASSERT_TRUE(env_->SetDirectoryTimesAndModeInside(root, "a/b", 1234567890123456789, 0750).ok());
  auto info = env_->Stat(Path("root/a/b")).value();
  EXPECT_EQ(info.mtime_ns, 1234567890123456789);
  EXPECT_EQ(info.mode & 07777, 0750u);
  ::chmod(Path("outside").c_str(), 0755);
  ::chmod(Path("outside/b").c_str(), 0755);
  for (const std::string rel : {"link", "link/b", "a/blink"}) {
    EXPECT_EQ(env_->SetDirectoryTimesAndModeInside(root, rel, 0, 0700).reason(), "unsafe_path")
        << rel;
  }
  EXPECT_EQ(env_->Stat(Path("outside")).value().mode & 07777, 0755u);
  EXPECT_EQ(env_->Stat(Path("outside/b")).value().mode & 07777, 0755u);
  EXPECT_EQ(env_->SetDirectoryTimesAndModeInside(root, "a/b/f", 0, 0700).code(),
            StatusCode::kIoError)
      << "a file is not a directory";
}

}  // namespace
}  // namespace cardvault
