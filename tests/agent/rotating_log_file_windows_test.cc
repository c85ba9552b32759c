// RotatingLogFile, the Windows agent's log (agent.log, agent.log.1) on real files under Wine:
// writing past the cap rotates, the newest lines stay in agent.log and the older in
// agent.log.1, no third file appears, and no line is lost, with two writers or while another
// program holds agent.log.1 open without letting it be replaced.
#define WIN32_LEAN_AND_MEAN
#define NOMINMAX
#include <windows.h>
// clang-format off: after windows.h
#include <gtest/gtest.h>
// clang-format on

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "agent/sync/rotating_log_file.h"
#include "tests/core/test_platform.h"

namespace cardvault {
namespace {

constexpr int64_t kCap = 1000;

class RotatingLogFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = NewTempDir("cv-log-test");
    path_ = dir_ + "/agent.log";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<RotatingLogFile> Open() {
    auto f = RotatingLogFile::Open(path_, kCap);
    EXPECT_TRUE(f.ok()) << f.status().ToString();
    return f.ok() ? std::move(*f) : nullptr;
  }
  // Line `i`: 50 bytes with its newline, so 20 lines fill the cap.
  static std::string Line(int i) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s line %04d %-34s\n", "2026-12-06", i, "");
    return std::string(buf, 50);
  }
  static std::string Read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }
  int64_t Size(const std::string& name) {
    return static_cast<int64_t>(std::filesystem::file_size(dir_ + "/" + name));
  }
  std::set<std::string> Files() {
    std::set<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir_)) {
      names.insert(e.path().filename().string());
    }
    return names;
  }
  // agent.log.1 then agent.log hold lines first..last, in order, each whole.
  void ExpectLines(int first, int last) {
    std::string want;
    for (int i = first; i <= last; ++i) want += Line(i);
    EXPECT_EQ(Read(path_ + ".1") + Read(path_), want);
  }

  std::string dir_, path_;
};

TEST_F(RotatingLogFileTest, WritingPastTheCapKeepsTheNewestInTheLogAndTheOlderInLogDotOne) {
  auto log = Open();
  ASSERT_NE(log, nullptr);
  for (int i = 0; i < 19; ++i) log->Append(Line(i));
  EXPECT_EQ(Files(), std::set<std::string>({"agent.log"}));
  EXPECT_EQ(Size("agent.log"), 950);
  // Line 19 reaches the cap: it ends the file, which becomes agent.log.1.
  log->Append(Line(19));
  EXPECT_EQ(Files(), std::set<std::string>({"agent.log", "agent.log.1"}));
  EXPECT_EQ(Size("agent.log.1"), 1000);
  EXPECT_EQ(Size("agent.log"), 0);
  // Five caps' worth: still two files, each at most the cap.
  for (int i = 20; i < 107; ++i) log->Append(Line(i));
  EXPECT_EQ(Files(), std::set<std::string>({"agent.log", "agent.log.1"}));
  EXPECT_EQ(Size("agent.log.1"), 1000);
  EXPECT_EQ(Size("agent.log"), 7 * 50);
  ExpectLines(80, 106);
}

TEST_F(RotatingLogFileTest, ALineThatCrossesTheCapIsKeptWhole) {
  auto log = Open();
  ASSERT_NE(log, nullptr);
  for (int i = 0; i < 19; ++i) log->Append(Line(i));
  const std::string longer = std::string(200, 'x') + "\n";
  log->Append(longer);  // 950 + 201 bytes: crosses the cap, stays in one piece
  log->Append(Line(19));
  EXPECT_EQ(Size("agent.log.1"), 1151);
  EXPECT_EQ(Read(path_ + ".1").substr(950), longer);
  EXPECT_EQ(Read(path_), Line(19));
}

// Two agents (another --config and --socket) share %LOCALAPPDATA%\cardvault\agent.log: each has
// its own handle, as two processes do; after one rotates, the other moves to the new file.
TEST_F(RotatingLogFileTest, TwoWritersOfOneFileKeepTwoFilesAndEveryLineInOrder) {
  auto a = Open();
  auto b = Open();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  for (int i = 0; i < 130; ++i) (i % 2 == 0 ? a : b)->Append(Line(i));
  EXPECT_EQ(Files(), std::set<std::string>({"agent.log", "agent.log.1"}));
  EXPECT_EQ(Size("agent.log.1"), 1000);
  EXPECT_EQ(Size("agent.log"), 10 * 50);
  ExpectLines(100, 129);
  // A writer silent since the last rotation still has agent.log.1 open: its next line goes to
  // agent.log all the same.
  for (int i = 130; i < 140; ++i) a->Append(Line(i));
  b->Append(Line(140));
  EXPECT_EQ(Files(), std::set<std::string>({"agent.log", "agent.log.1"}));
  EXPECT_EQ(Size("agent.log.1"), 1000);
  EXPECT_EQ(Read(path_), Line(140));
  ExpectLines(120, 140);
}

// Someone reads agent.log.1 with a program that does not share it for deletion: it cannot be
// replaced, so agent.log grows past the cap (every line kept) until the rotation succeeds.
TEST_F(RotatingLogFileTest, WhileLogDotOneCannotBeReplacedLinesStayInTheLog) {
  auto log = Open();
  ASSERT_NE(log, nullptr);
  for (int i = 0; i < 20; ++i) log->Append(Line(i));
  ASSERT_EQ(Files(), std::set<std::string>({"agent.log", "agent.log.1"}));
  const std::wstring old = std::filesystem::path(path_ + ".1").wstring();
  HANDLE reader = ::CreateFileW(old.c_str(), GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE,
                                nullptr, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr);
  ASSERT_NE(reader, INVALID_HANDLE_VALUE);
  for (int i = 20; i < 45; ++i) log->Append(Line(i));
  ::CloseHandle(reader);
  EXPECT_EQ(Size("agent.log.1"), 1000);
  EXPECT_EQ(Size("agent.log"), 25 * 50);
  // Released: the next line rotates first, then starts the new agent.log.
  log->Append(Line(45));
  EXPECT_EQ(Files(), std::set<std::string>({"agent.log", "agent.log.1"}));
  EXPECT_EQ(Size("agent.log.1"), 25 * 50);
  EXPECT_EQ(Read(path_), Line(45));
  ExpectLines(20, 45);
}

}  // namespace
}  // namespace cardvault
