// Tests for the real cardvault-tray binary: --help, and on a virtual X desktop (Xvfb) that
// it waits while there is no tray host, then docks into trayer once one runs.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace cardvault {
namespace {

const std::string kTray = CARDVAULT_BINARY_DIR "/agent/tray/cardvault-tray";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs `command` through the shell; returns its exit code and stdout.
int RunShell(const std::string& command, std::string* out) {
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) return -1;
  char buf[4096];
  size_t n;
  out->clear();
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out->append(buf, n);
  int rc = ::pclose(p);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

bool WaitFor(const std::function<bool()>& done, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return done();
}

// A child process with its output in a file, stopped (SIGTERM, then SIGKILL) when it goes.
class Child {
 public:
  Child(std::vector<std::string> argv, const std::string& output,
        std::vector<std::string> env_overrides, int pass_fd = -1) {
    pid_ = ::fork();
    if (pid_ == 0) {
      int fd = ::open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      if (pass_fd >= 0) ::dup2(pass_fd, 3);
      ::unsetenv("DBUS_SESSION_BUS_ADDRESS");  // the XEmbed tray, not StatusNotifierItem
      for (const std::string& kv : env_overrides) ::putenv(const_cast<char*>(kv.c_str()));
      std::vector<char*> args;
      for (std::string& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
  }
  ~Child() { Stop(); }
  bool Running() {
    if (pid_ <= 0) return false;
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == 0) return true;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    pid_ = -1;
    return false;
  }
  // Sends SIGTERM and returns the exit code (128+N for signal N; -1 if it had to be killed).
  int Stop() {
    if (!Running()) return exit_code_;
    ::kill(pid_, SIGTERM);
    if (!WaitFor([&] { return !Running(); }, 10000)) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
      exit_code_ = -1;
    }
    return exit_code_;
  }

 private:
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

// True if `tree` (xwininfo -root -tree) shows a window of class cardvault-tray inside the
// window whose line contains `host` (nested windows are indented deeper).
bool InsideHost(const std::string& tree, const std::string& host) {
  std::istringstream in(tree);
  std::string line;
  size_t host_indent = std::string::npos;
  while (std::getline(in, line)) {
    const size_t indent = line.find_first_not_of(' ');
    if (indent == std::string::npos) continue;
    if (host_indent != std::string::npos && indent <= host_indent) host_indent = std::string::npos;
    if (line.find(host) != std::string::npos) {
      host_indent = indent;
    } else if (host_indent != std::string::npos &&
               line.find("(\"cardvault-tray\" \"cardvault-tray\")") != std::string::npos) {
      return true;
    }
  }
  return false;
}

bool OnPath(const std::string& program) {
  std::string out;
  return RunShell("command -v " + program + " >/dev/null 2>&1 && echo yes", &out) == 0 &&
         out == "yes\n";
}

TEST(TrayBinaryTest, HelpNamesTheSocketOptionAndBadArgumentsAreRefused) {
  std::string out;
  ASSERT_EQ(RunShell(kTray + " --help", &out), 0);
  EXPECT_NE(out.find("--socket PATH"), std::string::npos) << out;
  EXPECT_EQ(RunShell(kTray + " --frobnicate 2>&1", &out), 2);
  EXPECT_NE(out.find("unexpected argument --frobnicate"), std::string::npos) << out;
  EXPECT_EQ(RunShell(kTray + " --socket 2>&1", &out), 2);
  EXPECT_NE(out.find("--socket needs a PATH"), std::string::npos) << out;
}

TEST(TrayBinaryTest, WithoutADisplayItSaysSoInsteadOfCrashing) {
  std::string out;
  EXPECT_EQ(
      RunShell("env -u DISPLAY -u WAYLAND_DISPLAY -u QT_QPA_PLATFORM " + kTray + " 2>&1", &out), 1);
  EXPECT_NE(out.find("no graphical session"), std::string::npos) << out;
}

TEST(TrayFilesTest, TheAutostartEntryStartsTheTrayBinary) {
  const std::string entry = ReadFile(CARDVAULT_SOURCE_DIR "/config/cardvault-tray.desktop");
  ASSERT_NE(entry.find("\n[Desktop Entry]\n"), std::string::npos) << entry;
  EXPECT_NE(entry.find("\nType=Application\n"), std::string::npos);
  EXPECT_NE(entry.find("\nExec=cardvault-tray\n"), std::string::npos);
  EXPECT_NE(entry.find("\nTerminal=false\n"), std::string::npos);
  EXPECT_EQ(std::filesystem::path(kTray).filename(), "cardvault-tray");
}

// The dependency rule (docs/architecture.md): the tray reaches the agent only through
// agent/control/agent_link.h.
TEST(TrayFilesTest, TheTrayIncludesNothingFromTheAgentButAgentLink) {
  size_t files = 0;
  for (const auto& f :
       std::filesystem::recursive_directory_iterator(CARDVAULT_SOURCE_DIR "/agent/tray")) {
    const std::string ext = f.path().extension().string();
    if (ext != ".h" && ext != ".cc") continue;
    ++files;
    std::istringstream in(ReadFile(f.path().string()));
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("#include \"agent/", 0) != 0) continue;
      EXPECT_TRUE(line == "#include \"agent/control/agent_link.h\"" ||
                  line.rfind("#include \"agent/tray/", 0) == 0)
          << f.path() << ": " << line;
    }
  }
  EXPECT_GE(files, 18u);  // the Qt tray, common/ and windows/
}

class TrayDesktopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!OnPath("Xvfb")) GTEST_SKIP() << "Xvfb is not installed (scripts/bootstrap.sh)";
    char tmpl[] = "/tmp/cv-tray-desktop-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    // Xvfb picks a free display itself and writes its number to fd 3.
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    xvfb_ = std::make_unique<Child>(std::vector<std::string>{"Xvfb", "-displayfd", "3", "-screen",
                                                             "0", "640x480x24", "-nolisten", "tcp"},
                                    dir_ + "/xvfb.log", std::vector<std::string>{}, fds[1]);
    ::close(fds[1]);
    std::string number;
    char c;
    while (::read(fds[0], &c, 1) == 1 && c != '\n') number += c;
    ::close(fds[0]);
    ASSERT_FALSE(number.empty()) << ReadFile(dir_ + "/xvfb.log");
    display_ = ":" + number;
  }
  void TearDown() override {
    tray_.reset();
    host_.reset();
    xvfb_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::string X(const std::string& command) {
    std::string out;
    RunShell("DISPLAY=" + display_ + " " + command + " 2>&1", &out);
    return out;
  }

  std::string dir_, display_;
  std::unique_ptr<Child> xvfb_, host_, tray_;
};

TEST_F(TrayDesktopTest, WaitsForATrayHostThenDocksIntoIt) {
  ASSERT_TRUE(OnPath("trayer")) << "trayer is not installed (scripts/bootstrap.sh)";
  ASSERT_TRUE(OnPath("xwininfo")) << "xwininfo is not installed (scripts/bootstrap.sh)";
  const std::string log = dir_ + "/tray.log";
  std::vector<std::string> env = {"DISPLAY=" + display_, "QT_QPA_PLATFORM=xcb"};
  tray_ = std::make_unique<Child>(
      std::vector<std::string>{kTray, "--socket", dir_ + "/no-agent.sock"}, log, env);

  // No tray host yet: a clear message, and the tray keeps waiting instead of exiting.
  ASSERT_TRUE(
      WaitFor([&] { return ReadFile(log).find("waiting for one") != std::string::npos; }, 15000))
      << ReadFile(log);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_TRUE(tray_->Running()) << ReadFile(log);
  EXPECT_FALSE(InsideHost(X("xwininfo -root -tree"), "(\"panel\" \"trayer\")"));

  host_ =
      std::make_unique<Child>(std::vector<std::string>{"trayer", "--edge", "top", "--align",
                                                       "right", "--width", "10", "--height", "32"},
                              dir_ + "/trayer.log", env);
  ASSERT_TRUE(WaitFor(
      [&] { return ReadFile(log).find("shown in the system tray") != std::string::npos; }, 15000))
      << ReadFile(log);

  // Docked: the tray's icon window (class cardvault-tray) sits inside trayer's panel.
  std::string tree;
  bool docked = WaitFor(
      [&] {
        tree = X("xwininfo -root -tree");
        return InsideHost(tree, "(\"panel\" \"trayer\")");
      },
      10000);
  ASSERT_TRUE(docked) << tree << "\n" << ReadFile(log);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_TRUE(tray_->Running()) << ReadFile(log);

  // The session ends: SIGTERM quits cleanly (and, in the ASan build, leak-checked).
  EXPECT_EQ(tray_->Stop(), 0) << ReadFile(log);
  EXPECT_NE(ReadFile(log).find("cardvault-tray: quit"), std::string::npos) << ReadFile(log);
}

}  // namespace
}  // namespace cardvault
