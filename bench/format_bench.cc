// Format benchmark: encrypts and decrypts a large plaintext in memory and file to file,
// and prints MB/s beside baselines measured in the same run (openssl speed, cp, age), as
// ratios, plus the peak RSS of the cardvault CLI encrypting and decrypting the file.
//
// Usage: format_bench [--mib N] [--dir DIR] [--runs R]   (defaults: 1024 MiB, /tmp, 3)
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "core/decryptor.h"
#include "core/encryptor.h"
#include "core/memory_file.h"
#include "core/x25519_recipient.h"

namespace cardvault {
namespace {

// Runs a command in a child process; returns {seconds, peak RSS in KiB}.
std::pair<double, long> RunChild(const std::vector<std::string>& argv) {
  CommandResult m = RunOrDie(argv);
  return {m.seconds, m.peak_rss_kib};
}

void Row(const std::string& what, double mbps, const std::string& vs, double base) {
  cardvault::Row(what, mbps, "MB/s", vs, base);
}

int Main(int argc, char** argv) {
  SetBenchName("format_bench");
  uint64_t mib = 1024;
  std::string dir = "/tmp";
  int runs = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--mib") mib = std::stoull(argv[i + 1]);
    if (a == "--dir") dir = argv[i + 1];
    if (a == "--runs") runs = std::stoi(argv[i + 1]);
  }
  const uint64_t size = mib << 20;
  std::printf("cardvault format benchmark: %llu MiB, median of %d runs, %ld cores\n",
              static_cast<unsigned long long>(mib), runs, sysconf(_SC_NPROCESSORS_ONLN));

  // Baselines: OpenSSL's own single-core speeds on 16 KiB blocks, AES-256-GCM and (the
  // ceiling of anything that hashes the plaintext, which the format records) SHA-256.
  auto openssl_speed = [](const std::string& algorithm) {
    std::string speed = Capture("openssl speed -seconds 3 -bytes 16384 -evp " + algorithm +
                                " 2>/dev/null | tail -n 1");
    size_t k = speed.find_last_of(' ');
    double mbps = std::atof(speed.substr(k + 1).c_str()) * 1000 / 1e6;  // 1000s of bytes/s
    Check(mbps > 0, "cannot parse openssl speed output: " + speed);
    return mbps;
  };
  const double openssl_mbps = openssl_speed("aes-256-gcm");
  const double sha256_mbps = openssl_speed("sha256");

  X25519Identity identity = X25519Identity::Generate().value();
  X25519Recipient recipient = identity.recipient();
  Recipient* rs[] = {&recipient};

  Bytes plain(size);
  uint64_t seed = 0x9e3779b97f4a7c15ull;
  FillPseudoRandom(plain.data(), plain.size(), &seed);
  const Sha256Digest digest = Sha256(plain);

  // In memory: into preallocated buffers (a std::vector sink would zero-fill each block
  // before it is overwritten, which is the vector's cost, not the format's).
  const size_t blob_capacity = size + size / 64 + 65536;
  auto blob_buffer = std::make_unique_for_overwrite<uint8_t[]>(blob_capacity);
  auto out_buffer = std::make_unique_for_overwrite<uint8_t[]>(size);
  ByteView blob, out;
  auto encrypt_mem = [&](bool hash) {
    MemorySequentialFile src(plain);
    SpanWritableFile sink({blob_buffer.get(), blob_capacity});
    EncryptOptions opts;
    if (!hash) opts.content_sha256 = digest;
    Check(EncryptStream(src, sink, rs, {}, opts).ok(), "in-memory encryption failed");
    blob = sink.written();
  };
  auto decrypt_mem = [&](bool hash) {
    MemorySequentialFile src(blob);
    auto d = OpenBlob(&src, identity);
    Check(d.ok(), "open failed");
    SpanWritableFile sink({out_buffer.get(), size});
    DecryptOptions opts;
    opts.verify_content_hash = hash;
    Must((*d)->DecryptTo(sink, opts), "in-memory decryption");
    out = sink.written();
  };
  double enc = Median(runs, [&] { encrypt_mem(false); });
  double dec = Median(runs, [&] { decrypt_mem(false); });
  double enc_h = Median(runs, [&] { encrypt_mem(true); });
  double dec_h = Median(runs, [&] { decrypt_mem(true); });
  Check(std::equal(out.begin(), out.end(), plain.begin(), plain.end()),
        "in-memory round trip differs");
  std::printf("\nIn memory (baseline: openssl speed -evp aes-256-gcm, 16 KiB: %.0f MB/s)\n",
              openssl_mbps);
  Row("encrypt, AEAD stream (hash given)", Mbps(size, enc), "of openssl", openssl_mbps);
  Row("decrypt, AEAD stream (hash check off)", Mbps(size, dec), "of openssl", openssl_mbps);
  std::printf("  %s\n", Target(std::min(enc, dec) > 0 &&
                                   Mbps(size, std::max(enc, dec)) >= 0.85 * openssl_mbps,
                               "AEAD stream >= 0.85x of openssl")
                            .c_str());
  std::printf(
      "  with the SHA-256 the metadata records, the ceiling is SHA-256 on one core: "
      "openssl speed -evp sha256 %.0f MB/s = %.2fx of AES-256-GCM\n",
      sha256_mbps, sha256_mbps / openssl_mbps);
  Row("encrypt + SHA-256 on the second core", Mbps(size, enc_h), "of openssl", openssl_mbps);
  Row("decrypt + SHA-256 check on the second core", Mbps(size, dec_h), "of openssl", openssl_mbps);
  blob_buffer.reset();
  out_buffer.reset();

  // File to file.
  const std::string work = MakeTempDir(dir, "cv-bench");
  const std::string in = work + "/plain", cvb = work + "/plain.cvb", back = work + "/back";
  Env& env = *Env::Default();
  Must(WriteFileAtomically(env, in, plain), "writing the input");
  Bytes().swap(plain);
  Must(WriteFileAtomically(env, work + "/identity.key", identity.Serialize().span()),
       "writing the identity");

  std::string age_pub = Capture("age-keygen -o " + work + "/age.key 2>&1");
  age_pub = age_pub.substr(age_pub.find("age1"));
  age_pub = age_pub.substr(0, age_pub.find_first_of(" \n"));

  auto rm = [&](const std::string& p) { std::filesystem::remove(p); };
  double cp = Median(runs, [&] {
    rm(work + "/cp");
    RunChild({"cp", in, work + "/cp"});
  });
  double age = Median(runs, [&] {
    rm(work + "/age");
    RunChild({"age", "-r", age_pub, "-o", work + "/age", in});
  });
  // cardvault without fsync, like cp and age: EncryptStream from file to file.
  auto encrypt_file = [&](const EncryptOptions& opts) {
    rm(cvb);
    auto src = env.NewSequentialFile(in);
    auto sink = env.NewWritableFile(cvb, 0600);
    Check(src.ok() && sink.ok(), "open failed");
    format::Metadata m;
    m.path = "plain";
    Check(EncryptStream(**src, **sink, rs, m, opts).ok(), "file encryption failed");
    Must((*sink)->Close(), "close");
  };
  double cv_enc = Median(runs, [&] { encrypt_file({}); });
  // The agent's path: the hash is known from its detect step, both cores seal.
  EncryptOptions known;
  known.content_sha256 = digest;
  double cv_enc_known = Median(runs, [&] { encrypt_file(known); });
  double cv_dec = Median(runs, [&] {
    rm(back);
    auto src = env.NewSequentialFile(cvb);
    auto sink = env.NewWritableFile(back, 0600);
    Check(src.ok() && sink.ok(), "open failed");
    auto d = OpenBlob(src->get(), identity);
    Check(d.ok(), "open blob failed");
    Must((*d)->DecryptTo(**sink), "file decryption");
    Must((*sink)->Close(), "close");
  });
  // Durable versions: cp then fsync, versus EncryptFile (temp file, fsync, rename).
  double cp_sync = Median(runs, [&] {
    rm(work + "/cp");
    RunChild({"cp", in, work + "/cp"});
    RunChild({"sync", work + "/cp"});
  });
  double cv_enc_sync = Median(runs, [&] {
    rm(cvb);
    Check(EncryptFile(env, in, cvb, rs, "plain").ok(), "EncryptFile failed");
  });
  double cv_dec_sync = Median(runs, [&] {
    rm(back);
    Check(DecryptFile(env, cvb, back, identity).ok(), "DecryptFile failed");
  });
  std::printf("\nFile to file, page cache warm (baselines: cp %.0f MB/s, age %.0f MB/s)\n",
              Mbps(size, cp), Mbps(size, age));
  Row("encrypt (incl. SHA-256)", Mbps(size, cv_enc), "of cp", Mbps(size, cp));
  Row("encrypt (incl. SHA-256)", Mbps(size, cv_enc), "of age", Mbps(size, age));
  Row("encrypt, hash known (the agent's path)", Mbps(size, cv_enc_known), "of cp", Mbps(size, cp));
  Row("encrypt, hash known (the agent's path)", Mbps(size, cv_enc_known), "of age",
      Mbps(size, age));
  Row("decrypt (incl. SHA-256 check)", Mbps(size, cv_dec), "of cp", Mbps(size, cp));
  std::printf(
      "  (cp here never reaches the disk and hashes nothing: SHA-256 alone, %.0f MB/s, is "
      "%.2fx of it)\n",
      sha256_mbps, sha256_mbps / Mbps(size, cp));
  std::printf(
      "Durable, what EncryptFile and DecryptFile promise (the file is on disk when they "
      "return; baseline: cp + sync FILE %.0f MB/s)\n",
      Mbps(size, cp_sync));
  Row("EncryptFile (temp, fsync, rename)", Mbps(size, cv_enc_sync), "of cp+sync",
      Mbps(size, cp_sync));
  Row("DecryptFile (temp, verify, fsync, rename)", Mbps(size, cv_dec_sync), "of cp+sync",
      Mbps(size, cp_sync));
  const double worst_durable = Mbps(size, std::max(cv_enc_sync, cv_dec_sync));
  std::printf("  %s\n  %s\n",
              Target(worst_durable >= 0.8 * Mbps(size, cp_sync), "both >= 0.8x of cp+sync").c_str(),
              Target(Mbps(size, cv_enc) > Mbps(size, age), "encrypt ahead of age").c_str());

  // Peak memory of the CLI, whatever the size.
  rm(back);
  auto [enc_s, enc_rss] =
      RunChild({CARDVAULT_CLI, "encrypt", "-r", recipient.ToString(), "-o", cvb + "2", in});
  auto [dec_s, dec_rss] =
      RunChild({CARDVAULT_CLI, "decrypt", "-i", work + "/identity.key", "-o", back, cvb + "2"});
  std::printf(
      "\nPeak RSS of the cardvault CLI on %llu MiB: encrypt %.1f MiB, decrypt %.1f MiB "
      "(target < 16 MiB)\n",
      static_cast<unsigned long long>(mib), enc_rss / 1024.0, dec_rss / 1024.0);
  (void)enc_s;
  (void)dec_s;
  std::filesystem::remove_all(work);
  return 0;
}

}  // namespace
}  // namespace cardvault

int main(int argc, char** argv) { return cardvault::Main(argc, argv); }
