// ControlServer: the agent's local control channel, a Unix domain socket speaking JSON
// lines, used by the tray and by scripts (status, pause, resume, sync now, events).
#ifndef CARDVAULT_AGENT_CONTROL_CONTROL_SERVER_H_
#define CARDVAULT_AGENT_CONTROL_CONTROL_SERVER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/status_or.h"

namespace cardvault {

// Protocol (docs/control-protocol.md): each request is one line of JSON
// {"id": N, "cmd": "..."}; each answer one line {"id": N, "ok": true, "result": {...}} or
// {"id": N, "ok": false, "error": {"code": "...", "message": "..."}}. After
// {"cmd": "subscribe"} the connection also receives event lines {"event": "...", ...}.
//
// Security: the socket's directory is created 0700 and the socket 0600, and every
// connection's peer uid (SO_PEERCRED) MUST equal the agent's, else it is closed unread.
// Lines longer than 64 KiB and more than 16 clients are refused.
class ControlServer {
 public:
  // Answers one request: returns the "result" object as JSON text, or an error Status
  // (its reason becomes the error code). Called on the server's thread.
  using Handler = std::function<StatusOr<std::string>(const std::string& cmd)>;

  // Listens on `socket_path` (a stale socket file from a dead agent is replaced; a live
  // agent on it is an AlreadyExists error) and serves on a thread of its own.
  static StatusOr<std::unique_ptr<ControlServer>> Start(const std::string& socket_path,
                                                        Handler handler);
  ~ControlServer();  // stops the thread, closes every client, removes the socket file

  // Sends `event_json` (one JSON object, no newline) to every subscribed client. A client
  // that does not keep up (more than 1 MiB queued) is disconnected. Thread-safe.
  void Publish(const std::string& event_json);

  size_t client_count() const { return client_count_; }

 private:
  struct Client;
  ControlServer(std::string path, int listen_fd, int wake_fd, Handler handler);
  void Run();
  void Wake();
  void Accept(std::vector<std::unique_ptr<Client>>& clients);
  // Handles the complete lines in the client's input; false if the client must go.
  bool HandleInput(Client& c);

  std::string path_;
  int listen_fd_;
  int wake_fd_;
  Handler handler_;
  std::mutex mu_;                       // guards published_ and stop_
  std::vector<std::string> published_;  // event lines not yet queued to clients
  bool stop_ = false;
  std::atomic<size_t> client_count_{0};
  std::thread thread_;  // owns the clients; started last
};

// The default socket path: $XDG_RUNTIME_DIR/cardvault/agent.sock, or
// /tmp/cardvault-UID/agent.sock when XDG_RUNTIME_DIR is unset.
std::string DefaultControlSocketPath();

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_CONTROL_CONTROL_SERVER_H_
