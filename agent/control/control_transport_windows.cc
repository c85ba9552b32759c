// The control transport over a Windows named pipe, \\.\pipe\cardvault-<user SID>: overlapped
// I/O waited on together with an event for Wake(). The pipe's DACL lets in this user only,
// remote clients are refused, the first instance is created exclusively (a second agent
// finds the name taken), and a client checks that the pipe belongs to its own user.
#define WIN32_LEAN_AND_MEAN
#define NOMINMAX
#include <windows.h>
// clang-format off: after windows.h
#include <aclapi.h>
#include <sddl.h>

#include "agent/control/control_server.h"
#include "agent/control/control_transport.h"
// clang-format on

#include <algorithm>
#include <vector>

#include "core/windows_util.h"

namespace cardvault {
namespace {

constexpr DWORD kPipeBuffer = 64 * 1024;

Status Closed() { return UnavailableError("the control connection is closed", "closed"); }

// The current user's SID as text ("S-1-5-21-..."), empty when it cannot be read.
std::wstring UserSidText() {
  HANDLE token = nullptr;
  if (::OpenProcessToken(::GetCurrentProcess(), TOKEN_QUERY, &token) == 0) return L"";
  DWORD size = 0;
  ::GetTokenInformation(token, TokenUser, nullptr, 0, &size);
  std::vector<char> buffer(size);
  std::wstring out;
  if (size > 0 && ::GetTokenInformation(token, TokenUser, buffer.data(), size, &size) != 0) {
    wchar_t* text = nullptr;
    if (::ConvertSidToStringSidW(reinterpret_cast<TOKEN_USER*>(buffer.data())->User.Sid, &text)) {
      out = text;
      ::LocalFree(text);
    }
  }
  ::CloseHandle(token);
  return out;
}

// Waits for `io` or `wake` (both events) up to `timeout_ms`; true when `io` is signalled.
bool WaitFor(HANDLE io, HANDLE wake, int timeout_ms) {
  HANDLE handles[2] = {io, wake};
  const DWORD r = ::WaitForMultipleObjects(
      2, handles, FALSE, timeout_ms < 0 ? INFINITE : static_cast<DWORD>(timeout_ms));
  return r == WAIT_OBJECT_0;
}

bool IsBroken(DWORD err) {
  return err == ERROR_BROKEN_PIPE || err == ERROR_PIPE_NOT_CONNECTED || err == ERROR_NO_DATA ||
         err == ERROR_OPERATION_ABORTED;
}

WinHandle NewEvent(bool manual_reset) {
  HANDLE e = ::CreateEventW(nullptr, manual_reset ? TRUE : FALSE, FALSE, nullptr);
  return WinHandle(e == nullptr ? WinHandle::Invalid() : e);
}

class PipeConnection final : public ControlConnection {
 public:
  PipeConnection(WinHandle pipe, bool server_end)
      : pipe_(std::move(pipe)),
        server_end_(server_end),
        read_event_(NewEvent(true)),
        write_event_(NewEvent(true)),
        wake_event_(NewEvent(false)) {}
  ~PipeConnection() override {
    ::CancelIoEx(pipe_.get(), nullptr);
    DWORD n = 0;
    if (reading_) ::GetOverlappedResult(pipe_.get(), &read_ov_, &n, TRUE);
    if (server_end_) ::DisconnectNamedPipe(pipe_.get());
  }
  bool ok() const { return read_event_.valid() && write_event_.valid() && wake_event_.valid(); }

  StatusOr<std::string> Read(size_t max, int timeout_ms) override {
    if (!reading_) {  // a read left pending by a timeout goes on; else start one
      read_buffer_.resize(std::min<size_t>(std::max<size_t>(max, 1), kPipeBuffer));
      read_ov_ = OVERLAPPED{};
      read_ov_.hEvent = read_event_.get();
      ::ResetEvent(read_event_.get());
      if (::ReadFile(pipe_.get(), read_buffer_.data(), static_cast<DWORD>(read_buffer_.size()),
                     nullptr, &read_ov_) == 0 &&
          ::GetLastError() != ERROR_IO_PENDING) {
        return Closed();
      }
      reading_ = true;
    }
    if (!WaitFor(read_event_.get(), wake_event_.get(), timeout_ms)) return std::string();
    DWORD n = 0;
    const BOOL done = ::GetOverlappedResult(pipe_.get(), &read_ov_, &n, FALSE);
    if (done == 0 && ::GetLastError() == ERROR_IO_INCOMPLETE) return std::string();
    reading_ = false;
    if (done == 0) return Closed();
    return std::string(read_buffer_.data(), std::min<size_t>(n, max));
  }

  StatusOr<size_t> Write(std::string_view data, int timeout_ms) override {
    OVERLAPPED ov{};
    ov.hEvent = write_event_.get();
    ::ResetEvent(write_event_.get());
    const DWORD len = static_cast<DWORD>(std::min<size_t>(data.size(), kPipeBuffer));
    if (::WriteFile(pipe_.get(), data.data(), len, nullptr, &ov) == 0 &&
        ::GetLastError() != ERROR_IO_PENDING) {
      return Closed();
    }
    // The write MUST be over (done or cancelled) before `data` may go away.
    if (!WaitFor(write_event_.get(), wake_event_.get(), timeout_ms)) {
      ::CancelIoEx(pipe_.get(), &ov);
    }
    DWORD n = 0;
    if (::GetOverlappedResult(pipe_.get(), &ov, &n, TRUE) == 0 &&
        ::GetLastError() != ERROR_OPERATION_ABORTED) {
      return Closed();
    }
    return static_cast<size_t>(n);
  }

  void Wake() override { ::SetEvent(wake_event_.get()); }

 private:
  WinHandle pipe_;
  const bool server_end_;
  WinHandle read_event_, write_event_, wake_event_;
  OVERLAPPED read_ov_{};
  bool reading_ = false;
  std::vector<char> read_buffer_;
};

StatusOr<std::unique_ptr<ControlConnection>> NewConnection(WinHandle pipe, bool server_end) {
  auto c = std::make_unique<PipeConnection>(std::move(pipe), server_end);
  if (!c->ok()) return LastWindowsError("CreateEvent for", "the control pipe");
  return std::unique_ptr<ControlConnection>(std::move(c));
}

// Whether a server listens on the pipe `name` (a connect succeeds, or every instance is busy).
bool PipeInUse(const std::wstring& name) {
  HANDLE h = ::CreateFileW(name.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, OPEN_EXISTING,
                           SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION, nullptr);
  if (h != INVALID_HANDLE_VALUE) {
    ::CloseHandle(h);
    return true;
  }
  return ::GetLastError() == ERROR_PIPE_BUSY;
}

class PipeListener final : public ControlListener {
 public:
  ~PipeListener() override {
    if (connecting_) {
      DWORD n = 0;
      ::CancelIoEx(pending_.get(), &ov_);
      ::GetOverlappedResult(pending_.get(), &ov_, &n, TRUE);
    }
    if (descriptor_ != nullptr) ::LocalFree(descriptor_);
  }

  // Creates the first instance: the name MUST be free (another agent's pipe is not).
  static StatusOr<std::unique_ptr<PipeListener>> New(const std::string& address) {
    std::unique_ptr<PipeListener> l(new PipeListener());
    l->address_ = address;
    CV_ASSIGN_OR_RETURN(l->name_, WidePath(address));
    const std::wstring sid = UserSidText();
    if (sid.empty()) return LastWindowsError("read the user's SID for", address);
    // Owned by this user (not by the Administrators group, the default owner of an
    // administrator's objects), a protected DACL with one entry: full access for this user.
    const std::wstring sddl = L"O:" + sid + L"D:P(A;;GA;;;" + sid + L")";
    if (::ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl.c_str(), SDDL_REVISION_1,
                                                               &l->descriptor_, nullptr) == 0) {
      return LastWindowsError("make the security descriptor of", address);
    }
    l->connect_event_ = NewEvent(true);
    l->wake_event_ = NewEvent(false);
    if (!l->connect_event_.valid() || !l->wake_event_.valid()) {
      return LastWindowsError("CreateEvent for", address);
    }
    // A live agent answers a connect (Wine does not refuse a second "first" instance, so this
    // probe comes first; on Windows FILE_FLAG_FIRST_PIPE_INSTANCE also closes the race).
    StatusOr<WinHandle> first =
        PipeInUse(l->name_) ? PermissionDeniedError("in use") : l->NewInstance(/*first=*/true);
    if (!first.ok()) {
      if (first.status().code() == StatusCode::kPermissionDenied) {
        return AlreadyExistsError("another cardvault agent is running on " + address,
                                  "agent_running");
      }
      return first.status();
    }
    l->pending_ = std::move(*first);
    return l;
  }

  StatusOr<std::unique_ptr<ControlConnection>> Accept(int timeout_ms) override {
    if (!connecting_) {
      ov_ = OVERLAPPED{};
      ov_.hEvent = connect_event_.get();
      ::ResetEvent(connect_event_.get());
      if (::ConnectNamedPipe(pending_.get(), &ov_) == 0) {
        const DWORD err = ::GetLastError();
        if (err == ERROR_PIPE_CONNECTED) return Connected();
        if (err != ERROR_IO_PENDING) return Recycle(err);
      }
      connecting_ = true;
    }
    if (!WaitFor(connect_event_.get(), wake_event_.get(), timeout_ms)) {
      return std::unique_ptr<ControlConnection>();
    }
    DWORD n = 0;
    const BOOL done = ::GetOverlappedResult(pending_.get(), &ov_, &n, FALSE);
    if (done == 0 && ::GetLastError() == ERROR_IO_INCOMPLETE) {
      return std::unique_ptr<ControlConnection>();
    }
    connecting_ = false;
    if (done == 0) return Recycle(::GetLastError());
    return Connected();
  }

  void Wake() override { ::SetEvent(wake_event_.get()); }

 private:
  PipeListener() = default;

  StatusOr<WinHandle> NewInstance(bool first) {
    SECURITY_ATTRIBUTES sa{sizeof(SECURITY_ATTRIBUTES), descriptor_, FALSE};
    HANDLE h = ::CreateNamedPipeW(
        name_.c_str(),
        PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED | (first ? FILE_FLAG_FIRST_PIPE_INSTANCE : 0),
        PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS,
        PIPE_UNLIMITED_INSTANCES, kPipeBuffer, kPipeBuffer, 0, &sa);
    if (h == INVALID_HANDLE_VALUE) return LastWindowsError("create the pipe", address_);
    return WinHandle(h);
  }

  // The pending instance has a client: hand it over and put a fresh instance in its place.
  StatusOr<std::unique_ptr<ControlConnection>> Connected() {
    CV_ASSIGN_OR_RETURN(WinHandle next, NewInstance(/*first=*/false));
    WinHandle connected = std::exchange(pending_, std::move(next));
    return NewConnection(std::move(connected), /*server_end=*/true);
  }

  // A client that went before it was served: start over on a fresh instance.
  StatusOr<std::unique_ptr<ControlConnection>> Recycle(DWORD err) {
    if (!IsBroken(err)) return WindowsErrorToStatus(err, "accept on", address_);
    ::DisconnectNamedPipe(pending_.get());
    return std::unique_ptr<ControlConnection>();
  }

  std::string address_;
  std::wstring name_;
  PSECURITY_DESCRIPTOR descriptor_ = nullptr;
  WinHandle pending_;  // the instance waiting for the next client
  WinHandle connect_event_, wake_event_;
  OVERLAPPED ov_{};
  bool connecting_ = false;
};

// Whether the pipe `h` belongs to this user (a pipe someone else made under our name does not).
bool OwnedByThisUser(HANDLE h) {
  PSID owner = nullptr;
  PSECURITY_DESCRIPTOR descriptor = nullptr;
  if (::GetSecurityInfo(h, SE_KERNEL_OBJECT, OWNER_SECURITY_INFORMATION, &owner, nullptr, nullptr,
                        nullptr, &descriptor) != ERROR_SUCCESS) {
    return false;
  }
  PSID me = nullptr;
  const std::wstring sid = UserSidText();
  const bool same = !sid.empty() && ::ConvertStringSidToSidW(sid.c_str(), &me) != 0 &&
                    owner != nullptr && ::EqualSid(owner, me) != 0;
  if (me != nullptr) ::LocalFree(me);
  ::LocalFree(descriptor);
  return same;
}

Status NotRunning(const std::string& address, const std::string& why) {
  return UnavailableError(
      "no cardvault agent is running (" + why + " " + address + "); start it with: cardvault run",
      "agent_not_running");
}

}  // namespace

std::string DefaultControlSocketPath() {
  return "\\\\.\\pipe\\cardvault-" + Utf8FromWide(UserSidText());
}

StatusOr<std::unique_ptr<ControlListener>> ListenControl(const std::string& address) {
  CV_ASSIGN_OR_RETURN(std::unique_ptr<PipeListener> l, PipeListener::New(address));
  return std::unique_ptr<ControlListener>(std::move(l));
}

StatusOr<std::unique_ptr<ControlConnection>> ConnectControl(const std::string& address) {
  CV_ASSIGN_OR_RETURN(std::wstring name, WidePath(address));
  for (int attempt = 0; attempt < 3; ++attempt) {
    // SECURITY_IDENTIFICATION: the agent may learn who connects, never act as this user.
    HANDLE h = ::CreateFileW(name.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, OPEN_EXISTING,
                             FILE_FLAG_OVERLAPPED | SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION,
                             nullptr);
    if (h != INVALID_HANDLE_VALUE) {
      WinHandle pipe(h);
      if (!OwnedByThisUser(pipe.get())) {
        return NotRunning(address, "the pipe there belongs to another user:");
      }
      return NewConnection(std::move(pipe), /*server_end=*/false);
    }
    const DWORD err = ::GetLastError();
    if (err != ERROR_PIPE_BUSY) break;
    ::WaitNamedPipeW(name.c_str(), 1000);  // every instance busy: wait for the next one
  }
  return NotRunning(address, "nothing listens on");
}

}  // namespace cardvault
