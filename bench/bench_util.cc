// Shared benchmark helpers (bench_util.h).
#include "bench/bench_util.h"

#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>

#include "core/crypto.h"
#include "core/env.h"

namespace cardvault {
namespace {

std::string& BenchName() {
  static std::string name = "bench";
  return name;
}

std::vector<int>& BackgroundPids() {
  static std::vector<int> pids;
  return pids;
}

}  // namespace

void SetBenchName(const std::string& name) { BenchName() = name; }

void KillOnFailure(int pid) { BackgroundPids().push_back(pid); }

void ForgetOnFailure(int pid) { std::erase(BackgroundPids(), pid); }

void Check(bool ok, const std::string& what) {
  if (!ok) {
    std::cerr << BenchName() << ": " << what << "\n";
    for (int pid : BackgroundPids()) ::kill(pid, SIGKILL);
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

CommandResult RunOrDie(const std::vector<std::string>& argv, const EnvVars& env) {
  CommandResult r = RunCommand(argv, env);
  Check(r.exit_code == 0, argv[0] + " " + (argv.size() > 1 ? argv[1] : "") + " failed (exit " +
                              std::to_string(r.exit_code) + "): " + r.output.substr(0, 4000));
  return r;
}

long PeakRssKib(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

double CpuSeconds(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(f)), {});
  // Fields 14 and 15 (utime, stime), counted after the command name's closing parenthesis.
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(text.substr(close + 2));
  std::string field;
  for (int i = 3; i < 14; ++i) rest >> field;
  long utime = 0, stime = 0;
  if (!(rest >> utime >> stime)) return -1;
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
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
  return HexEncode(Must(Sha256OfPath(*Env::Default(), path), "cannot hash " + path));
}

}  // namespace cardvault
