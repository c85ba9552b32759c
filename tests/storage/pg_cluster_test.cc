// PgCluster's watchdog: a process that started a cluster and is killed with SIGKILL (no
// destructor runs) leaves no postmaster running and no directory in /tmp.
#include "tests/storage/pg_cluster.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace cardvault {
namespace {

// The child: starts a cluster, writes its directory (or "" on failure) to `fd`, then waits
// to be killed (at most a minute).
[[noreturn]] void StartClusterAndWait(int fd) {
  auto cluster = PgCluster::Start();
  std::string dir;
  if (cluster.ok()) dir = (*cluster)->ConnInfo("x").substr(5);  // "host=DIR port=..."
  dir = dir.substr(0, dir.find(' ')) + "\n";
  if (::write(fd, dir.data(), dir.size()) < 0) ::_exit(1);
  ::sleep(60);
  ::_exit(0);
}

std::string ReadLine(int fd) {
  std::string line;
  char c;
  while (::read(fd, &c, 1) == 1 && c != '\n') line += c;
  return line;
}

// The postmaster's pid: the first line of data/postmaster.pid.
pid_t PostmasterPid(const std::string& dir) {
  std::ifstream in(dir + "/data/postmaster.pid");
  long pid = 0;
  in >> pid;
  return static_cast<pid_t>(pid);
}

bool Alive(pid_t pid) { return ::kill(pid, 0) == 0; }

TEST(PgClusterTest, KilledOwnerLeavesNoServerAndNoDirectory) {
  if (std::string why = SharedPgClusterUnavailable(); !why.empty()) GTEST_SKIP() << why;
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(fds[0]);
    StartClusterAndWait(fds[1]);
  }
  ::close(fds[1]);
  const std::string dir = ReadLine(fds[0]);
  ::close(fds[0]);
  ASSERT_FALSE(dir.empty()) << "the child could not start a cluster";
  const pid_t postmaster = PostmasterPid(dir);
  ASSERT_GT(postmaster, 0) << dir;
  ASSERT_TRUE(Alive(postmaster));

  ::kill(child, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);  // reaped: no zombie keeps its pid alive
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while ((Alive(postmaster) || std::filesystem::exists(dir)) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_FALSE(Alive(postmaster)) << "postmaster " << postmaster << " still runs";
  EXPECT_FALSE(std::filesystem::exists(dir)) << dir << " is still there";
}

}  // namespace
}  // namespace cardvault
