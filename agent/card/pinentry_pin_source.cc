// PinentryPinSource: spawns pinentry and reads a PIN over the Assuan protocol.
#include "agent/card/pinentry_pin_source.h"

#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

extern char** environ;

namespace cardvault {
namespace {

// Assuan lines are at most 1000 bytes; allow some slack for sloppy servers.
constexpr size_t kMaxLine = 4096;
// GPG_ERR_CANCELED and GPG_ERR_FULLY_CANCELED (the low 16 bits of an Assuan error code).
constexpr unsigned long kGpgErrCanceled = 99;
constexpr unsigned long kGpgErrFullyCanceled = 198;

// Escapes '%', CR and LF as Assuan requires in command arguments.
std::string AssuanEscape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '%') {
      out += "%25";
    } else if (c == '\n') {
      out += "%0A";
    } else if (c == '\r') {
      out += "%0D";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

int HexValue(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// One pinentry process and our end of its stdin/stdout. Kills and reaps it when destroyed.
class PinentryProcess {
 public:
  ~PinentryProcess() {
    if (fd_ >= 0) close(fd_);
    if (pid_ > 0) {
      int status = 0;
      // Closing the socket makes pinentry exit; give it a moment, then insist.
      for (int i = 0; i < 50; ++i) {
        pid_t r = waitpid(pid_, &status, WNOHANG);
        if (r == pid_ || (r < 0 && errno != EINTR)) return;
        usleep(10000);
      }
      kill(pid_, SIGKILL);
      while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
    }
  }

  Status Start(const std::string& program) {
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
      return ErrnoToStatus(errno, "socketpair for", program);
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    std::vector<char*> argv = {const_cast<char*>(program.c_str()), nullptr};
    pid_t pid = 0;
    int rc = posix_spawnp(&pid, program.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (rc != 0) {
      close(fds[0]);
      if (rc == ENOENT || rc == EACCES || rc == ENOEXEC) {
        return NotFoundError("no pinentry program \"" + program + "\" (" + std::strerror(rc) +
                                 "): install one (apt-get install pinentry-curses), set "
                                 "PINENTRY_PROGRAM, or give the PIN with --pin-file FILE (mode "
                                 "0600)",
                             "pinentry_missing");
      }
      return UnavailableError("cannot run the PIN prompt " + program + ": " + std::strerror(rc),
                              "pinentry_failed");
    }
    pid_ = pid;
    fd_ = fds[0];
    program_ = program;
    return Status::Ok();
  }

  Status Send(const std::string& line) {
    std::string data = line + "\n";
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Failed("it stopped reading (" + std::string(std::strerror(errno)) + ")");
      done += static_cast<size_t>(n);
    }
    return Status::Ok();
  }

  // Reads one line (without "\n") into wiping memory: a "D" line holds the PIN.
  StatusOr<SecretData> ReadLine() {
    SecretData line(kMaxLine);
    size_t len = 0;
    while (true) {
      if (len == line.size()) return Failed("it sent a line longer than 4096 bytes");
      ssize_t n = read(fd_, line.data() + len, 1);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Failed("reading failed (" + std::string(std::strerror(errno)) + ")");
      if (n == 0) return Failed("it exited without answering");
      if (line.data()[len] == '\n') break;
      ++len;
    }
    line.Truncate(len);
    return line;
  }

  // Sends `command` and reads up to its "OK" or "ERR". Status and comment lines are
  // skipped; "D" lines are percent-decoded and appended to `*data` if given.
  Status Transact(const std::string& command, SecretData* data = nullptr) {
    CV_RETURN_IF_ERROR(Send(command));
    return ReadResponse(command, data);
  }

  Status ReadResponse(const std::string& command, SecretData* data) {
    while (true) {
      CV_ASSIGN_OR_RETURN(SecretData line, ReadLine());
      std::string_view view = line.AsStringView();
      if (view == "OK" || view.rfind("OK ", 0) == 0) return Status::Ok();
      if (view.rfind("ERR", 0) == 0) return ErrorFor(command, std::string(view));
      if (view.rfind("D ", 0) == 0) {
        if (data == nullptr) return Failed("it sent data to " + command);
        CV_RETURN_IF_ERROR(AppendDecoded(view.substr(2), *data));
        continue;
      }
      if (view.rfind("INQUIRE", 0) == 0) {
        CV_RETURN_IF_ERROR(Send("CAN"));
        continue;
      }
      // "S ..." status lines and "#" comments carry nothing we need.
    }
  }

  Status Failed(const std::string& what) const {
    return UnavailableError("the PIN prompt " + program_ + " failed: " + what, "pinentry_failed");
  }

 private:
  Status ErrorFor(const std::string& command, const std::string& line) const {
    unsigned long code = std::strtoul(line.c_str() + 3, nullptr, 10);
    if ((code & 0xFFFF) == kGpgErrCanceled || (code & 0xFFFF) == kGpgErrFullyCanceled) {
      return CancelledError("the PIN prompt was cancelled", "pin_cancelled");
    }
    std::string verb = command.substr(0, command.find(' '));
    return Failed(verb + " answered \"" + line + "\"" +
                  (verb == "GETPIN" ? "; a terminal pinentry needs a terminal: run cardvault "
                                      "in one, or use --pin-file"
                                    : ""));
  }

  // Percent-decodes `encoded` onto the end of `out` (both wiping).
  Status AppendDecoded(std::string_view encoded, SecretData& out) {
    SecretData grown(out.size() + encoded.size());
    if (!out.empty()) std::memcpy(grown.data(), out.data(), out.size());
    size_t len = out.size();
    for (size_t i = 0; i < encoded.size(); ++i) {
      uint8_t c = static_cast<uint8_t>(encoded[i]);
      if (c == '%') {
        int hi = i + 1 < encoded.size() ? HexValue(encoded[i + 1]) : -1;
        int lo = i + 2 < encoded.size() ? HexValue(encoded[i + 2]) : -1;
        if (hi < 0 || lo < 0) return Failed("it sent a malformed %-escape in the PIN");
        c = static_cast<uint8_t>(hi * 16 + lo);
        i += 2;
      }
      grown.data()[len++] = c;
    }
    grown.Truncate(len);
    out = std::move(grown);
    return Status::Ok();
  }

  pid_t pid_ = -1;
  int fd_ = -1;
  std::string program_;
};

}  // namespace

PinentryPinSource::PinentryPinSource(std::string program) : program_(std::move(program)) {
  if (program_.empty()) {
    const char* env = std::getenv("PINENTRY_PROGRAM");
    program_ = env != nullptr && *env != '\0' ? env : "pinentry";
  }
}

std::string PinentryPinSource::Description(const PinRequest& request) {
  std::string card = "\"" + request.token_label + "\"";
  if (!request.token_serial.empty()) card += " (serial " + request.token_serial + ")";
  std::string text = "cardvault needs the PIN of the card " + card + ".";
  if (request.final_try) {
    text += "\n\nLAST TRY: one more wrong PIN locks the card.";
  } else if (request.count_low) {
    text += "\n\nWarning: a wrong PIN was entered before.";
  }
  return text;
}

StatusOr<SecretData> PinentryPinSource::GetPin(const PinRequest& request) {
  PinentryProcess process;
  CV_RETURN_IF_ERROR(process.Start(program_));
  CV_RETURN_IF_ERROR(process.ReadResponse("the greeting", nullptr));
  if (isatty(STDIN_FILENO)) {
    char name[256];
    if (ttyname_r(STDIN_FILENO, name, sizeof name) == 0) {
      // Unknown options are refused by some pinentries: not fatal.
      process.Transact("OPTION ttyname=" + AssuanEscape(name)).IgnoreError();
      const char* term = std::getenv("TERM");
      if (term != nullptr && *term != '\0') {
        process.Transact("OPTION ttytype=" + AssuanEscape(term)).IgnoreError();
      }
    }
  }
  CV_RETURN_IF_ERROR(process.Transact("SETTITLE cardvault"));
  CV_RETURN_IF_ERROR(process.Transact("SETDESC " + AssuanEscape(Description(request))));
  CV_RETURN_IF_ERROR(process.Transact("SETPROMPT PIN:"));
  SecretData pin;
  CV_RETURN_IF_ERROR(process.Transact("GETPIN", &pin));
  process.Transact("BYE").IgnoreError();
  if (pin.empty()) return InvalidArgumentError("no PIN was entered", "pin_empty");
  return pin;
}

}  // namespace cardvault
