// ControlServer implementation over the platform's ControlListener: an accept thread and a
// thread per client. Publish queues events under the client's lock and wakes its thread.
#include "agent/control/control_server.h"

#include <nlohmann/json.hpp>

namespace cardvault {
namespace {

constexpr size_t kMaxLine = 64 * 1024;
constexpr size_t kMaxQueued = 1024 * 1024;
constexpr size_t kMaxClients = 16;
// How long one write waits for a client that does not read before its thread looks at its
// input again (its queue may grow meanwhile, up to kMaxQueued).
constexpr int kWriteWaitMs = 50;

std::string ErrorLine(const nlohmann::json& id, const std::string& code, const std::string& msg) {
  nlohmann::json j = {{"id", id}, {"ok", false}, {"error", {{"code", code}, {"message", msg}}}};
  return j.dump() + "\n";
}

}  // namespace

struct ControlServer::Client {
  std::mutex mu;                            // guards conn, out, subscribed, drop
  std::unique_ptr<ControlConnection> conn;  // reset by the client's thread when it ends
  std::string out;                          // answers and events not yet sent
  bool subscribed = false;
  bool drop = false;  // too slow: disconnect
  std::atomic<bool> done{false};
  std::thread thread;
};

StatusOr<std::unique_ptr<ControlServer>> ControlServer::Start(const std::string& socket_path,
                                                              Handler handler) {
  CV_ASSIGN_OR_RETURN(std::unique_ptr<ControlListener> listener, ListenControl(socket_path));
  std::unique_ptr<ControlServer> server(new ControlServer(std::move(listener), std::move(handler)));
  server->thread_ = std::thread([s = server.get()] { s->AcceptLoop(); });
  return server;
}

ControlServer::ControlServer(std::unique_ptr<ControlListener> listener, Handler handler)
    : listener_(std::move(listener)), handler_(std::move(handler)) {}

ControlServer::~ControlServer() {
  stop_ = true;
  listener_->Wake();
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& c : clients_) {
    {
      std::lock_guard<std::mutex> client_lock(c->mu);
      if (c->conn != nullptr) c->conn->Wake();
    }
    c->thread.join();
  }
  clients_.clear();
  listener_.reset();  // frees the address
}

void ControlServer::Publish(const std::string& event_json) {
  const std::string line = event_json + "\n";
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& c : clients_) {
    std::lock_guard<std::mutex> client_lock(c->mu);
    if (!c->subscribed || c->conn == nullptr) continue;
    c->out += line;
    if (c->out.size() > kMaxQueued) c->drop = true;
    c->conn->Wake();
  }
}

void ControlServer::AcceptLoop() {
  while (!stop_) {
    StatusOr<std::unique_ptr<ControlConnection>> conn = listener_->Accept(-1);
    if (!conn.ok()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // e.g. out of handles
      continue;
    }
    if (*conn == nullptr) continue;  // woken
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = clients_.begin(); it != clients_.end();) {  // reap the finished
      if ((*it)->done) {
        (*it)->thread.join();
        it = clients_.erase(it);
      } else {
        ++it;
      }
    }
    if (clients_.size() >= kMaxClients) continue;  // refused: the connection closes
    auto c = std::make_unique<Client>();
    c->conn = std::move(*conn);
    Client* raw = c.get();
    ++client_count_;
    c->thread = std::thread([this, raw] { Serve(*raw); });
    clients_.push_back(std::move(c));
  }
}

void ControlServer::Serve(Client& c) {
  ControlConnection& conn = *c.conn;  // stays until this thread resets it below
  std::string in;
  while (!stop_) {
    std::string pending;
    {
      std::lock_guard<std::mutex> lock(c.mu);
      if (c.drop) break;
      pending = c.out;
    }
    if (!pending.empty()) {
      StatusOr<size_t> sent = conn.Write(pending, kWriteWaitMs);
      if (!sent.ok()) break;
      std::lock_guard<std::mutex> lock(c.mu);
      c.out.erase(0, *sent);
      if (*sent < pending.size()) continue;  // the rest first (or a wake-up: look again)
    }
    StatusOr<std::string> got = conn.Read(8192, -1);
    if (!got.ok()) break;
    in += *got;
    if (!HandleInput(c, in)) break;
  }
  std::lock_guard<std::mutex> lock(c.mu);
  c.conn.reset();
  --client_count_;
  c.done = true;
}

bool ControlServer::HandleInput(Client& c, std::string& in) {
  std::string answers;
  size_t nl;
  while ((nl = in.find('\n')) != std::string::npos) {
    std::string line = in.substr(0, nl);
    in.erase(0, nl + 1);
    nlohmann::json req = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (req.is_discarded() || !req.is_object() || !req.contains("cmd") || !req["cmd"].is_string()) {
      answers += ErrorLine(nullptr, "bad_request", "expected {\"id\": N, \"cmd\": \"...\"}");
      continue;
    }
    nlohmann::json id = req.contains("id") ? req["id"] : nlohmann::json(nullptr);
    const std::string cmd = req["cmd"].get<std::string>();
    if (cmd == "subscribe") {
      std::lock_guard<std::mutex> lock(c.mu);
      c.subscribed = true;
      answers +=
          nlohmann::json({{"id", id}, {"ok", true}, {"result", nlohmann::json::object()}}).dump() +
          "\n";
      continue;
    }
    StatusOr<std::string> result = [&] {
      std::lock_guard<std::mutex> lock(handler_mu_);
      return handler_(cmd);
    }();
    if (!result.ok()) {
      const Status& s = result.status();
      answers += ErrorLine(
          id, s.reason().empty() ? std::string(StatusCodeName(s.code())) : s.reason(), s.message());
      continue;
    }
    nlohmann::json body = nlohmann::json::parse(*result, nullptr, false);
    if (body.is_discarded()) body = nlohmann::json::object();
    answers += nlohmann::json({{"id", id}, {"ok", true}, {"result", body}}).dump() + "\n";
  }
  std::lock_guard<std::mutex> lock(c.mu);
  c.out += answers;
  return in.size() <= kMaxLine;
}

}  // namespace cardvault
