// Server benchmark: a real cardvault-server process on 127.0.0.1 over TLS. One large object
// up and down (1 and 8 clients), many 1 KiB objects up and down (1 and 8 clients), the server's
// peak RSS, and curl uploading the same large file to the same server as the baseline.
//
// Usage: server_bench [--big-mib N] [--small N] [--dir DIR]   (defaults: 1024, 10000, /tmp)
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <thread>
#include <vector>

#include "api/remote_store.h"
#include "bench/bench_util.h"
#include "core/crypto.h"
#include "core/memory_file.h"
#include "tests/integration/local_server.h"

namespace cardvault {
namespace {

std::string Id(const std::string& label, size_t i) {
  return HexEncode(Sha256(AsBytes(label + std::to_string(i))));
}

// Downloads object `id` (bytes counted, not kept) and checks it has `size` bytes.
void DownloadAndCheck(ObjectClient& client, const std::string& id, uint64_t size) {
  uint64_t got = 0;
  Check(client
            .Get(id, {},
                 [&](ByteView b) {
                   got += b.size();
                   return Status::Ok();
                 })
            .ok(),
        "download of " + id + " failed");
  Check(got == size, "short download of " + id);
}

int Main(int argc, char** argv) {
  SetBenchName("server_bench");
  uint64_t big_mib = 1024;
  size_t small = 10000;
  std::string base = "/tmp";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--big-mib") big_mib = std::stoull(argv[i + 1]);
    if (a == "--small") small = std::stoull(argv[i + 1]);
    if (a == "--dir") base = argv[i + 1];
  }
  const std::string dir = MakeTempDir(base, "cv-server-bench");
  LocalServer server(dir);
  Must(server.Init(R"({"quota_bytes": )" + std::to_string(uint64_t{64} << 30) +
                   R"(, "max_object_bytes": )" + std::to_string(uint64_t{8} << 30) +
                   R"(, "threads": 16})"),
       "server init");
  const std::string token = Must(server.AddUser("bench", dir + "/token"), "user");
  Must(server.Start(), "server start");
  KillOnFailure(server.process().pid());
  auto client = [&] { return Must(server.Client(token), "client"); };

  // The large file, on disk, and its hash.
  const uint64_t size = big_mib << 20;
  const std::string big = dir + "/big";
  WritePseudoRandomFile(big, size, 0x9e3779b97f4a7c15ull);
  const std::string sha = Sha256OfFile(big);
  std::printf("cardvault-server benchmark on 127.0.0.1 (TLS), %llu MiB object, %zu small objects\n",
              static_cast<unsigned long long>(big_mib), small);

  // Baseline: curl uploading the same file to the same server. The two alternate, three
  // rounds, and each reports its median: one upload's writeback slows the next one.
  auto remote = client();
  PutOptions put{ObjectKind::kBlob, size, sha, false};
  std::vector<double> curl_runs, our_runs;
  for (int round = 0; round < 3; ++round) {
    curl_runs.push_back(Seconds([&] {
      RunOrDie({"curl", "-sS", "-f", "--cacert", server.cert_file(), "-H",
                "Authorization: Bearer " + token, "-H", "X-Content-SHA256: " + sha, "-T", big,
                "https://localhost:" + std::to_string(server.port()) + "/v1/objects/" +
                    Id("curl", round)});
    }));
    our_runs.push_back(Seconds([&] {
      Check(
          remote->Put(Id("big", round), put, [&] { return Env::Default()->NewSequentialFile(big); })
              .ok(),
          "upload failed");
    }));
  }
  std::sort(curl_runs.begin(), curl_runs.end());
  std::sort(our_runs.begin(), our_runs.end());
  const double curl_mbps = size / curl_runs[1] / 1e6;
  const double up_s = our_runs[1];
  double down_s = Seconds([&] { DownloadAndCheck(*remote, Id("big", 0), size); });
  std::printf("\nOne %llu MiB object, 1 client, medians of 3 (baseline: curl upload %.0f MB/s)\n",
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
      t.emplace_back([&, c] { DownloadAndCheck(*client(), Id("par", c), size); });
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
          for (size_t i = next++; i < small; i = next++) DownloadAndCheck(*r, Id(label, i), 1024);
        });
      }
      for (auto& th : t) th.join();
    });
    std::printf("\n%zu objects of 1 KiB, %d client%s: upload %.0f objects/s%s, download %.0f/s\n",
                small, clients, clients == 1 ? "" : "s", small / s,
                clients == 8 ? " (target >= 2000)" : "", small / get_s);
  }
  std::printf("\nServer peak RSS: %.1f MiB (target < 64 MiB with 8 concurrent large uploads)\n",
              PeakRssKib(server.process().pid()) / 1024.0);
  server.Stop();
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace cardvault

int main(int argc, char** argv) { return cardvault::Main(argc, argv); }
