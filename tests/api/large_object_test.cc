// A 256 MiB object streamed up and down over loopback TLS with flat memory use.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>

#include "tests/api/server_test_util.h"

namespace cardvault {
namespace {

// Peak resident set size of this process in KiB (VmHWM), after resetting the peak.
int64_t PeakRssKib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}
void ResetPeakRss() { std::ofstream("/proc/self/clear_refs") << "5"; }

TEST(LargeObjectTest, Streams256MiBWithFlatMemory) {
  TestServer server;
  constexpr size_t kMiB = 1 << 20;
  constexpr size_t kSize = 256 * kMiB;
  const std::string path = server.dir() + "/big.bin";
  Sha256Hasher hasher;
  {
    std::ofstream out(path, std::ios::binary);
    std::string chunk(kMiB, '\0');
    for (size_t i = 0; i < kSize / kMiB; ++i) {
      for (size_t j = 0; j < chunk.size(); j += 8) {
        uint64_t v = (i * 0x9E3779B97F4A7C15ull) ^ (j * 0xBF58476D1CE4E5B9ull);
        std::memcpy(chunk.data() + j, &v, 8);
      }
      hasher.Update(AsBytes(chunk));
      out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    }
    ASSERT_TRUE(out.good());
  }
  const std::string sha = HexEncode(hasher.Finish());
  auto client = server.Client(server.alice());
  ASSERT_TRUE(client->Health().ok());

  ResetPeakRss();
  const int64_t before = PeakRssKib();
  auto start = std::chrono::steady_clock::now();
  auto put = client->Put(sha, PutOptions{ObjectKind::kBlob, kSize, sha, false},
                         [&] { return Env::Default()->NewSequentialFile(path); });
  double up = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(put->size, kSize);

  Sha256Hasher down_hasher;
  uint64_t received = 0;
  start = std::chrono::steady_clock::now();
  auto got = client->Get(sha, {}, [&](ByteView b) {
    down_hasher.Update(b);
    received += b.size();
    return Status::Ok();
  });
  double down = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(received, kSize);
  EXPECT_EQ(HexEncode(down_hasher.Finish()), sha);
  const int64_t after = PeakRssKib();

  std::printf(
      "[ measure ] 256 MiB over loopback TLS: upload %.0f MB/s (incl. fsync), download "
      "%.0f MB/s; peak RSS %lld -> %lld KiB\n",
      kSize / up / 1e6, kSize / down / 1e6, static_cast<long long>(before),
      static_cast<long long>(after));
  // Client and server run in this process: neither may hold the object in memory.
  ASSERT_GT(before, 0);
  EXPECT_LT(after - before, 48 * 1024) << "peak RSS grew by " << (after - before) << " KiB";
  // The server's copy is byte-identical on disk.
  EXPECT_EQ(server.store().Head("alice", sha).value().size, kSize);
}

}  // namespace
}  // namespace cardvault
