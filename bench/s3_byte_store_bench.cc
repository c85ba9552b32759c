// s3_byte_store_bench: S3ByteStore against the same requests sent with plain libcurl SigV4
// (one keep-alive handle: the engine's ceiling) on a radosgw started here
// (tests/engines/radosgw.sh): 1 KiB PUT and GET per second, 256 MiB PUT and GET in MB/s,
// medians of 3, as ratios; the 256 MiB PUT also with the body arriving at curl's rate (as
// through the server) and as one streamed PUT; then the reader's read-ahead and the
// connection reuse. `--multipart` instead times only the paced multipart PUT per
// parts_in_flight and part_bytes, each run's ratio against a curl PUT in the same round.
//
//   s3_byte_store_bench [--small N] [--large-mib M] [--multipart]
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "storage/s3_byte_store.h"

namespace cardvault {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;

struct Rgw {
  std::string dir, endpoint, bucket, access_key, secret_key;
};

int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  Check(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0,
        "no free port");
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string Script() { return std::string(CARDVAULT_SOURCE_DIR) + "/tests/engines/radosgw.sh"; }

Rgw StartRgw() {
  Rgw rgw;
  rgw.dir = MakeTempDir("/tmp", "cv-s3-bench");
  RunOrDie({"bash", Script(), "start", rgw.dir, std::to_string(FreePort())},
           {{"OWNER_PID", std::to_string(::getpid())}});
  std::ifstream in(rgw.dir + "/s3.env");
  std::map<std::string, std::string> vars;
  for (std::string line; std::getline(in, line);) {
    const size_t eq = line.find('=');
    if (eq != std::string::npos) vars[line.substr(0, eq)] = line.substr(eq + 1);
  }
  rgw.endpoint = vars["S3_ENDPOINT"];
  rgw.bucket = vars["S3_BUCKET"];
  rgw.access_key = vars["S3_ACCESS_KEY"];
  rgw.secret_key = vars["S3_SECRET_KEY"];
  return rgw;
}

// Plain libcurl SigV4 requests on one keep-alive handle (or a new handle per request).
class RawCurl {
 public:
  RawCurl(const Rgw& rgw, bool reuse)
      : rgw_(rgw), reuse_(reuse), sigv4_("aws:amz:us-east-1:s3"), handle_(curl_easy_init()) {}
  ~RawCurl() { curl_easy_cleanup(handle_); }

  void Put(const std::string& name, ByteView data) {
    CURL* h = Prepare(name);
    Body body{data, 0};
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(data.size()));
    curl_easy_setopt(h, CURLOPT_READFUNCTION, &ReadBody);
    curl_easy_setopt(h, CURLOPT_READDATA, &body);
    Perform(h, 200, "PUT " + name);
  }

  void Get(const std::string& name, Bytes& out) {
    CURL* h = Prepare(name);
    out.clear();
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &WriteBody);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &out);
    Perform(h, 200, "GET " + name);
  }

 private:
  struct Body {
    ByteView data;
    size_t at;
  };
  static size_t ReadBody(char* buf, size_t size, size_t n, void* user) {
    auto* b = static_cast<Body*>(user);
    const size_t take = std::min(size * n, b->data.size() - b->at);
    std::memcpy(buf, b->data.data() + b->at, take);
    b->at += take;
    return take;
  }
  static size_t WriteBody(char* buf, size_t size, size_t n, void* user) {
    auto* out = static_cast<Bytes*>(user);
    out->insert(out->end(), buf, buf + size * n);
    return size * n;
  }

  CURL* Prepare(const std::string& name) {
    if (!reuse_) {
      curl_easy_cleanup(handle_);
      handle_ = curl_easy_init();
    }
    CURL* h = handle_;
    curl_easy_reset(h);
    url_ = rgw_.endpoint + "/" + rgw_.bucket + "/" + name;
    curl_easy_setopt(h, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4_.c_str());
    curl_easy_setopt(h, CURLOPT_USERNAME, rgw_.access_key.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, rgw_.secret_key.c_str());
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    return h;
  }

  void Perform(CURL* h, long want, const std::string& what) {
    curl_slist* headers = curl_slist_append(nullptr, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    const CURLcode rc = curl_easy_perform(h);
    curl_slist_free_all(headers);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    Check(rc == CURLE_OK && status == want,
          "curl " + what + ": " + curl_easy_strerror(rc) + " HTTP " + std::to_string(status));
  }

  const Rgw& rgw_;
  const bool reuse_;
  const std::string sigv4_;
  CURL* handle_;
  std::string url_;
};

// `threshold`: the multipart threshold (above the object's size: one streamed PUT).
// `parts_in_flight` and `part_bytes`: 0 for the defaults.
std::unique_ptr<ByteStore> OpenStore(const Rgw& rgw, uint64_t read_ahead,
                                     uint64_t threshold = uint64_t{64} << 20,
                                     int parts_in_flight = 0, uint64_t part_bytes = 0) {
  S3ByteStoreOptions o;
  o.multipart_threshold_bytes = threshold;
  if (parts_in_flight > 0) o.parts_in_flight = parts_in_flight;
  if (part_bytes > 0) o.part_bytes = part_bytes;
  o.endpoint = rgw.endpoint;
  o.bucket = rgw.bucket;
  o.prefix = "store/";
  o.access_key_id = rgw.access_key;
  o.secret_access_key = SecretData::CopyFrom(rgw.secret_key);
  o.read_ahead_bytes = read_ahead;
  return Must(NewS3ByteStore(std::move(o)), "open the S3 byte store");
}

std::string StorePut(ByteStore& store, ByteView data, size_t chunk) {
  auto writer = Must(store.NewWriter(data.size()), "new writer");
  for (size_t at = 0; at < data.size(); at += chunk) {
    Must(writer->Append(data.subspan(at, std::min(chunk, data.size() - at))), "append");
  }
  return Must(writer->Commit(), "commit");
}

// As StorePut, but each chunk takes chunk / bytes_per_second to arrive, and none arrives
// while Append blocks: a client's upload reaching the store through the server, which
// stops reading the socket while it waits for the store (TCP then holds the client back).
std::string StorePutPaced(ByteStore& store, ByteView data, size_t chunk, double bytes_per_second) {
  auto writer = Must(store.NewWriter(data.size()), "new writer");
  const auto per_chunk = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(static_cast<double>(chunk) / bytes_per_second));
  auto next = std::chrono::steady_clock::now();
  for (size_t at = 0; at < data.size(); at += chunk) {
    next = std::max(next, std::chrono::steady_clock::now()) + per_chunk;
    std::this_thread::sleep_until(next);
    Must(writer->Append(data.subspan(at, std::min(chunk, data.size() - at))), "append");
  }
  return Must(writer->Commit(), "commit");
}

void StoreGet(ByteStore& store, const std::string& key, Bytes& out, size_t piece) {
  auto reader = Must(store.Open(key), "open");
  out.resize(reader->size());
  for (size_t done = 0; done < out.size();) {
    const size_t n =
        Must(reader->ReadAt(done, std::span(out).subspan(done, std::min(piece, out.size() - done))),
             "read");
    Check(n > 0, "stored bytes ended early");
    done += n;
  }
}

void SmallObjects(const Rgw& rgw, int count) {
  auto store = OpenStore(rgw, kMiB);
  RawCurl curl(rgw, /*reuse=*/true), fresh(rgw, /*reuse=*/false);
  Bytes data(1024), out;
  uint64_t seed = 1;
  FillPseudoRandom(data.data(), data.size(), &seed);
  std::vector<std::string> keys(count);
  int run = 0;
  const double curl_put = Median(3, [&] {
    ++run;
    for (int i = 0; i < count; ++i)
      curl.Put("raw/" + std::to_string(run) + "-" + std::to_string(i), data);
  });
  const double store_put = Median(3, [&] {
    for (int i = 0; i < count; ++i) keys[i] = StorePut(*store, data, data.size());
  });
  const double curl_get = Median(3, [&] {
    for (int i = 0; i < count; ++i) curl.Get("raw/1-" + std::to_string(i), out);
  });
  const double store_get = Median(3, [&] {
    for (int i = 0; i < count; ++i) StoreGet(*store, keys[i], out, 65536);
  });
  const double fresh_put = Seconds([&] {
    for (int i = 0; i < count; ++i) fresh.Put("fresh/" + std::to_string(i), data);
  });
  std::printf("\n%d objects of 1 KiB, one client, medians of 3\n", count);
  Row("curl PUT (keep-alive)", count / curl_put, "/s", "", count / curl_put);
  Row("S3ByteStore PUT", count / store_put, "/s", "of curl", count / curl_put);
  Row("curl GET (keep-alive)", count / curl_get, "/s", "", count / curl_get);
  Row("S3ByteStore Open + ReadAt", count / store_get, "/s", "of curl", count / curl_get);
  Row("curl PUT, a new connection per request", count / fresh_put, "/s", "of keep-alive",
      count / curl_put, "(what a pool saves)");
}

void LargeObject(const Rgw& rgw, uint64_t size) {
  auto store = OpenStore(rgw, kMiB);
  RawCurl curl(rgw, /*reuse=*/true);
  Bytes data(size), out;
  uint64_t seed = 2;
  FillPseudoRandom(data.data(), data.size(), &seed);
  std::string key;
  const double curl_put = Median(3, [&] { curl.Put("raw/large", data); });
  const double store_put = Median(3, [&] { key = StorePut(*store, data, kMiB); });
  // The body arriving at curl's own rate: without overlap, receiving and uploading add up.
  const double rate = static_cast<double>(size) / curl_put;
  const double paced_put = Median(3, [&] { StorePutPaced(*store, data, kMiB, rate); });
  auto single = OpenStore(rgw, kMiB, size + 1);
  const double single_put = Median(3, [&] { StorePut(*single, data, kMiB); });
  const double single_paced = Median(3, [&] { StorePutPaced(*single, data, kMiB, rate); });
  const double curl_get = Median(3, [&] { curl.Get("raw/large", out); });
  Check(out == data, "curl GET returned other bytes");
  const double store_get = Median(3, [&] { StoreGet(*store, key, out, 65536); });
  Check(out == data, "S3ByteStore returned other bytes");
  std::printf(
      "\nOne %llu MiB object, one client, medians of 3 (store: multipart, 16 MiB parts; "
      "reads of 64 KiB)\n",
      static_cast<unsigned long long>(size / kMiB));
  Row("curl PUT", Mbps(size, curl_put), "MB/s", "", Mbps(size, curl_put));
  Row("S3ByteStore PUT", Mbps(size, store_put), "MB/s", "of curl", Mbps(size, curl_put));
  Row("S3ByteStore PUT, body arriving at curl's rate", Mbps(size, paced_put), "MB/s", "of curl",
      Mbps(size, curl_put));
  Row("S3ByteStore PUT, one streamed PUT", Mbps(size, single_put), "MB/s", "of curl",
      Mbps(size, curl_put));
  Row("S3ByteStore streamed PUT, body at curl's rate", Mbps(size, single_paced), "MB/s", "of curl",
      Mbps(size, curl_put));
  Row("curl GET", Mbps(size, curl_get), "MB/s", "", Mbps(size, curl_get));
  Row("S3ByteStore GET (read-ahead 1 MiB)", Mbps(size, store_get), "MB/s", "of curl",
      Mbps(size, curl_get));
  for (uint64_t read_ahead : {uint64_t{0}, 4 * kMiB, 16 * kMiB}) {
    auto other = OpenStore(rgw, read_ahead);
    const double s = Median(3, [&] { StoreGet(*other, key, out, 65536); });
    Row("S3ByteStore GET, read-ahead " + std::to_string(read_ahead / 1024) + " KiB", Mbps(size, s),
        "MB/s", "of curl", Mbps(size, curl_get));
  }
}

// The paced multipart PUT of `size` bytes per parts_in_flight x part size, 3 rounds: each
// round one curl PUT, then each setting with the body at that curl's rate; the median of
// each setting's ratios (each from one round).
void MultipartSettings(const Rgw& rgw, uint64_t size) {
  struct Setting {
    int in_flight;
    uint64_t part_mib;
    std::vector<double> ratios, mbps;
  };
  std::vector<Setting> settings = {{1, 16, {}, {}}, {2, 16, {}, {}}, {3, 16, {}, {}},
                                   {4, 16, {}, {}}, {2, 8, {}, {}},  {3, 8, {}, {}},
                                   {1, 32, {}, {}}, {2, 32, {}, {}}};
  RawCurl curl(rgw, /*reuse=*/true);
  Bytes data(size);
  uint64_t seed = 3;
  FillPseudoRandom(data.data(), data.size(), &seed);
  std::vector<double> curl_mbps;
  for (int round = 0; round < 3; ++round) {
    const double curl_put = Seconds([&] { curl.Put("raw/settings", data); });
    curl_mbps.push_back(Mbps(size, curl_put));
    for (Setting& s : settings) {
      auto store = OpenStore(rgw, kMiB, uint64_t{64} << 20, s.in_flight, s.part_mib * kMiB);
      const double t =
          Seconds([&] { StorePutPaced(*store, data, kMiB, static_cast<double>(size) / curl_put); });
      s.mbps.push_back(Mbps(size, t));
      s.ratios.push_back(curl_put / t);
    }
    std::printf("  round %d done (curl %.0f MB/s)\n", round + 1, curl_mbps.back());
    std::fflush(stdout);
  }
  const auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::printf(
      "\nOne %llu MiB multipart PUT, body at curl's rate, medians of 3 rounds (curl %.0f MB/s)\n",
      static_cast<unsigned long long>(size / kMiB), median(curl_mbps));
  for (const Setting& s : settings) {
    std::printf(
        "  parts_in_flight %d, %3llu MiB parts (%4llu MiB held) %6.0f MB/s  %.2fx of curl"
        "  (ratios %.2f %.2f %.2f)\n",
        s.in_flight, static_cast<unsigned long long>(s.part_mib),
        static_cast<unsigned long long>((s.in_flight + 1) * s.part_mib), median(s.mbps),
        median(s.ratios), s.ratios[0], s.ratios[1], s.ratios[2]);
  }
}

int Main(int argc, char** argv) {
  SetBenchName("s3_byte_store_bench");
  int small = 1000;
  uint64_t large_mib = 256;
  bool multipart = false;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--multipart") multipart = true;
    if (flag == "--small" && i + 1 < argc) small = std::atoi(argv[++i]);
    if (flag == "--large-mib" && i + 1 < argc) large_mib = std::strtoull(argv[++i], nullptr, 10);
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const Rgw rgw = StartRgw();
  std::printf("S3ByteStore vs plain libcurl SigV4 on radosgw %s (loopback, plain HTTP)\n",
              rgw.endpoint.c_str());
  if (multipart) {
    MultipartSettings(rgw, large_mib * kMiB);
  } else {
    SmallObjects(rgw, small);
    LargeObject(rgw, large_mib * kMiB);
  }
  RunOrDie({"bash", Script(), "stop", rgw.dir});
  return 0;
}

}  // namespace
}  // namespace cardvault

int main(int argc, char** argv) { return cardvault::Main(argc, argv); }
