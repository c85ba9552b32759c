// PinSource implementations: file, file descriptor and callback.
#include "core/card/pin_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace cardvault {
namespace {

constexpr size_t kMaxPinLength = 256;

#ifdef _WIN32
// Windows (MinGW's CRT): no O_CLOEXEC/O_NOCTTY, and st_mode's group/other bits only mirror the
// owner's (access is ACLs), so the 0600 check cannot be made there (docs/windows.md).
constexpr int kPinFileOpenFlags = O_RDONLY | O_BINARY;
constexpr bool kCheckPinFileMode = false;
#else
constexpr int kPinFileOpenFlags = O_RDONLY | O_CLOEXEC | O_NOCTTY;
constexpr bool kCheckPinFileMode = true;
#endif

// Reads `fd` until a newline, end of file or kMaxPinLength bytes, into wiping memory.
StatusOr<SecretData> ReadPinLine(int fd, const std::string& what) {
  SecretData buf(kMaxPinLength + 1);
  size_t len = 0;
  while (len < buf.size()) {
    ssize_t n = read(fd, buf.data() + len, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoToStatus(errno, "read PIN from", what);
    if (n == 0 || buf.data()[len] == '\n') break;
    ++len;
  }
  if (len > kMaxPinLength) {
    return InvalidArgumentError("the PIN from " + what + " is longer than 256 bytes");
  }
  if (len > 0 && buf.data()[len - 1] == '\r') --len;
  buf.Truncate(len);
  if (buf.empty()) return InvalidArgumentError("no PIN in " + what, "pin_empty");
  return buf;
}

class FilePinSource : public PinSource {
 public:
  explicit FilePinSource(std::string path) : path_(std::move(path)) {}
  StatusOr<SecretData> GetPin(const PinRequest&) override {
    int fd = open(path_.c_str(), kPinFileOpenFlags);
    if (fd < 0) return ErrnoToStatus(errno, "open PIN file", path_);
    struct stat st {};
    if (fstat(fd, &st) != 0) {
      int err = errno;
      close(fd);
      return ErrnoToStatus(err, "stat PIN file", path_);
    }
    if (kCheckPinFileMode && (st.st_mode & 077) != 0) {
      close(fd);
      return PermissionDeniedError(
          "the PIN file " + path_ + " is accessible to other users; chmod 600 it",
          "pin_file_insecure");
    }
    StatusOr<SecretData> pin = ReadPinLine(fd, path_);
    close(fd);
    return pin;
  }

 private:
  std::string path_;
};

class FdPinSource : public PinSource {
 public:
  explicit FdPinSource(int fd) : fd_(fd) {}
  StatusOr<SecretData> GetPin(const PinRequest&) override {
    return ReadPinLine(fd_, "file descriptor " + std::to_string(fd_));
  }

 private:
  int fd_;
};

class CallbackPinSource : public PinSource {
 public:
  explicit CallbackPinSource(std::function<StatusOr<SecretData>(const PinRequest&)> callback)
      : callback_(std::move(callback)) {}
  StatusOr<SecretData> GetPin(const PinRequest& request) override {
    CV_ASSIGN_OR_RETURN(SecretData pin, callback_(request));
    if (pin.empty()) return InvalidArgumentError("the PIN prompt returned no PIN", "pin_empty");
    return pin;
  }

 private:
  std::function<StatusOr<SecretData>(const PinRequest&)> callback_;
};

}  // namespace

std::unique_ptr<PinSource> PinSource::FromFile(std::string path) {
  return std::make_unique<FilePinSource>(std::move(path));
}

std::unique_ptr<PinSource> PinSource::FromFd(int fd) { return std::make_unique<FdPinSource>(fd); }

std::unique_ptr<PinSource> PinSource::FromCallback(
    std::function<StatusOr<SecretData>(const PinRequest&)> callback) {
  return std::make_unique<CallbackPinSource>(std::move(callback));
}

}  // namespace cardvault
