// Tests for what only the Windows Env does (run under Wine by scripts/test-windows.sh):
// rename over an existing file, UTF-8 names as UTF-16, and reparse points (junctions and
// symbolic links) treated as symlinks are on POSIX. The behaviour both Envs share is in
// env_test.cc.
#define WIN32_LEAN_AND_MEAN
#define NOMINMAX
#include <windows.h>
// clang-format off: after windows.h
#include <winioctl.h>
// clang-format on

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

#include "core/env.h"
#include "tests/core/test_platform.h"

namespace cardvault {
namespace {

namespace fs = std::filesystem;

// A UTF-8 std::string as a path (std::string alone means the ANSI code page on Windows).
fs::path U8(const std::string& utf8) { return fs::path(std::u8string(utf8.begin(), utf8.end())); }

class WindowsEnvTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = NewTempDir("cv-win-env-test"); }
  void TearDown() override { fs::remove_all(U8(dir_)); }
  std::string Path(const std::string& name) { return dir_ + "/" + name; }
  std::string Read(const std::string& name) {
    auto bytes = ReadFileToBytes(*env_, Path(name));
    return bytes.ok() ? std::string(AsStringView(*bytes)) : "<" + bytes.status().ToString() + ">";
  }
  void Put(const std::string& name, std::string_view content) {
    ASSERT_TRUE(WriteFileAtomically(*env_, Path(name), AsBytes(content)).ok()) << name;
  }

  std::string dir_;
  Env* env_ = Env::Default();
};

// MoveFileW without MOVEFILE_REPLACE_EXISTING (or std::rename) fails when the target exists:
// every atomic write of cardvault replaces a file that exists.
TEST_F(WindowsEnvTest, RenameReplacesAnExistingFile) {
  Put("target", "old");
  Put("new", "new content");
  ASSERT_TRUE(env_->RenameFile(Path("new"), Path("target")).ok());
  EXPECT_EQ(Read("target"), "new content");
  EXPECT_FALSE(fs::exists(Path("new")));
  // Again through WriteFileAtomically. (A target open elsewhere cannot be replaced on Windows
  // without POSIX rename semantics: docs/windows.md.)
  Put("target", "second");
  EXPECT_EQ(Read("target"), "second");
  // Inside a tree, over an existing file as well.
  fs::create_directories(Path("root/a"));
  Put("root/a/f", "old");
  Put("g", "replaced inside");
  ASSERT_TRUE(env_->RenameInside(Path("g"), Path("root"), "a/f").ok());
  EXPECT_EQ(Read("root/a/f"), "replaced inside");
}

// UTF-8 names are UTF-16 names on disk, not the ANSI code page's reading of their bytes.
TEST_F(WindowsEnvTest, Utf8NamesAreKept) {
  const std::string name = "caf\xc3\xa9-\xe2\x82\xac-\xe6\x97\xa5.txt";  // café-€-日.txt
  Put(name, "utf8");
  EXPECT_TRUE(fs::exists(U8(dir_) / fs::path(L"caf\u00e9-\u20ac-\u65e5.txt")));
  EXPECT_EQ(Read(name), "utf8");
  EXPECT_EQ(env_->Stat(Path(name)).value().size, 4u);
  ASSERT_TRUE(env_->CreateDirs(Path("\xc3\xa9t\xc3\xa9/sub")).ok());
  EXPECT_TRUE(fs::is_directory(U8(dir_) / fs::path(L"\u00e9t\u00e9") / "sub"));
}

// Makes `link` a junction (an NTFS mount point reparse point) to the directory `target`, as
// `mklink /J` does. False where the file system refuses.
bool MakeJunction(const std::string& link, const std::string& target) {
  const std::wstring target_w = fs::absolute(U8(target)).make_preferred().wstring();
  const std::wstring substitute = L"\\??\\" + target_w;
  if (!fs::create_directory(U8(link))) return false;
  // REPARSE_DATA_BUFFER's MountPointReparseBuffer (ntifs.h, not in MinGW's headers).
  struct Header {
    DWORD tag;
    WORD data_length;
    WORD reserved;
    WORD substitute_offset, substitute_length, print_offset, print_length;
  };
  std::vector<wchar_t> names(substitute.begin(), substitute.end());
  names.push_back(L'\0');
  names.insert(names.end(), target_w.begin(), target_w.end());
  names.push_back(L'\0');
  std::vector<uint8_t> buffer(sizeof(Header) + names.size() * sizeof(wchar_t));
  Header h = {};
  h.tag = IO_REPARSE_TAG_MOUNT_POINT;
  h.data_length = static_cast<WORD>(buffer.size() - 8);
  h.substitute_length = static_cast<WORD>(substitute.size() * sizeof(wchar_t));
  h.print_offset = static_cast<WORD>((substitute.size() + 1) * sizeof(wchar_t));
  h.print_length = static_cast<WORD>(target_w.size() * sizeof(wchar_t));
  std::memcpy(buffer.data(), &h, sizeof(h));
  std::memcpy(buffer.data() + sizeof(h), names.data(), names.size() * sizeof(wchar_t));
  HANDLE dir = ::CreateFileW(U8(link).wstring().c_str(), GENERIC_WRITE, 0, nullptr, OPEN_EXISTING,
                             FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS, nullptr);
  if (dir == INVALID_HANDLE_VALUE) return false;
  DWORD returned = 0;
  const bool ok =
      ::DeviceIoControl(dir, FSCTL_SET_REPARSE_POINT, buffer.data(),
                        static_cast<DWORD>(buffer.size()), nullptr, 0, &returned, nullptr) != 0;
  ::CloseHandle(dir);
  return ok;
}

// Checks that the *Inside calls and NewWritableFile refuse the links root/link -> outside and
// root/a/blink -> outside/b (junctions or Unix symlinks) and change nothing behind them.
void ExpectInsideOperationsRefuse(Env& env, const std::string& root, const std::string& outside,
                                  const std::string& from) {
  ASSERT_TRUE(fs::is_directory(U8(root + "/link/b"))) << "the link leads outside";
  EXPECT_TRUE(env.Stat(root + "/link").value().is_symlink);
  EXPECT_FALSE(env.Stat(root + "/link").value().is_directory);
  for (const std::string rel : {"link/f", "link/b/f", "a/blink/f"}) {
    Status s = env.RenameInside(from, root, rel);
    EXPECT_EQ(s.reason(), "unsafe_path") << rel << ": " << s.ToString();
  }
  EXPECT_TRUE(fs::is_empty(U8(outside + "/b"))) << "nothing went through a link";
  EXPECT_TRUE(fs::exists(U8(from)));
  ASSERT_TRUE(env.SetFileTimesAndMode(outside + "/b", 1000000000000000000, 0700).ok());
  for (const std::string rel : {"link", "link/b", "a/blink"}) {
    EXPECT_EQ(env.SetDirectoryTimesAndModeInside(root, rel, 1700000000000000000, 0700).reason(),
              "unsafe_path")
        << rel;
  }
  EXPECT_EQ(env.Stat(outside + "/b").value().mtime_ns, 1000000000000000000)
      << "the directory behind the link kept its time";
  // A link where a file is to be written is not written through either.
  EXPECT_EQ(env.NewWritableFile(root + "/link").status().reason(), "unsafe_path");
  EXPECT_EQ(env.ReopenWritableFile(root + "/link", 0).status().reason(), "unsafe_path");
}

// A junction is followed by every path-based call (CreateFileW, MoveFileExW): the Env must
// refuse it as the POSIX Env refuses a symlink, at the end of a path and on the way.
TEST_F(WindowsEnvTest, InsideOperationsNeverGoThroughAJunction) {
  fs::create_directories(U8(Path("root/a")));
  fs::create_directories(U8(Path("outside/b")));
  if (!MakeJunction(Path("root/link"), Path("outside")) ||
      !MakeJunction(Path("root/a/blink"), Path("outside/b"))) {
    // Wine 8 answers FSCTL_SET_REPARSE_POINT with ERROR_NOT_SUPPORTED (50).
    GTEST_SKIP() << "this file system cannot make a junction (error " << ::GetLastError() << ")";
  }
  Put("f", "x");
  ExpectInsideOperationsRefuse(*env_, Path("root"), Path("outside"), Path("f"));
}

// Under Wine, a Unix symlink is the reparse point there is: scripts/test-windows.sh makes
// root/link -> ../outside and root/a/blink -> ../../outside/b in the directory it names in
// CARDVAULT_TEST_UNIX_LINKS (a test switch; Windows runs skip this). Wine 8 shows only links to
// directories as reparse points: a Unix link to a file looks like the file itself there.
TEST_F(WindowsEnvTest, UnixSymlinksUnderWineAreRefusedAsReparsePoints) {
  const char* fixture = std::getenv("CARDVAULT_TEST_UNIX_LINKS");
  if (fixture == nullptr) GTEST_SKIP() << "CARDVAULT_TEST_UNIX_LINKS is not set (not under Wine)";
  const std::string dir = fixture;
  Put("f", "x");
  ExpectInsideOperationsRefuse(*env_, dir + "/root", dir + "/outside", Path("f"));
}

// A file symbolic link at the path of NewWritableFile is refused, and its target is untouched.
TEST_F(WindowsEnvTest, NewWritableFileDoesNotWriteThroughASymbolicLink) {
  Put("victim", "keep");
  const std::wstring link = U8(Path("link")).make_preferred().wstring();
  const std::wstring target = U8(Path("victim")).make_preferred().wstring();
  // Wine 8's CreateSymbolicLinkW is a stub that reports success and creates nothing.
  if (::CreateSymbolicLinkW(link.c_str(), target.c_str(),
                            SYMBOLIC_LINK_FLAG_ALLOW_UNPRIVILEGED_CREATE) == 0 ||
      !fs::exists(fs::symlink_status(U8(Path("link"))))) {
    GTEST_SKIP() << "cannot create a symbolic link here (error " << ::GetLastError() << ")";
  }
  EXPECT_TRUE(env_->Stat(Path("link")).value().is_symlink);
  EXPECT_FALSE(env_->NewWritableFile(Path("link")).ok());
  EXPECT_FALSE(env_->ReopenWritableFile(Path("link"), 0).ok());
  EXPECT_EQ(Read("victim"), "keep");
}

// The clocks: wall time near the C library's, monotonic time that does not go back.
TEST_F(WindowsEnvTest, Clocks) {
  const int64_t now = env_->NowUnixNanos();
  const int64_t c_now = static_cast<int64_t>(std::time(nullptr)) * 1000000000;
  EXPECT_LT(std::abs(now - c_now), int64_t{5} * 1000000000);
  const int64_t a = env_->MonotonicNanos();
  ::Sleep(20);
  const int64_t b = env_->MonotonicNanos();
  EXPECT_GE(b - a, 15 * 1000000);
  EXPECT_LT(b - a, int64_t{5} * 1000000000);
}

}  // namespace
}  // namespace cardvault
