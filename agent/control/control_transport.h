// ControlListener / ControlConnection: the byte streams under the control protocol, one
// implementation per platform (picked by CMake): a Unix domain socket
// (control_transport_unix.cc) or a Windows named pipe (control_transport_windows.cc).
// ControlServer and ControlClient speak the protocol over them.
#ifndef CARDVAULT_AGENT_CONTROL_CONTROL_TRANSPORT_H_
#define CARDVAULT_AGENT_CONTROL_CONTROL_TRANSPORT_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "core/status_or.h"

namespace cardvault {

// One connection. Read and Write may run on two threads at once; Wake on any thread.
class ControlConnection {
 public:
  virtual ~ControlConnection() = default;  // closes the connection
  // Waits up to `timeout_ms` (-1: forever) for bytes and returns those that arrived (at
  // most `max`), or "" when the time passed or Wake() was called. kUnavailable with reason
  // "closed" once the peer closed the connection or it broke.
  virtual StatusOr<std::string> Read(size_t max, int timeout_ms) = 0;
  // Sends a prefix of `data`, waiting up to `timeout_ms` for room, and returns its length
  // (0 when nothing could go in time or Wake() was called). kUnavailable "closed" as Read.
  virtual StatusOr<size_t> Write(std::string_view data, int timeout_ms) = 0;
  // Makes a waiting (or the next) Read or Write return at once. Thread-safe.
  virtual void Wake() = 0;
};

// The agent's end.
class ControlListener {
 public:
  virtual ~ControlListener() = default;  // stops listening and frees the address
  // Waits up to `timeout_ms` (-1: forever) for a connection of this user and returns it, or
  // nullptr when the time passed or Wake() was called. A connection of another user MUST
  // never be returned (the socket closes it unread; the pipe's DACL never lets it in).
  virtual StatusOr<std::unique_ptr<ControlConnection>> Accept(int timeout_ms) = 0;
  // Makes a waiting (or the next) Accept return at once. Thread-safe.
  virtual void Wake() = 0;
};

// Listens at `address`: a Unix socket path (its directory made 0700 and owned by this user,
// the socket 0600, a stale socket file of a dead agent replaced, every peer's uid checked
// with SO_PEERCRED) or, on Windows, a pipe name "\\.\pipe\..." (a DACL that lets in this
// user only, remote clients refused). AlreadyExists "agent_running" when an agent already
// listens there.
StatusOr<std::unique_ptr<ControlListener>> ListenControl(const std::string& address);

// Connects to the agent at `address`: kUnavailable "agent_not_running" when none listens.
// On Windows the pipe MUST belong to this user (else "agent_not_running" too: someone else
// took the name).
StatusOr<std::unique_ptr<ControlConnection>> ConnectControl(const std::string& address);

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_CONTROL_CONTROL_TRANSPORT_H_
