// Scale benchmark (issue 20): the production layout (HAProxy, 2 cardvault-server instances,
// PostgreSQL + radosgw; tests/engines/scale_cluster.h) against the engine's ceiling, the
// same traffic sent straight to radosgw by curl with SigV4, as a ratio. Also the single-node
// layout (one instance, SQLite + files) and 2 instances over PostgreSQL + a shared blobs/
// directory, behind the same proxy.
//
//   - many 1 KiB objects, 8 clients at once (each its own keep-alive connection): objects/s;
//   - one large object, one client: MB/s.
// Medians of `--runs` runs (3). `--quick`: 1,000 small objects and 64 MiB (for CI).
// `--big-only`: the large object alone (no small objects), ending with issue 20's line:
// cardvault MB/s, curl MB/s, and the median of the runs' ratios (each from one run).
//
// Usage: scale_bench [--quick] [--big-only] [--small N] [--big-mib N] [--runs N] [--dir DIR]
//                    [--layout production|shared-files|single|all] [--config JSON]
//        --config: keys merged into every instance's config.json, e.g.
//                  '{"s3": {"multipart_threshold_bytes": 2147483648}}'
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "core/crypto.h"
#include "core/memory_file.h"
#include "tests/engines/scale_cluster.h"

namespace cardvault {
namespace {

constexpr int kClients = 8;

struct Args {
  size_t small = 10000;
  uint64_t big_mib = 1024;
  int runs = 3;
  bool big_only = false;  // skip the small objects
  std::string dir = "/tmp";
  std::string layout = "all";
  std::string config;  // merged into every instance's config.json
};

struct Figures {
  double objects_per_s = 0;
  double big_mbps = 0;
  double big_ratio = 0;  // median of each run's cardvault / ceiling (ceiling figures only)
};

std::string Id(const std::string& label, size_t i) {
  return HexEncode(Sha256(AsBytes(label + "/" + std::to_string(i))));
}

double MedianOf(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// `small` 1 KiB objects through the cluster's proxy by 8 clients; objects/s.
StatusOr<double> CardvaultSmall(ScaleCluster& c, const std::string& token, size_t small,
                                const std::string& label) {
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::string error;
  std::mutex mu;
  const double s = Seconds([&] {
    std::vector<std::thread> t;
    for (int k = 0; k < kClients; ++k) {
      t.emplace_back([&] {
        auto client = c.Client(token);
        Bytes payload(1024, 0x5a);
        for (size_t i = next++; client.ok() && i < small && !failed; i = next++) {
          payload[0] = static_cast<uint8_t>(i);
          payload[1] = static_cast<uint8_t>(i >> 8);
          PutOptions o{ObjectKind::kBlob, payload.size(), HexEncode(Sha256(payload)), true};
          auto put =
              (*client)->Put(Id(label, i), o, [&]() -> StatusOr<std::unique_ptr<SequentialFile>> {
                return std::unique_ptr<SequentialFile>(new MemorySequentialFile(payload));
              });
          if (!put.ok()) {
            std::lock_guard lock(mu);
            error = put.status().ToString();
            failed = true;
          }
        }
        if (!client.ok()) failed = true;
      });
    }
    for (auto& th : t) th.join();
  });
  if (failed) return UnavailableError("small upload failed: " + error);
  return small / s;
}

// One large object through the proxy; MB/s.
StatusOr<double> CardvaultBig(ScaleCluster& c, const std::string& token, const std::string& file,
                              uint64_t size, const std::string& sha, const std::string& id) {
  CV_ASSIGN_OR_RETURN(auto client, c.Client(token));
  PutOptions put{ObjectKind::kBlob, size, sha, false};
  Status st;
  const double s = Seconds([&] {
    st = client->Put(id, put, [&] { return Env::Default()->NewSequentialFile(file); }).status();
  });
  CV_RETURN_IF_ERROR(st);
  return Mbps(size, s);
}

// curl's arguments for SigV4 requests to the cluster's radosgw.
std::vector<std::string> CurlS3(const RgwCluster& rgw) {
  return {"curl",
          "-sS",
          "-f",
          "--aws-sigv4",
          "aws:amz:us-east-1:s3",
          "--user",
          rgw.access_key() + ":" + rgw.secret_key(),
          "-H",
          "x-amz-content-sha256: UNSIGNED-PAYLOAD",
          "-o",
          "/dev/null"};
}

// The ceiling for small objects: 8 curl processes, each PUTting its share over one
// keep-alive connection (a config file of URLs); objects/s.
StatusOr<double> CeilingSmall(const RgwCluster& rgw, const std::string& dir, size_t small,
                              const std::string& label) {
  const std::string one_k = dir + "/one-k";
  std::ofstream(one_k, std::ios::binary) << std::string(1024, 'z');
  std::vector<std::string> configs;
  for (int k = 0; k < kClients; ++k) {
    configs.push_back(dir + "/curl-" + std::to_string(k) + ".cfg");
    std::ofstream cfg(configs.back());
    for (size_t i = k; i < small; i += kClients) {
      cfg << "url = \"" << rgw.endpoint() << "/" << rgw.bucket() << "/" << Id(label, i)
          << "\"\nupload-file = \"" << one_k << "\"\noutput = \"/dev/null\"\n";
    }
  }
  std::atomic<bool> failed{false};
  std::string output;
  const double s = Seconds([&] {
    std::vector<std::thread> t;
    for (const auto& cfg : configs) {
      t.emplace_back([&, cfg] {
        auto argv = CurlS3(rgw);
        argv.insert(argv.end(), {"-K", cfg});
        CommandResult r = RunCommand(argv);
        if (r.exit_code != 0) {
          failed = true;
          output = r.output;
        }
      });
    }
    for (auto& th : t) th.join();
  });
  if (failed) return UnavailableError("curl to radosgw failed: " + output);
  return small / s;
}

StatusOr<double> CeilingBig(const RgwCluster& rgw, const std::string& file, uint64_t size,
                            const std::string& id) {
  auto argv = CurlS3(rgw);
  argv.insert(argv.end(), {"-T", file, rgw.endpoint() + "/" + rgw.bucket() + "/" + id});
  CommandResult r = RunCommand(argv);
  if (r.exit_code != 0) return UnavailableError("curl to radosgw failed: " + r.output);
  return Mbps(size, r.seconds);
}

// Runs `args.runs` rounds of both workloads against the cardvault layout in `c` (and, when
// `ceiling`, straight to radosgw), alternating, and returns the medians.
StatusOr<std::pair<Figures, Figures>> Measure(ScaleCluster& c, const Args& args,
                                              const std::string& big, const std::string& sha,
                                              bool ceiling) {
  CV_ASSIGN_OR_RETURN(std::string token, c.AddUser("bench", c.dir() + "/bench-token"));
  const uint64_t size = args.big_mib << 20;
  std::vector<double> ours_small, ours_big, ceil_small, ceil_big, big_ratios;
  for (int run = 0; run < args.runs; ++run) {
    const std::string r = std::to_string(run);
    if (ceiling && !args.big_only) {
      CV_ASSIGN_OR_RETURN(double cs,
                          CeilingSmall(*c.radosgw(), c.dir(), args.small, "ceil-small" + r));
      ceil_small.push_back(cs);
    }
    double os = 0;
    if (!args.big_only) {
      CV_ASSIGN_OR_RETURN(os, CardvaultSmall(c, token, args.small, "small" + r));
      ours_small.push_back(os);
    }
    if (ceiling) {
      CV_ASSIGN_OR_RETURN(double cb, CeilingBig(*c.radosgw(), big, size, Id("ceil-big", run)));
      ceil_big.push_back(cb);
    }
    CV_ASSIGN_OR_RETURN(double ob, CardvaultBig(c, token, big, size, sha, Id("big", run)));
    ours_big.push_back(ob);
    if (ceiling) big_ratios.push_back(ob / ceil_big.back());
    std::printf("  run %d: cardvault %.0f objects/s, %.0f MB/s", run + 1, os, ob);
    if (ceiling) {
      std::printf("; radosgw %.0f objects/s, %.0f MB/s (%.2fx)",
                  ceil_small.empty() ? 0.0 : ceil_small.back(), ceil_big.back(), big_ratios.back());
    }
    std::printf("\n");
    std::fflush(stdout);
  }
  return std::make_pair(Figures{MedianOf(ours_small), MedianOf(ours_big)},
                        Figures{MedianOf(ceil_small), MedianOf(ceil_big), MedianOf(big_ratios)});
}

void PrintFigures(const std::string& what, const Figures& f, const Figures* ceiling) {
  std::printf("%-44s %8.0f objects/s", what.c_str(), f.objects_per_s);
  if (ceiling != nullptr && ceiling->objects_per_s > 0 && f.objects_per_s > 0) {
    std::printf(" (%.2fx)", f.objects_per_s / ceiling->objects_per_s);
  }
  std::printf("   %6.0f MB/s", f.big_mbps);
  if (ceiling != nullptr && ceiling->big_mbps > 0)
    std::printf(" (%.2fx)", f.big_mbps / ceiling->big_mbps);
  std::printf("\n");
}

// One layout: start it, measure, stop it. Errors are printed, not fatal: the other layout
// still runs, and every process is stopped by the cluster's destructor.
void RunLayout(const Args& args, ScaleLayout layout, const std::string& big,
               const std::string& sha) {
  ScaleCluster::Options o;
  o.layout = layout;
  o.radosgw = true;  // for the ceiling, whatever the layout
  o.base_dir = args.dir;
  o.extra_config = args.config;
  const std::string name =
      std::string(layout == ScaleLayout::kSingleNode ? "1 instance" : "2 instances") + ", " +
      ScaleLayoutName(layout);
  std::printf("\n== %s, behind HAProxy\n", name.c_str());
  std::fflush(stdout);
  auto cluster = ScaleCluster::Start(o);
  if (!cluster.ok()) {
    std::printf("  not measured: %s\n", cluster.status().ToString().c_str());
    return;
  }
  auto figures = Measure(**cluster, args, big, sha, /*ceiling=*/true);
  if (!figures.ok()) {
    std::printf("  failed: %s\n", figures.status().ToString().c_str());
    return;
  }
  std::printf("\nmedians of %d (%zu x 1 KiB by %d clients; one %llu MiB object):\n", args.runs,
              args.small, kClients, static_cast<unsigned long long>(args.big_mib));
  PrintFigures("radosgw straight, curl SigV4 (the ceiling)", figures->second, nullptr);
  PrintFigures("cardvault, " + name, figures->first, &figures->second);
  // Issue 20's line: the ratio is the median of the runs' ratios, each from one run.
  const double ratio = figures->second.big_ratio;
  std::printf(
      "\n%llu MiB upload, %s through HAProxy: %.0f MB/s; curl SigV4 straight to radosgw: %.0f "
      "MB/s; ratio %.2fx (median of %d runs' ratios) %s\n",
      static_cast<unsigned long long>(args.big_mib), name.c_str(), figures->first.big_mbps,
      figures->second.big_mbps, ratio, args.runs, Target(ratio >= 0.7, ">= 0.7").c_str());
  std::fflush(stdout);
}

int Main(int argc, char** argv) {
  SetBenchName("scale_bench");
  Args args;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--quick") {
      args.small = 1000;
      args.big_mib = 64;
    } else if (a == "--big-only") {
      args.big_only = true;
    } else if (a == "--small" && has_value) {
      args.small = std::stoull(argv[++i]);
    } else if (a == "--big-mib" && has_value) {
      args.big_mib = std::stoull(argv[++i]);
    } else if (a == "--runs" && has_value) {
      args.runs = std::stoi(argv[++i]);
    } else if (a == "--dir" && has_value) {
      args.dir = argv[++i];
    } else if (a == "--config" && has_value) {
      args.config = argv[++i];
    } else if (a == "--layout" && has_value) {
      args.layout = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: scale_bench [--quick] [--big-only] [--small N] [--big-mib N] [--runs N] "
                   "[--dir DIR] [--layout production|shared-files|single|all] [--config JSON]\n");
      return 2;
    }
  }
  ::signal(SIGPIPE, SIG_IGN);
  const std::string dir = MakeTempDir(args.dir, "cv-scale-bench");
  const std::string big = dir + "/big";
  WritePseudoRandomFile(big, args.big_mib << 20, 0x9e3779b97f4a7c15ull);
  const std::string sha = Sha256OfFile(big);
  std::printf("scale benchmark: %zu objects of 1 KiB (%d clients), one %llu MiB object, %d runs\n",
              args.big_only ? size_t{0} : args.small, kClients,
              static_cast<unsigned long long>(args.big_mib), args.runs);
  std::printf("target: >= 0.7x of the ceiling for both, in the production layout\n");
  const auto wanted = [&](const std::string& name) {
    return args.layout == "all" || args.layout == name;
  };
  if (wanted("production")) RunLayout(args, ScaleLayout::kPostgresS3, big, sha);
  if (wanted("shared-files")) RunLayout(args, ScaleLayout::kPostgresFiles, big, sha);
  if (wanted("single")) RunLayout(args, ScaleLayout::kSingleNode, big, sha);
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace cardvault

int main(int argc, char** argv) { return cardvault::Main(argc, argv); }
