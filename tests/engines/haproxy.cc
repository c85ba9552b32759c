// Haproxy implementation: the config text, `haproxy -db -f`, and the stats socket (CSV of
// `show stat`) for the backends' states.
#include "tests/engines/haproxy.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace cardvault {
namespace {

constexpr const char* kHaproxy = "/usr/sbin/haproxy";

std::vector<std::string> SplitCsv(const std::string& line) {
  std::vector<std::string> fields;
  std::stringstream s(line);
  std::string f;
  while (std::getline(s, f, ',')) fields.push_back(f);
  return fields;
}

}  // namespace

StatusOr<std::unique_ptr<Haproxy>> Haproxy::Start(Options options) {
  if (!std::filesystem::exists(kHaproxy)) {
    return UnsupportedError(
        "haproxy is not installed: apt-get install haproxy (scripts/bootstrap.sh)");
  }
  std::unique_ptr<Haproxy> proxy(new Haproxy(std::move(options)));
  proxy->port_ = FreePort();
  const std::string cfg = proxy->options_.dir + "/haproxy.cfg";
  std::ofstream(cfg) << proxy->Config();
  CommandResult check = RunCommand({kHaproxy, "-c", "-q", "-f", cfg});
  if (check.exit_code != 0) return InvalidArgumentError("haproxy -c: " + check.output);
  proxy->process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{kHaproxy, "-db", "-f", cfg}, EnvVars{}, proxy->log_file());
  for (size_t i = 0; i < proxy->options_.backend_ports.size(); ++i) {
    Status up = proxy->WaitForState(static_cast<int>(i), "UP", 10000);
    if (!up.ok()) return up;
  }
  return proxy;
}

Haproxy::~Haproxy() {
  if (process_ == nullptr || !process_->Running()) return;
  process_->Signal(SIGTERM);
  if (process_->Wait(5000) == -1) process_->Signal(SIGKILL);
  process_->Wait(5000);
  std::error_code ec;
  std::filesystem::remove(options_.dir + "/haproxy.sock", ec);
}

std::string Haproxy::Config() const {
  std::ostringstream c;
  const std::string t = std::to_string(options_.timeout_seconds) + "s";
  c << "global\n"
    << "  maxconn 4096\n"
    << "  stats socket " << options_.dir << "/haproxy.sock mode 600 level admin\n"
    << "defaults\n"
    << "  mode tcp\n"
    << "  timeout connect 2s\n"
    << "  timeout client " << t << "\n"
    << "  timeout server " << t << "\n"
    << "  retries 2\n"
    << "  option redispatch\n"
    << "frontend cardvault\n"
    << "  bind 127.0.0.1:" << port_ << "\n"
    << "  default_backend instances\n"
    << "backend instances\n"
    << "  balance roundrobin\n"
    << "  option httpchk\n"
    << "  http-check send meth GET uri /v1/health\n"
    << "  http-check expect status 200\n"
    // PROXY protocol v2 to the instances (their proxy_protocol_from lists 127.0.0.1), on
    // the health checks too (LOCAL: the check keeps the proxy's own address).
    << "  default-server send-proxy-v2 check check-send-proxy check-ssl verify none inter "
    << options_.check_interval_ms << " fall 2 rise 1\n";
  for (size_t i = 0; i < options_.backend_ports.size(); ++i) {
    c << "  server s" << i << " 127.0.0.1:" << options_.backend_ports[i] << "\n";
  }
  return c.str();
}

StatusOr<std::string> Haproxy::StatsCommand(const std::string& command) const {
  const std::string path = options_.dir + "/haproxy.sock";
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return InvalidArgumentError("socket path too long");
  path.copy(addr.sun_path, path.size());
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return UnavailableError("haproxy's stats socket " + path + " does not answer");
  }
  const std::string line = command + "\n";
  std::string out;
  if (::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size())) {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

StatusOr<std::string> Haproxy::StatField(int index, const std::string& field) const {
  CV_ASSIGN_OR_RETURN(std::string csv, StatsCommand("show stat"));
  std::stringstream lines(csv);
  std::string line;
  size_t column = 0;
  const std::string name = "s" + std::to_string(index);
  while (std::getline(lines, line)) {
    auto fields = SplitCsv(line);
    if (line.rfind("# ", 0) == 0) {
      for (size_t i = 0; i < fields.size(); ++i) column = fields[i] == field ? i : column;
    } else if (column > 0 && fields.size() > column && fields[0] == "instances" &&
               fields[1] == name) {
      return fields[column];
    }
  }
  return NotFoundError("haproxy lists no " + field + " of server " + name);
}

StatusOr<std::string> Haproxy::ServerState(int index) const { return StatField(index, "status"); }

StatusOr<int> Haproxy::CurrentSessions(int index) const {
  CV_ASSIGN_OR_RETURN(std::string scur, StatField(index, "scur"));
  return std::atoi(scur.c_str());
}

Status Haproxy::WaitForState(int index, const std::string& state, int timeout_ms) const {
  std::string last;
  const bool reached = WaitFor(
      [&] {
        auto s = ServerState(index);
        last = s.ok() ? *s : s.status().ToString();
        return s.ok() && s->rfind(state, 0) == 0;
      },
      timeout_ms);
  if (reached) return Status::Ok();
  return UnavailableError("haproxy server s" + std::to_string(index) + " is " + last + ", not " +
                          state + " after " + std::to_string(timeout_ms) + " ms; log:\n" +
                          ReadText(log_file()));
}

}  // namespace cardvault
