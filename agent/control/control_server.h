// ControlServer: the agent's local control channel (a Unix domain socket, or a named pipe on
// Windows: control_transport.h) speaking JSON lines, used by the tray and by scripts
// (status, pause, resume, sync now, events).
#ifndef CARDVAULT_AGENT_CONTROL_CONTROL_SERVER_H_
#define CARDVAULT_AGENT_CONTROL_CONTROL_SERVER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/control/control_transport.h"
#include "core/status_or.h"

namespace cardvault {

// Protocol (docs/control-protocol.md): each request is one line of JSON
// {"id": N, "cmd": "..."}; each answer one line {"id": N, "ok": true, "result": {...}} or
// {"id": N, "ok": false, "error": {"code": "...", "message": "..."}}. After
// {"cmd": "subscribe"} the connection also receives event lines {"event": "...", ...}.
//
// Security: only this user's connections are served (ListenControl: the socket's directory
// is 0700 and the socket 0600 and every peer's uid MUST equal the agent's; the pipe's DACL
// lets in this user only). Lines longer than 64 KiB and more than 16 clients are refused.
// Threads: one accepts, one per client reads its requests and writes its answers and events.
class ControlServer {
 public:
  // Answers one request: returns the "result" object as JSON text, or an error Status
  // (its reason becomes the error code). Called on the client's thread, one call at a time.
  using Handler = std::function<StatusOr<std::string>(const std::string& cmd)>;

  // Listens on `socket_path` (the platform's address: DefaultControlSocketPath(); a live
  // agent on it is an AlreadyExists "agent_running" error) and serves on threads of its own.
  static StatusOr<std::unique_ptr<ControlServer>> Start(const std::string& socket_path,
                                                        Handler handler);
  ~ControlServer();  // stops the threads, closes every client, frees the address

  // Sends `event_json` (one JSON object, no newline) to every subscribed client. A client
  // that does not keep up (more than 1 MiB queued) is disconnected. Thread-safe.
  void Publish(const std::string& event_json);

  size_t client_count() const { return client_count_; }

 private:
  struct Client;
  ControlServer(std::unique_ptr<ControlListener> listener, Handler handler);
  void AcceptLoop();
  void Serve(Client& c);
  // Handles the complete lines in `in`, queueing the answers; false if the client must go.
  bool HandleInput(Client& c, std::string& in);

  std::unique_ptr<ControlListener> listener_;
  Handler handler_;
  std::mutex handler_mu_;  // one handler call at a time, as with a single thread
  std::mutex mu_;          // guards clients_
  std::vector<std::unique_ptr<Client>> clients_;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> client_count_{0};
  std::thread thread_;  // accepts; started last
};

// The address a default `cardvault run` listens on: on Linux
// $XDG_RUNTIME_DIR/cardvault/agent.sock, or /tmp/cardvault-UID/agent.sock when
// XDG_RUNTIME_DIR is unset; on Windows the pipe \\.\pipe\cardvault-<the user's SID>.
std::string DefaultControlSocketPath();

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_CONTROL_CONTROL_SERVER_H_
