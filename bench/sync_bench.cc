// Sync benchmark: the real agent uploading a tree of small files and one large file from a cold
// start to a real cardvault-server on 127.0.0.1, the latency of one file, then `cardvault
// restore` with a SoftHSM2 card into empty directories; beside curl (the transport's ceiling)
// and rclone crypt over WebDAV (what users would pick instead), measured in the same run.
//
// Usage: sync_bench [--files N] [--big-mib M] [--dir DIR] [--skip-rclone] [--rclone-files K]
//                   [--latency-samples S]   (defaults: 10000, 1024, /tmp, rclone on, 1000, 5)
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "agent/control/control_client.h"
#include "bench/bench_util.h"
#include "core/aes_gcm.h"
#include "core/crypto.h"
#include "tests/integration/local_server.h"
#include "tests/integration/soft_card.h"

namespace cardvault {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

const std::string kCli = std::string(CARDVAULT_BINARY_DIR) + "/agent/cardvault";
constexpr char kCardLabel[] = "bench card";
constexpr size_t kSmallSize = 1024;
constexpr int kBigRounds = 4;    // 1 GiB rounds of cardvault and curl, each first in half
constexpr int kParallel = 4;     // curl's transfers at once; rclone's default --transfers too
constexpr double kFarAhead = 5;  // "far ahead of rclone", taken as at least this ratio

struct Options {
  size_t files = 10000;
  uint64_t big_mib = 1024;
  std::string dir = "/tmp";
  bool rclone = true;
  size_t rclone_files = 1000;
  int latency_samples = 5;
};

Options ParseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--skip-rclone") {
      o.rclone = false;
      continue;
    }
    Check(i + 1 < argc, "missing value after " + a);
    const std::string v = argv[++i];
    if (a == "--files") {
      o.files = std::stoull(v);
    } else if (a == "--big-mib") {
      o.big_mib = std::stoull(v);
    } else if (a == "--dir") {
      o.dir = v;
    } else if (a == "--rclone-files") {
      o.rclone_files = std::stoull(v);
    } else if (a == "--latency-samples") {
      o.latency_samples = std::stoi(v);
    } else {
      Check(false,
            "usage: sync_bench [--files N] [--big-mib M] [--dir DIR] [--skip-rclone] "
            "[--rclone-files K] [--latency-samples S]");
    }
  }
  Check(o.files > 0 && o.big_mib > 0, "--files and --big-mib must be positive");
  o.rclone_files = std::min(o.rclone_files, o.files);
  return o;
}

double Mib(long kib) { return kib / 1024.0; }

// Every object of a user (both kinds), following the listing's pages.
std::vector<ObjectInfo> ListAll(RemoteStore& client, std::optional<ObjectKind> kind = {}) {
  std::vector<ObjectInfo> all;
  ListOptions lo;
  lo.kind = kind;
  while (true) {
    auto page = client.List(lo);
    Must(page.status(), "listing the server's objects");
    all.insert(all.end(), page->objects.begin(), page->objects.end());
    if (!page->truncated) break;
    lo.after = page->objects.back().id;
  }
  return all;
}

// ---- curl: plain PUTs and GETs, kParallel at once over keep-alive connections.

struct CurlTransfer {
  std::string id;
  std::string file;    // uploaded from, or downloaded into
  std::string sha256;  // for uploads
};

// One curl process for all transfers (a config file with one block per transfer), so that
// connections are kept alive between them. Checks that every answer is `expect_status`.
CommandResult RunCurl(const LocalServer& server, const std::string& token,
                      const std::vector<CurlTransfer>& transfers, bool upload,
                      const std::string& work, const std::string& name) {
  const std::string config = work + "/" + name + ".curlrc";
  {
    std::ofstream f(config);
    for (size_t i = 0; i < transfers.size(); ++i) {
      const CurlTransfer& t = transfers[i];
      if (i > 0) f << "next\n";
      f << "url = \"" << server.url() << "/v1/objects/" << t.id << "\"\n"
        << "cacert = \"" << server.cert_file() << "\"\n"
        << "header = \"Authorization: Bearer " << token << "\"\n"
        << "silent\nshow-error\nwrite-out = \"%{http_code}\\n\"\n";
      if (upload) {
        f << "upload-file = \"" << t.file << "\"\n"
          << "header = \"X-Content-SHA256: " << t.sha256 << "\"\n"
          << "output = \"/dev/null\"\n";
      } else {
        f << "output = \"" << t.file << "\"\n";
      }
    }
    Check(f.good(), "cannot write " + config);
  }
  ::chmod(config.c_str(), 0600);
  CommandResult m = RunOrDie(
      {"curl", "-sS", "--parallel", "--parallel-max", std::to_string(kParallel), "-K", config}, {});
  const std::string expect = upload ? "201" : "200";
  size_t ok = 0, at = 0;
  while ((at = m.output.find(expect + "\n", at)) != std::string::npos) {
    ++ok;
    at += 4;
  }
  Check(ok == transfers.size(), "curl " + name + ": " + std::to_string(ok) + " of " +
                                    std::to_string(transfers.size()) + " answered " + expect +
                                    ": " + m.output.substr(0, 2000));
  fs::remove(config);
  return m;
}

// ---- rclone: a crypt remote over a WebDAV server (`rclone serve webdav`) on loopback.

class Rclone {
 public:
  explicit Rclone(const std::string& dir) : dir_(dir) {
    fs::create_directories(dir + "/webdav");
    std::ofstream(dir + "/rclone.conf").flush();
    const int port = FreePort();
    std::string obscured = Capture("rclone obscure cardvault-bench-password");
    obscured.erase(obscured.find_last_not_of(" \n") + 1);
    Check(!obscured.empty(), "rclone obscure failed (is rclone installed? scripts/bootstrap.sh)");
    env_ = {{"RCLONE_CONFIG", dir + "/rclone.conf"},
            {"RCLONE_CONFIG_DAV_TYPE", "webdav"},
            {"RCLONE_CONFIG_DAV_URL", "http://127.0.0.1:" + std::to_string(port) + "/"},
            {"RCLONE_CONFIG_DAV_VENDOR", "other"},
            {"RCLONE_CONFIG_SECRET_TYPE", "crypt"},
            {"RCLONE_CONFIG_SECRET_REMOTE", "dav:vault"},
            {"RCLONE_CONFIG_SECRET_PASSWORD", obscured}};
    server_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"rclone", "serve", "webdav", "--addr",
                                 "127.0.0.1:" + std::to_string(port), dir + "/webdav"},
        env_, dir + "/webdav.log");
    KillOnFailure(server_->pid());
    Check(WaitFor(
              [&] {
                return RunCommand({"curl", "-sf", "-o", "/dev/null",
                                   "http://127.0.0.1:" + std::to_string(port) + "/"})
                           .exit_code == 0;
              },
              10000),
          "rclone serve webdav did not start: " + ReadText(dir + "/webdav.log"));
  }
  ~Rclone() {
    server_->Signal(SIGTERM);
    server_->Wait(10000);
    ForgetOnFailure(server_->pid());
  }

  // `rclone copy` with its defaults (4 transfers); `extra` goes before the paths.
  CommandResult Copy(const std::string& from, const std::string& to,
                     const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {"rclone", "copy"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(from);
    argv.push_back(to);
    return RunOrDie(argv, env_);
  }

 private:
  std::string dir_;
  EnvVars env_;
  std::unique_ptr<ChildProcess> server_;
};

// ---- the agent and the card

// SYNC_BENCH_WRAP="perf stat -e task-clock --" (split on spaces) runs every timed agent and
// restore command under that prefix, for profiling; unset, the command runs as given.
std::vector<std::string> Wrapped(std::vector<std::string> argv) {
  const char* wrap = std::getenv("SYNC_BENCH_WRAP");
  if (wrap == nullptr || *wrap == '\0') return argv;
  std::vector<std::string> out;
  std::istringstream words(wrap);
  for (std::string w; words >> w;) out.push_back(w);
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

struct Agent {
  std::string dir;  // its XDG directories
  EnvVars env;
};

Agent MakeAgent(const std::string& dir, const std::string& softhsm_conf) {
  fs::create_directories(dir + "/run");
  ::chmod((dir + "/run").c_str(), 0700);
  return {dir,
          {{"XDG_CONFIG_HOME", dir + "/config"},
           {"XDG_DATA_HOME", dir + "/data"},
           {"XDG_RUNTIME_DIR", dir + "/run"},
           {"SOFTHSM2_CONF", softhsm_conf}}};
}

void InitAgent(const Agent& a, const LocalServer& server, const std::string& token_file,
               const std::string& vault, const std::string& recipient) {
  RunOrDie({kCli, "init", "--vault", vault, "--server", server.url(), "--fingerprint",
            server.fingerprint(), "--token-file", token_file, "--recipient", recipient},
           a.env);
}

// A SoftHSM2 token in its own directory and a key created on it; returns the recipient.
std::string MakeCard(const std::string& dir, const std::string& pin_file, std::string* conf) {
  *conf = WriteSoftHsmConf(dir);
  std::ofstream(pin_file) << "123456\n";
  ::chmod(pin_file.c_str(), 0600);
  const EnvVars env = {{"SOFTHSM2_CONF", *conf}};
  RunOrDie({"softhsm2-util", "--init-token", "--free", "--label", kCardLabel, "--pin", "123456",
            "--so-pin", "12345678"},
           env);
  return Must(CreateCardKey(kCli, kCardLabel, pin_file, env), "card key");
}

// ---- results

// A measured transfer: `count` files (or objects) of `bytes` bytes in all, in `seconds`.
struct Run {
  double seconds = 0;
  size_t count = 0;
  uint64_t bytes = 0;
  const char* noun = "files";
};

// A baseline and the ratio cardvault should reach against it.
struct Baseline {
  std::string name;
  Run run;
  double min_ratio = 1;
  std::string target;  // how the target reads, e.g. ">= 0.5x"
};

void PrintRun(const std::string& name, const Run& r, bool small) {
  std::string noun = r.noun;
  if (r.count == 1) noun.pop_back();  // "1 file"
  if (small) {
    std::printf("  %-46s %8.1f files/s %8.1f MB/s %8.2f s for %zu %s\n", name.c_str(),
                r.count / r.seconds, Mbps(r.bytes, r.seconds), r.seconds, r.count, noun.c_str());
  } else {
    std::printf("  %-46s %8.1f MB/s    %8.2f s for %zu %s\n", name.c_str(),
                Mbps(r.bytes, r.seconds), r.seconds, r.count, noun.c_str());
  }
}

// Prints a section: the baselines, cardvault, and cardvault's ratio to each baseline in
// files/s (small files) or MB/s (one large file), each with its target met or missed.
void Section(const std::string& title, bool small, const std::string& name, const Run& cv,
             const Baseline& curl, const Baseline& rclone, bool with_rclone) {
  std::printf("\n%s\n", title.c_str());
  PrintRun(curl.name, curl.run, small);
  if (with_rclone) {
    PrintRun(rclone.name + (rclone.run.count < cv.count ? " (a subset)" : ""), rclone.run, small);
  }
  PrintRun(name, cv, small);
  auto rate = [small](const Run& r) {
    return small ? r.count / r.seconds : Mbps(r.bytes, r.seconds);
  };
  for (const Baseline* b : {&curl, &rclone}) {
    if (b == &rclone && !with_rclone) continue;
    const double ratio = rate(cv) / rate(b->run);
    Row("cardvault", rate(cv), small ? "files/s" : "MB/s",
        "of " + b->name.substr(0, b->name.find_first_of(" ,")), rate(b->run),
        Target(ratio >= b->min_ratio, b->target));
  }
}

std::string Fixed(double seconds) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f", seconds);
  return b;
}

// The median; of an even count, the mean of the middle two.
double MedianOf(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// The CPU seconds, on one core and measured now, of the crypto the blob format requires of
// a restore beyond what curl does with the same bytes: AES-256-GCM opening every 64 KiB
// chunk and SHA-256 of the plaintext (checked before the rename). Timed over 64 MiB in
// memory and scaled to `bytes`; the best of three, so a busy moment does not count.
struct FormatCrypto {
  double aes_s = 0;
  double sha_s = 0;
};

FormatCrypto MeasureFormatCrypto(uint64_t bytes) {
  constexpr size_t kSample = 64 << 20, kChunk = 64 << 10;
  std::vector<uint8_t> sealed(kSample / kChunk * (kChunk + AesGcm::kTagSize), 0x5a);
  std::vector<uint8_t> plain(kSample);
  AesGcm gcm = Must(AesGcm::New(SecretData::CopyFrom(std::vector<uint8_t>(32, 7))), "AES key");
  std::array<uint8_t, AesGcm::kNonceSize> nonce{};
  for (size_t i = 0; i < kSample / kChunk; ++i) {  // sealed for real, so Open succeeds
    nonce[0] = static_cast<uint8_t>(i);
    nonce[1] = static_cast<uint8_t>(i >> 8);
    Must(gcm.Seal(nonce, {}, ByteView(plain).subspan(i * kChunk, kChunk),
                  sealed.data() + i * (kChunk + AesGcm::kTagSize)),
         "sealing");
  }
  FormatCrypto best{1e9, 1e9};
  for (int round = 0; round < 3; ++round) {
    Clock::time_point t0 = Clock::now();
    for (size_t i = 0; i < kSample / kChunk; ++i) {
      nonce[0] = static_cast<uint8_t>(i);
      nonce[1] = static_cast<uint8_t>(i >> 8);
      const size_t at = i * (kChunk + AesGcm::kTagSize);
      Must(gcm.Open(nonce, {}, ByteView(sealed).subspan(at, kChunk + AesGcm::kTagSize),
                    plain.data() + i * kChunk),
           "opening");
    }
    Clock::time_point t1 = Clock::now();
    Sha256Hasher h;
    h.Update(plain);
    (void)h.Finish();
    Clock::time_point t2 = Clock::now();
    const double scale = static_cast<double>(bytes) / kSample;
    best.aes_s = std::min(best.aes_s, std::chrono::duration<double>(t1 - t0).count() * scale);
    best.sha_s = std::min(best.sha_s, std::chrono::duration<double>(t2 - t1).count() * scale);
  }
  return best;
}

// cardvault's run and its curl baseline, `rounds` times; with several rounds they take
// turns going first (a GiB written first into memory freed seconds ago pays about 5x for
// its page-cache copy on this VM) and the medians count. An even count (kBigRounds) lets
// each go first equally often.
// Also the CPU time the server spent on each run: with one connection it serves a large
// object on one thread, so a run whose server CPU equals its wall time was bound by it.
struct Alternated {
  double ours_s = 0;
  double curl_s = 0;
  std::string rounds;      // "ours / curl" seconds of each round, when there were several
  std::string server_cpu;  // "ours / curl" server CPU seconds of each round, likewise
};

Alternated Alternate(int rounds, int server_pid, const std::function<double(int round)>& ours,
                     const std::function<double()>& curl) {
  std::vector<double> o, c, o_cpu, c_cpu;
  auto timed = [&](const std::function<double()>& run, std::vector<double>& wall,
                   std::vector<double>& cpu) {
    const double before = CpuSeconds(server_pid);
    wall.push_back(run());
    cpu.push_back(CpuSeconds(server_pid) - before);
  };
  for (int round = 0; round < rounds; ++round) {
    auto run_ours = [&] { return ours(round); };
    if (round % 2 == 0) {
      timed(run_ours, o, o_cpu);
      timed(curl, c, c_cpu);
    } else {
      timed(curl, c, c_cpu);
      timed(run_ours, o, o_cpu);
    }
  }
  Alternated a{MedianOf(o), MedianOf(c), {}, {}};
  for (size_t i = 0; rounds > 1 && i < o.size(); ++i) {
    a.rounds += (i > 0 ? ", " : "") + Fixed(o[i]) + " / " + Fixed(c[i]);
    a.server_cpu += (i > 0 ? ", " : "") + Fixed(o_cpu[i]) + " / " + Fixed(c_cpu[i]);
  }
  return a;
}

struct Upload {
  CommandResult agent;
  double curl_s = 0;
  double rclone_s = 0;
  size_t rclone_files = 0;
  std::string rounds;      // "agent / curl" seconds of each round, when there were several
  std::string server_cpu;  // "agent / curl" server CPU seconds of each round, likewise
  std::string agent_cpu;   // the agent's own CPU seconds in each round
};

struct Restored {
  CommandResult restore;
  nlohmann::json summary;
  uint64_t object_bytes = 0;  // the objects' ciphertext bytes on the server
  size_t objects = 0;
  double curl_s = 0;
  double rclone_s = 0;
  size_t rclone_files = 0;
  std::string rounds;       // "restore / curl" seconds of each round, when there were several
  std::string server_cpu;   // "restore / curl" server CPU seconds of each round, likewise
  std::string restore_cpu;  // the restore's own CPU seconds in each round
};

nlohmann::json LastJsonObject(const std::string& text) {
  const size_t start = text.find('{');
  const size_t end = text.rfind('}');
  if (start == std::string::npos || end == std::string::npos) return {};
  return nlohmann::json::parse(text.substr(start, end - start + 1), nullptr, false);
}

int Main(int argc, char** argv) {
  SetBenchName("sync_bench");
  const Options opt = ParseOptions(argc, argv);
  const uint64_t big_size = opt.big_mib << 20;
  const std::string work = MakeTempDir(opt.dir, "cv-sync-bench");
  std::printf(
      "cardvault sync benchmark on 127.0.0.1 (TLS, pinned self-signed certificate): %zu files of "
      "1 KiB and one %llu MiB file, %ld cores\n",
      opt.files, static_cast<unsigned long long>(opt.big_mib), sysconf(_SC_NPROCESSORS_ONLN));
  std::printf("load average at start: %s", ReadText("/proc/loadavg").c_str());
  std::fflush(stdout);

  // The trees: files of pseudo-random content, 100 per directory, and the large file.
  const std::string small_tree = work + "/trees/small", big_tree = work + "/trees/big";
  std::vector<std::string> small_rel;
  std::vector<CurlTransfer> small_put;
  {
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    std::vector<uint8_t> buf(kSmallSize);
    for (size_t i = 0; i < opt.files; ++i) {
      char rel[64];
      std::snprintf(rel, sizeof rel, "d%03zu/f%05zu.txt", i / 100, i);
      const std::string path = small_tree + "/" + rel;
      if (i % 100 == 0) fs::create_directories(fs::path(path).parent_path());
      FillPseudoRandom(buf.data(), buf.size(), &seed);
      std::ofstream(path, std::ios::binary)
          .write(reinterpret_cast<const char*>(buf.data()),
                 static_cast<std::streamsize>(kSmallSize));
      const std::string sha = HexEncode(Sha256(buf));
      small_rel.push_back(rel);
      small_put.push_back({sha, path, sha});
    }
  }
  fs::create_directories(big_tree);
  const std::string big_file = big_tree + "/big.bin";
  WritePseudoRandomFile(big_file, big_size, 0x2545f4914f6cdd1dull);
  const std::string big_sha = Sha256OfFile(big_file);

  // The server: one user per tree for the agent, one for the curl baseline.
  LocalServer server(work + "/server");
  Must(server.Init(), "server init");
  auto token_file = [&](const std::string& user) { return work + "/token-" + user; };
  std::map<std::string, std::string> tokens;
  // A user per upload round: the last round of the big file uploads as "big", the others as
  // "big-r0", "big-r1", ... (see `upload` below).
  std::vector<std::string> users = {"small", "big", "latency", "curl"};
  for (int round = 0; round + 1 < kBigRounds; ++round)
    users.push_back("big-r" + std::to_string(round));
  for (const std::string& user : users) {
    tokens[user] = Must(server.AddUser(user, token_file(user)), "user add");
  }
  const std::string curl_token = tokens["curl"];
  Must(server.Start(), "server start");
  KillOnFailure(server.process().pid());
  const std::string pin_file = work + "/pin";
  std::string softhsm_conf;
  const std::string recipient = MakeCard(work + "/card", pin_file, &softhsm_conf);
  std::unique_ptr<Rclone> rclone;
  if (opt.rclone) rclone = std::make_unique<Rclone>(work + "/rclone");
  {
    std::ofstream list(work + "/rclone-subset.txt");
    for (size_t i = 0; i < opt.rclone_files; ++i) list << small_rel[i] << "\n";
  }

  // ---- Upload: the agent from a cold start (fresh config and state), curl, rclone.
  // `rounds` > 1: as for the 1 GiB restore below, the agent and curl alternate which goes
  // first and the medians count; the earlier rounds upload as their own users, the last as
  // `user` (the one restored later).
  // `directories`: the tree's directories below its root, each a blob of its own (its mode).
  auto upload = [&](const std::string& user, const std::string& tree,
                    const std::vector<CurlTransfer>& puts, size_t files, size_t directories,
                    int rounds) {
    Upload u;
    auto run_agent = [&](int round) {
      const std::string as = round + 1 == rounds ? user : user + "-r" + std::to_string(round);
      Agent a = MakeAgent(work + "/agent-" + as, softhsm_conf);
      InitAgent(a, server, token_file(as), tree, recipient);
      u.agent = RunOrDie(Wrapped({kCli, "sync", "--once"}), a.env);
      u.agent_cpu += (u.agent_cpu.empty() ? "" : ", ") + Fixed(u.agent.cpu_seconds);
      auto client = Must(server.Client(tokens[as]), "client");
      const size_t blobs = ListAll(*client, ObjectKind::kBlob).size();
      Check(blobs == files + directories, "the agent uploaded " + std::to_string(blobs) +
                                              " blobs, expected " +
                                              std::to_string(files + directories));
      return u.agent.seconds;
    };
    auto run_curl = [&] {
      return RunCurl(server, curl_token, puts, true, work, "put-" + user).seconds;
    };
    const Alternated a = Alternate(rounds, server.process().pid(), run_agent, run_curl);
    u.agent.seconds = a.ours_s;
    u.curl_s = a.curl_s;
    u.rounds = a.rounds;
    u.server_cpu = a.server_cpu;
    if (rclone) {
      const bool subset = files > opt.rclone_files;
      u.rclone_files = subset ? opt.rclone_files : files;
      std::vector<std::string> extra;
      if (subset) extra = {"--files-from", work + "/rclone-subset.txt"};
      u.rclone_s = rclone->Copy(tree, "secret:" + user, extra).seconds;
    }
    return u;
  };
  const size_t small_dirs = (opt.files + 99) / 100;
  const Upload up_small = upload("small", small_tree, small_put, opt.files, small_dirs, 1);
  const Upload up_big = upload("big", big_tree, {{big_sha, big_file, big_sha}}, 1, 0, kBigRounds);

  // ---- Latency: `cardvault run`, one small file closed -> its "file_uploaded" event.
  std::vector<double> latencies;
  long run_rss = 0;
  int settle_ms = 0;
  {
    Agent a = MakeAgent(work + "/agent-latency", softhsm_conf);
    const std::string vault = work + "/trees/latency";
    fs::create_directories(vault);
    InitAgent(a, server, token_file("latency"), vault, recipient);
    settle_ms = nlohmann::json::parse(ReadText(a.dir + "/config/cardvault/config.json"))
                    .value("settle_delay_ms", 2000);
    EnvVars env = a.env;
    ChildProcess agent({kCli, "run"}, env, a.dir + "/run.log");
    KillOnFailure(agent.pid());
    std::unique_ptr<ControlClient> control;
    Check(WaitFor(
              [&] {
                auto c = ControlClient::Connect(a.dir + "/run/cardvault/agent.sock");
                if (c.ok()) control = std::move(*c);
                return control != nullptr;
              },
              10000),
          "the agent did not start: " + ReadText(a.dir + "/run.log"));
    Must(control->Call("subscribe").status(), "subscribe");
    std::vector<uint8_t> buf(kSmallSize);
    uint64_t seed = 0x1234567;
    for (int i = 0; i < opt.latency_samples; ++i) {
      const std::string name = "latency-" + std::to_string(i) + ".txt";
      FillPseudoRandom(buf.data(), buf.size(), &seed);
      const int fd = ::open((vault + "/" + name).c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      Check(fd >= 0 && ::write(fd, buf.data(), buf.size()) == static_cast<ssize_t>(buf.size()),
            "cannot write " + name);
      ::close(fd);
      const auto closed = Clock::now();
      while (true) {
        auto ev = control->ReadEvent(settle_ms + 30000);
        Check(ev.ok(), "no upload event for " + name + ": " + ReadText(a.dir + "/run.log"));
        nlohmann::json j = nlohmann::json::parse(*ev, nullptr, false);
        if (j.value("event", "") == "file_uploaded" && j.value("path", "") == name) break;
      }
      latencies.push_back(std::chrono::duration<double>(Clock::now() - closed).count());
    }
    run_rss = PeakRssKib(agent.pid());
    agent.Signal(SIGTERM);
    agent.Wait(30000);
    ForgetOnFailure(agent.pid());
  }

  // ---- Restore: `cardvault restore` with the card into an empty directory, curl, rclone.
  // `rounds` > 1: the restore and curl alternate which goes first, and the medians count.
  // Whichever writes a GiB first into memory freed seconds ago pays about 5x for the copy
  // into the page cache (this VM's host maps freed guest memory again on first touch), so
  // a fixed order would favour the second.
  auto restore = [&](const std::string& user, const std::string& tree, size_t files, int rounds) {
    Restored r;
    auto run_restore = [&](int round) {
      Agent pc = MakeAgent(work + "/restore-pc-" + user + std::to_string(round), softhsm_conf);
      const std::string target = work + "/restored/" + user;
      r.restore = RunOrDie(
          Wrapped({kCli, "restore", "--server", server.url(), "--fingerprint", server.fingerprint(),
                   "--token-file", token_file(user), "--module", kSoftHsm2Module, "--token",
                   kCardLabel, "--pin-file", pin_file, "--target", target, "--json"}),
          pc.env);
      r.restore_cpu += (r.restore_cpu.empty() ? "" : ", ") + Fixed(r.restore.cpu_seconds);
      r.summary = LastJsonObject(r.restore.output);
      Check(r.summary.is_object() && r.summary.value("restored", size_t{0}) == files,
            "restore did not restore every file: " + r.restore.output.substr(0, 2000));
      // Check the restored tree against the original (outside the timing).
      for (const auto& e : fs::recursive_directory_iterator(tree)) {
        if (!e.is_regular_file()) continue;
        const std::string rel = fs::relative(e.path(), tree).string();
        const bool same = e.file_size() > (1 << 20)
                              ? Sha256OfFile(e.path()) == Sha256OfFile(target + "/" + rel)
                              : ReadText(e.path()) == ReadText(target + "/" + rel);
        Check(same, "restored " + rel + " differs from the original");
      }
      fs::remove_all(target);
      return r.restore.seconds;
    };
    // curl fetching the same objects (blobs and key objects) raw.
    auto run_curl = [&] {
      const std::string raw = work + "/curl-get/" + user;
      fs::create_directories(raw);
      std::vector<CurlTransfer> gets;
      r.object_bytes = 0;
      for (const ObjectInfo& o : ListAll(*Must(server.Client(tokens[user]), "client"))) {
        gets.push_back({o.id, raw + "/" + o.id, {}});
        r.object_bytes += o.size;
      }
      r.objects = gets.size();
      const double seconds =
          RunCurl(server, tokens[user], gets, false, work, "get-" + user).seconds;
      fs::remove_all(raw);
      return seconds;
    };
    const Alternated a = Alternate(rounds, server.process().pid(), run_restore, run_curl);
    r.restore.seconds = a.ours_s;
    r.curl_s = a.curl_s;
    r.rounds = a.rounds;
    r.server_cpu = a.server_cpu;

    if (rclone) {
      const std::string back = work + "/rclone-restored/" + user;
      r.rclone_s = rclone->Copy("secret:" + user, back).seconds;
      size_t n = 0;
      for (const auto& e : fs::recursive_directory_iterator(back)) n += e.is_regular_file();
      r.rclone_files = n;
      fs::remove_all(back);
    }
    return r;
  };
  const Restored re_small = restore("small", small_tree, opt.files, 1);
  const Restored re_big = restore("big", big_tree, 1, kBigRounds);
  server.Stop();
  ForgetOnFailure(server.process().pid());
  rclone.reset();

  // ---- Report.
  const uint64_t small_bytes = uint64_t{opt.files} * kSmallSize;
  std::printf(
      "\nMB/s: uploads count plaintext bytes (curl PUTs the same plaintext files, slightly fewer\n"
      "bytes than the agent's ciphertext); restores count the objects' ciphertext bytes (curl\n"
      "GETs exactly the objects the restore reads). curl: one process, %d transfers at once over\n"
      "keep-alive connections; rclone: its defaults (4 transfers). Page cache warm.\n",
      kParallel);

  const std::string curl_put = "curl, " + std::to_string(kParallel) + " parallel PUTs (ceiling)";
  const std::string curl_get = "curl, " + std::to_string(kParallel) + " parallel GETs (ceiling)";
  auto upload_report = [&](const Upload& u, const std::string& title, size_t files, uint64_t bytes,
                           bool small) {
    const Run rclone_run{u.rclone_s, u.rclone_files,
                         small ? uint64_t{u.rclone_files} * kSmallSize : bytes};
    Section(title, small, "cardvault sync --once (cold start)", {u.agent.seconds, files, bytes},
            {curl_put, {u.curl_s, files, bytes}, small ? 0.5 : 0.8, small ? ">= 0.5x" : ">= 0.8x"},
            {"rclone crypt -> WebDAV", rclone_run, small ? kFarAhead : 1.0,
             small ? "far ahead, >= 5x" : "ahead, >= 1x"},
            opt.rclone);
    if (!u.rounds.empty()) {
      std::printf("  rounds, agent / curl (s): %s\n", u.rounds.c_str());
      std::printf("  server CPU in each round, agent / curl (s): %s; the agent's own CPU (s): %s\n",
                  u.server_cpu.c_str(), u.agent_cpu.c_str());
    }
    std::printf("  agent peak RSS %.1f MiB %s\n", Mib(u.agent.peak_rss_kib),
                Target(u.agent.peak_rss_kib < 64 * 1024, "< 64 MiB").c_str());
  };
  char title[256];
  std::snprintf(title, sizeof title, "Upload: %zu files of 1 KiB from a cold start", opt.files);
  upload_report(up_small, title, opt.files, small_bytes, true);
  std::snprintf(
      title, sizeof title,
      "Upload: one %llu MiB file from a cold start (medians of %d, alternating with curl)",
      static_cast<unsigned long long>(opt.big_mib), kBigRounds);
  upload_report(up_big, title, 1, big_size, false);

  if (!latencies.empty()) {
    std::vector<double> sorted = latencies;
    std::sort(sorted.begin(), sorted.end());
    const double limit = settle_ms / 1000.0 + 0.2;
    std::printf(
        "\nLatency (cardvault run, settle delay %d ms): one 1 KiB file closed -> uploaded, %zu "
        "samples: median %.0f ms, max %.0f ms %s\n",
        settle_ms, sorted.size(), sorted[sorted.size() / 2] * 1000, sorted.back() * 1000,
        Target(sorted.back() <= limit, "max <= settle + 200 ms").c_str());
    std::printf("  samples in order (ms):");
    for (double l : latencies) std::printf(" %.0f", l * 1000);
    std::printf("\n  agent (cardvault run) peak RSS %.1f MiB %s\n", Mib(run_rss),
                Target(run_rss > 0 && run_rss < 64 * 1024, "< 64 MiB").c_str());
  }

  auto restore_report = [&](const Restored& r, const std::string& title, size_t files, bool small) {
    const Run rclone_run{r.rclone_s, r.rclone_files,
                         small ? uint64_t{r.rclone_files} * kSmallSize : r.object_bytes};
    Section(title, small, "cardvault restore (card, empty target)",
            {r.restore.seconds, files, r.object_bytes},
            {curl_get,
             {r.curl_s, r.objects, r.object_bytes, "objects"},
             small ? 0.5 : 0.8,
             small ? ">= 0.5x" : ">= 0.8x"},
            {"rclone crypt <- WebDAV", rclone_run, 1.0, "ahead, >= 1x"}, opt.rclone);
    std::printf("  of which listing the vault and decrypting its names: %.2f s\n",
                r.summary.value("list_seconds", 0.0));
    if (!r.rounds.empty()) {
      std::printf("  rounds, restore / curl (s): %s\n", r.rounds.c_str());
      std::printf(
          "  server CPU in each round, restore / curl (s): %s; the restore's own CPU (s): %s\n",
          r.server_cpu.c_str(), r.restore_cpu.c_str());
    }
    const int ops = r.summary.value("card_operations", -1);
    const int epochs = r.summary.value("epochs", -1);
    std::printf("  card operations %d, key epochs %d %s; restore peak RSS %.1f MiB\n", ops, epochs,
                Target(ops == epochs && ops > 0, "ops == epochs").c_str(),
                Mib(r.restore.peak_rss_kib));
  };
  std::snprintf(title, sizeof title, "Restore: %zu files of 1 KiB into an empty directory",
                opt.files);
  restore_report(re_small, title, opt.files, true);
  std::snprintf(
      title, sizeof title,
      "Restore: one %llu MiB file into an empty directory (medians of %d, alternating with "
      "curl)",
      static_cast<unsigned long long>(opt.big_mib), kBigRounds);
  restore_report(re_big, title, 1, false);
  const FormatCrypto crypto = MeasureFormatCrypto(big_size);
  std::printf(
      "  beyond curl's work, the format requires on one core (measured now): AES-256-GCM "
      "%.2f s + SHA-256 %.2f s = %.2f s of CPU\n",
      crypto.aes_s, crypto.sha_s, crypto.aes_s + crypto.sha_s);
  std::printf("\nload average at end: %s", ReadText("/proc/loadavg").c_str());
  std::fflush(stdout);
  fs::remove_all(work);
  return 0;
}

}  // namespace
}  // namespace cardvault

int main(int argc, char** argv) { return cardvault::Main(argc, argv); }
