// Shared benchmark helpers (bench_util.h).
#include "bench/bench_util.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "core/crypto.h"

namespace cardvault {
namespace {

std::string& BenchName() {
  static std::string name = "bench";
  return name;
}

const std::string kServer = std::string(CARDVAULT_BINARY_DIR) + "/api/cardvault-server";

}  // namespace

void SetBenchName(const std::string& name) { BenchName() = name; }

void Check(bool ok, const std::string& what) {
  if (!ok) {
    std::cerr << BenchName() << ": " << what << "\n";
    std::exit(1);
  }
}

double Seconds(const std::function<void()>& f) {
  auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double Median(int runs, const std::function<void()>& f) {
  std::vector<double> t;
  for (int i = 0; i < runs; ++i) t.push_back(Seconds(f));
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

std::string Capture(const std::string& cmd) {
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return {};
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

Measured RunMeasured(const std::vector<std::string>& argv, const EnvVars& env,
                     const std::string& log_path) {
  auto t0 = std::chrono::steady_clock::now();
  pid_t pid = ::fork();
  if (pid == 0) {
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    int out = log_path.empty() ? ::open("/dev/null", O_WRONLY)
                               : ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (out < 0) _exit(126);  // no log file: fail rather than write to the table
    ::dup2(out, 1);
    ::dup2(out, 2);
    int in = ::open("/dev/null", O_RDONLY);
    ::dup2(in, 0);
    ::execvp(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  struct rusage ru {};
  ::wait4(pid, &status, 0, &ru);
  Measured m;
  m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  m.peak_rss_kib = ru.ru_maxrss;
  m.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (!log_path.empty()) m.output = ReadText(log_path);
  return m;
}

Measured RunOrDie(const std::vector<std::string>& argv, const EnvVars& env,
                  const std::string& log_path) {
  Measured m = RunMeasured(argv, env, log_path);
  Check(m.exit_code == 0, argv[0] + " " + (argv.size() > 1 ? argv[1] : "") + " failed (exit " +
                              std::to_string(m.exit_code) + "): " + m.output.substr(0, 4000));
  return m;
}

long PeakRssKib(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

void Row(const std::string& what, double value, const std::string& unit, const std::string& vs,
         double base, const std::string& note) {
  std::printf("  %-46s %8.0f %-7s %5.2fx %s%s%s\n", what.c_str(), value, unit.c_str(), value / base,
              vs.c_str(), note.empty() ? "" : "  ", note.c_str());
}

std::string Target(bool met, const std::string& what) {
  return "(target " + what + ": " + (met ? "met" : "MISSED") + ")";
}

std::string MakeTempDir(const std::string& base, const std::string& prefix) {
  std::string tmpl = base + "/" + prefix + "-XXXXXX";
  Check(::mkdtemp(tmpl.data()) != nullptr, "mkdtemp failed in " + base);
  return tmpl;
}

void FillPseudoRandom(uint8_t* data, size_t size, uint64_t* state) {
  uint64_t x = *state;
  for (size_t i = 0; i < size; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(data + i, &x, std::min<size_t>(8, size - i));
  }
  *state = x;
}

void WritePseudoRandomFile(const std::string& path, uint64_t size, uint64_t seed) {
  std::vector<uint8_t> buf(1 << 20);
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  for (uint64_t done = 0; done < size; done += buf.size()) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - done));
    FillPseudoRandom(buf.data(), n, &seed);
    f.write(reinterpret_cast<const char*>(buf.data()), static_cast<std::streamsize>(n));
  }
  Check(f.good(), "cannot write " + path);
}

std::string Sha256OfFile(const std::string& path) {
  auto f = Env::Default()->NewSequentialFile(path);
  Check(f.ok(), "cannot open " + path);
  Sha256Hasher h;
  std::vector<uint8_t> buf(1 << 20);
  while (true) {
    auto n = (*f)->Read(buf);
    Check(n.ok(), "cannot read " + path);
    if (*n == 0) break;
    h.Update({buf.data(), *n});
  }
  return HexEncode(h.Finish());
}

BenchServer::~BenchServer() { Stop(); }

void BenchServer::Init(const std::string& extra_config) {
  std::filesystem::create_directories(dir_);
  Measured init = RunOrDie({kServer, "--data", data_dir(), "init"}, {}, dir_ + "/server-init.log");
  const size_t at = init.output.find("fingerprint: ");
  Check(at != std::string::npos, "no fingerprint in: " + init.output);
  fingerprint_ = init.output.substr(at + 13, 64);
  port_ = FreePort();
  const std::string path = data_dir() + "/config.json";
  nlohmann::json config = nlohmann::json::parse(ReadText(path));
  config["port"] = port_;
  config["access_log"] = false;
  if (!extra_config.empty()) config.update(nlohmann::json::parse(extra_config));
  std::ofstream(path) << config.dump(2);
}

std::string BenchServer::AddUser(const std::string& user) {
  const std::string log = dir_ + "/server-admin.log";
  RunOrDie({kServer, "--data", data_dir(), "user", "add", user}, {}, log);
  Measured tok = RunOrDie({kServer, "--data", data_dir(), "token", "issue", user}, {}, log);
  const size_t at = tok.output.find("cvt_");
  Check(at != std::string::npos, "no token in: " + tok.output);
  const std::string token = tok.output.substr(at, tok.output.find_first_of(" \n", at) - at);
  std::ofstream(token_file(user)) << token << "\n";
  ::chmod(token_file(user).c_str(), 0600);
  return token;
}

void BenchServer::Start() {
  process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{kServer, "--data", data_dir(), "serve"}, EnvVars{},
      dir_ + "/server.log");
  Check(WaitFor(
            [&] {
              RemoteStoreOptions o;
              o.port = port_;
              o.pinned_sha256 = fingerprint_;
              auto c = RemoteStore::New(std::move(o));
              return c.ok() && (*c)->Health().ok();
            },
            10000),
        "the server did not start: " + ReadText(dir_ + "/server.log"));
}

void BenchServer::Stop() {
  if (process_ == nullptr || !process_->Running()) return;
  process_->Signal(SIGTERM);
  process_->Wait(30000);
}

std::unique_ptr<RemoteStore> BenchServer::Client(const std::string& token) const {
  RemoteStoreOptions o;
  o.port = port_;
  o.pinned_sha256 = fingerprint_;
  o.token = SecretData::CopyFrom(token);
  o.read_timeout_seconds = 300;
  o.write_timeout_seconds = 300;
  auto c = RemoteStore::New(std::move(o));
  Check(c.ok(), "cannot build a client: " + c.status().ToString());
  return std::move(*c);
}

}  // namespace cardvault
