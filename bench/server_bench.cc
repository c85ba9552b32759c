// Server benchmark: a real cardvault-server process on 127.0.0.1 over TLS. One large object
// up and down (1 and 8 clients), many 1 KiB objects up and down (1 and 8 clients), the server's
// peak RSS, and curl uploading the same large file to the same server as the baseline.
//
// Usage: server_bench [--big-mib N] [--small N] [--dir DIR]   (defaults: 1024, 10000, /tmp)
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "api/remote_store.h"
#include "core/crypto.h"
#include "core/memory_file.h"
#include "tests/integration/process_util.h"

namespace cardvault {
namespace {

double Seconds(const std::function<void()>& f) {
  auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void Check(bool ok, const std::string& what) {
  if (!ok) {
    std::cerr << "server_bench: " << what << "\n";
    std::exit(1);
  }
}

long PeakRssKib(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

std::string Id(const std::string& label, size_t i) {
  return HexEncode(Sha256(AsBytes(label + std::to_string(i))));
}

int Main(int argc, char** argv) {
  uint64_t big_mib = 1024;
  size_t small = 10000;
  std::string base = "/tmp";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--big-mib") big_mib = std::stoull(argv[i + 1]);
    if (a == "--small") small = std::stoull(argv[i + 1]);
    if (a == "--dir") base = argv[i + 1];
  }
  const std::string server_bin = std::string(CARDVAULT_BINARY_DIR) + "/api/cardvault-server";
  char tmpl[4096];
  std::snprintf(tmpl, sizeof tmpl, "%s/cv-server-bench-XXXXXX", base.c_str());
  Check(mkdtemp(tmpl) != nullptr, "mkdtemp");
  const std::string dir = tmpl, data = dir + "/data";

  CommandResult init = RunCommand({server_bin, "--data", data, "init"});
  Check(init.exit_code == 0, init.output);
  const std::string fingerprint = init.output.substr(init.output.find("fingerprint: ") + 13, 64);
  const int port = FreePort();
  const Bytes config_text = ReadFileToBytes(*Env::Default(), data + "/config.json").value();
  nlohmann::json config = nlohmann::json::parse(AsStringView(config_text));
  config["port"] = port;
  config["access_log"] = false;
  config["quota_bytes"] = uint64_t{64} << 30;
  config["max_object_bytes"] = uint64_t{8} << 30;
  config["threads"] = 16;
  std::ofstream(data + "/config.json") << config.dump(2);
  Check(RunCommand({server_bin, "--data", data, "user", "add", "bench"}).exit_code == 0, "user");
  CommandResult tok = RunCommand({server_bin, "--data", data, "token", "issue", "bench"});
  const size_t at = tok.output.find("cvt_");
  const std::string token = tok.output.substr(at, tok.output.find_first_of(" \n", at) - at);
  ChildProcess server({server_bin, "--data", data, "serve"}, {}, dir + "/server.log");

  auto client = [&] {
    RemoteStoreOptions o;
    o.port = port;
    o.pinned_sha256 = fingerprint;
    o.token = SecretData::CopyFrom(token);
    o.read_timeout_seconds = 300;
    o.write_timeout_seconds = 300;
    return RemoteStore::New(std::move(o)).value();
  };
  Check(WaitFor([&] { return client()->Health().ok(); }, 10000), "server did not start");

  // The large file, on disk, and its hash.
  const uint64_t size = big_mib << 20;
  const std::string big = dir + "/big";
  {
    std::vector<uint8_t> buf(1 << 20);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    std::ofstream f(big, std::ios::binary);
    for (uint64_t done = 0; done < size; done += buf.size()) {
      for (size_t i = 0; i < buf.size(); i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        std::memcpy(&buf[i], &x, 8);
      }
      f.write(reinterpret_cast<const char*>(buf.data()), static_cast<std::streamsize>(buf.size()));
    }
  }
  Sha256Hasher h;
  {
    auto f = Env::Default()->NewSequentialFile(big).value();
    std::vector<uint8_t> buf(1 << 20);
    while (true) {
      size_t n = f->Read(buf).value();
      if (n == 0) break;
      h.Update({buf.data(), n});
    }
  }
  const std::string sha = HexEncode(h.Finish());
  std::printf("cardvault-server benchmark on 127.0.0.1 (TLS), %llu MiB object, %zu small objects\n",
              static_cast<unsigned long long>(big_mib), small);

  // Baseline: curl uploading the same file to the same server.
  double curl_s = Seconds([&] {
    CommandResult r =
        RunCommand({"curl", "-sS", "-f", "--cacert", data + "/tls/cert.pem", "-H",
                    "Authorization: Bearer " + token, "-H", "X-Content-SHA256: " + sha, "-T", big,
                    "https://localhost:" + std::to_string(port) + "/v1/objects/" + Id("curl", 0)});
    Check(r.exit_code == 0, "curl upload failed: " + r.output);
  });
  const double curl_mbps = size / curl_s / 1e6;

  auto remote = client();
  PutOptions put{ObjectKind::kBlob, size, sha, false};
  double up_s = Seconds([&] {
    Check(
        remote->Put(Id("big", 0), put, [&] { return Env::Default()->NewSequentialFile(big); }).ok(),
        "upload failed");
  });
  double down_s = Seconds([&] {
    uint64_t got = 0;
    Check(remote
              ->Get(Id("big", 0), 0,
                    [&](ByteView b) {
                      got += b.size();
                      return Status::Ok();
                    })
              .ok(),
          "download failed");
    Check(got == size, "short download");
  });
  std::printf("\nOne %llu MiB object, 1 client (baseline: curl upload %.0f MB/s)\n",
              static_cast<unsigned long long>(big_mib), curl_mbps);
  std::printf("  upload    %8.0f MB/s   %5.2fx of curl (target >= 0.9)\n", size / up_s / 1e6,
              size / up_s / 1e6 / curl_mbps);
  std::printf("  download  %8.0f MB/s\n", size / down_s / 1e6);

  // 8 clients uploading the large object at once: throughput and the server's memory.
  double par_s = Seconds([&] {
    std::vector<std::thread> t;
    for (int c = 0; c < 8; ++c) {
      t.emplace_back([&, c] {
        auto r = client();
        Check(
            r->Put(Id("par", c), put, [&] { return Env::Default()->NewSequentialFile(big); }).ok(),
            "parallel upload failed");
      });
    }
    for (auto& th : t) th.join();
  });
  double par_get_s = Seconds([&] {
    std::vector<std::thread> t;
    for (int c = 0; c < 8; ++c) {
      t.emplace_back([&, c] {
        uint64_t got = 0;
        Check(client()
                  ->Get(Id("par", c), 0,
                        [&](ByteView b) {
                          got += b.size();
                          return Status::Ok();
                        })
                  .ok(),
              "parallel download failed");
        Check(got == size, "short parallel download");
      });
    }
    for (auto& th : t) th.join();
  });
  std::printf("  8 clients at once: upload %.0f MB/s, download %.0f MB/s in total\n",
              8.0 * size / par_s / 1e6, 8.0 * size / par_get_s / 1e6);

  // Small objects.
  for (int clients : {1, 8}) {
    std::atomic<size_t> next{0};
    const std::string label = "small" + std::to_string(clients);
    double s = Seconds([&] {
      std::vector<std::thread> t;
      for (int c = 0; c < clients; ++c) {
        t.emplace_back([&] {
          auto r = client();
          Bytes payload(1024, 0x5a);
          for (size_t i = next++; i < small; i = next++) {
            payload[0] = static_cast<uint8_t>(i);
            PutOptions o{ObjectKind::kBlob, payload.size(), HexEncode(Sha256(payload)), true};
            Check(
                r->Put(Id(label, i), o,
                       [&]() -> StatusOr<std::unique_ptr<SequentialFile>> {
                         return std::unique_ptr<SequentialFile>(new MemorySequentialFile(payload));
                       })
                    .ok(),
                "small upload failed");
          }
        });
      }
      for (auto& th : t) th.join();
    });
    next = 0;
    double get_s = Seconds([&] {
      std::vector<std::thread> t;
      for (int c = 0; c < clients; ++c) {
        t.emplace_back([&] {
          auto r = client();
          for (size_t i = next++; i < small; i = next++) {
            uint64_t got = 0;
            Check(r->Get(Id(label, i), 0,
                         [&](ByteView b) {
                           got += b.size();
                           return Status::Ok();
                         })
                      .ok(),
                  "small download failed");
            Check(got == 1024, "short small download");
          }
        });
      }
      for (auto& th : t) th.join();
    });
    std::printf("\n%zu objects of 1 KiB, %d client%s: upload %.0f objects/s%s, download %.0f/s\n",
                small, clients, clients == 1 ? "" : "s", small / s,
                clients == 8 ? " (target >= 2000)" : "", small / get_s);
  }
  std::printf("\nServer peak RSS: %.1f MiB (target < 64 MiB with 8 concurrent large uploads)\n",
              PeakRssKib(server.pid()) / 1024.0);
  server.Signal(SIGTERM);
  server.Wait(30000);
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace cardvault

int main(int argc, char** argv) { return cardvault::Main(argc, argv); }
