// Round trips and every rejection path of the blob format: bit flips, truncation at each
// chunk boundary, reordered chunks, trailing data, bad headers (docs/format.md).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "core/decryptor.h"
#include "core/encryptor.h"
#include "core/fault_injection_env.h"
#include "core/memory_file.h"
#include "core/x25519_recipient.h"
#include "tests/core/test_platform.h"

namespace cardvault {
namespace {

using format::kChunkSize;
constexpr size_t kSealedChunk = kChunkSize + format::kTagSize;

Bytes Pattern(size_t n, uint32_t seed = 1) {
  Bytes b(n);
  uint32_t x = seed;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    b[i] = static_cast<uint8_t>(x >> 24);
  }
  return b;
}

class FormatTest : public ::testing::Test {
 protected:
  FormatTest() : identity_(X25519Identity::Generate().value()) {}

  Bytes Encrypt(const Bytes& plain, const std::string& path = "dir/secret.txt") {
    X25519Recipient r = identity_.recipient();
    Recipient* rs[] = {&r};
    MemorySequentialFile src(plain);
    Bytes blob;
    MemoryWritableFile sink(&blob);
    format::Metadata m;
    m.path = path;
    m.mtime_ns = 1700000000123456789;
    m.mode = 0640;
    auto out = EncryptStream(src, sink, rs, m);
    EXPECT_TRUE(out.ok()) << out.status().ToString();
    return blob;
  }

  // Decrypts a blob fully; returns the plaintext or the error.
  StatusOr<Bytes> Decrypt(const Bytes& blob, Identity* identity = nullptr) {
    MemorySequentialFile src(blob);
    CV_ASSIGN_OR_RETURN(auto d, OpenBlob(&src, identity ? *identity : identity_));
    Bytes plain;
    MemoryWritableFile sink(&plain);
    CV_RETURN_IF_ERROR(d->DecryptTo(sink));
    return plain;
  }

  size_t HeaderSize(const Bytes& blob) { return format::kPreambleSize + LoadU32(blob.data() + 10); }

  std::string Reason(const Bytes& blob) {
    auto r = Decrypt(blob);
    return r.ok() ? "ok" : r.status().reason();
  }

  X25519Identity identity_;
};

TEST_F(FormatTest, RoundTripsAtChunkEdges) {
  for (size_t n : {size_t{0}, size_t{1}, kChunkSize - 1, kChunkSize, kChunkSize + 1,
                   2 * kChunkSize + 17, 16 * kChunkSize, 17 * kChunkSize + 5}) {
    Bytes plain = Pattern(n, static_cast<uint32_t>(n));
    Bytes blob = Encrypt(plain);
    EXPECT_EQ(blob.size(), HeaderSize(blob) + format::PayloadCiphertextSize(n)) << n;
    MemorySequentialFile src(blob);
    auto d = OpenBlob(&src, identity_);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    EXPECT_EQ((*d)->metadata().size, n);
    EXPECT_EQ((*d)->metadata().path, "dir/secret.txt");
    EXPECT_EQ((*d)->metadata().mode, 0640u);
    EXPECT_EQ((*d)->metadata().mtime_ns, 1700000000123456789);
    EXPECT_EQ((*d)->metadata().sha256, Sha256(plain));
    Bytes out;
    MemoryWritableFile sink(&out);
    ASSERT_TRUE((*d)->DecryptTo(sink).ok()) << n;
    EXPECT_EQ(out, plain) << n;
  }
}

TEST_F(FormatTest, FreshKeyAndNonceEveryTime) {
  Bytes plain = Pattern(1000);
  Bytes a = Encrypt(plain), b = Encrypt(plain);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_NE(a, b);
  // The payloads differ too (different file keys and nonces), not only the stanzas.
  EXPECT_FALSE(std::equal(a.end() - 1016, a.end(), b.end() - 1016));
}

TEST_F(FormatTest, NoPlaintextNameOrContentInBlob) {
  std::string marker = "TOP-SECRET-MARKER-0123456789";
  Bytes plain(marker.begin(), marker.end());
  Bytes blob = Encrypt(plain, "passwords/" + marker + ".kdbx");
  std::string text(blob.begin(), blob.end());
  EXPECT_EQ(text.find(marker), std::string::npos);
  EXPECT_EQ(text.find("passwords"), std::string::npos);
}

TEST_F(FormatTest, EveryHeaderBitFlipIsRejected) {
  Bytes blob = Encrypt(Pattern(100));
  size_t header = HeaderSize(blob);
  for (size_t bit = 0; bit < header * 8; ++bit) {
    Bytes bad = blob;
    bad[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    auto r = Decrypt(bad);
    ASSERT_FALSE(r.ok()) << "flipping header bit " << bit << " went unnoticed";
  }
}

TEST_F(FormatTest, EveryPayloadBitFlipIsRejected) {
  Bytes blob = Encrypt(Pattern(kChunkSize + 100));
  const size_t header_size = HeaderSize(blob);
  MemorySequentialFile header_src(blob);
  format::Header header = ReadHeader(header_src).value();
  SecretData file_key = UnwrapFileKey(header, identity_).value();
  // Every bit of the short final chunk, and a stride through the full first chunk.
  size_t flips = 0;
  for (size_t byte = header_size; byte < blob.size();
       byte += (byte < header_size + kSealedChunk ? 509 : 1)) {
    for (int bit = 0; bit < 8; ++bit, ++flips) {
      Bytes bad = blob;
      bad[byte] ^= static_cast<uint8_t>(1u << bit);
      MemorySequentialFile src(ByteView(bad).subspan(header_size));
      auto d = Decryptor::New(&src, header, file_key.Clone()).value();
      Bytes out;
      MemoryWritableFile sink(&out);
      EXPECT_EQ(d->DecryptTo(sink).reason(), "chunk_auth_failed")
          << "byte " << byte << " bit " << bit;
    }
  }
  EXPECT_GT(flips, 1000u);
}

TEST_F(FormatTest, TruncationAtEveryChunkBoundaryIsDetected) {
  const size_t chunks = 5;
  Bytes blob = Encrypt(Pattern(chunks * kChunkSize - 10));
  size_t header = HeaderSize(blob);
  for (size_t k = 0; k < chunks; ++k) {
    Bytes cut(blob.begin(), blob.begin() + static_cast<ptrdiff_t>(header + k * kSealedChunk));
    EXPECT_EQ(Reason(cut), "missing_final_chunk") << "cut after " << k << " chunks";
    Bytes mid(blob.begin(), blob.begin() + static_cast<ptrdiff_t>(header + k * kSealedChunk + 7));
    EXPECT_EQ(Reason(mid), "truncated") << "cut inside chunk " << k;
  }
  for (size_t n = 0; n < header; n += 7) {
    Bytes cut(blob.begin(), blob.begin() + static_cast<ptrdiff_t>(n));
    std::string reason = Reason(cut);
    EXPECT_TRUE(reason == "truncated_header" || reason == "header_malformed") << n << reason;
  }
  EXPECT_EQ(Reason(blob), "ok");
}

TEST_F(FormatTest, SwappedDuplicatedOrDroppedChunksAreNamed) {
  Bytes blob = Encrypt(Pattern(4 * kChunkSize + 3));
  size_t h = HeaderSize(blob);
  auto chunk = [&](const Bytes& b, size_t i) {
    return Bytes(b.begin() + static_cast<ptrdiff_t>(h + i * kSealedChunk),
                 b.begin() + static_cast<ptrdiff_t>(h + (i + 1) * kSealedChunk));
  };
  Bytes swapped = blob;
  Bytes c1 = chunk(blob, 1), c2 = chunk(blob, 2);
  std::copy(c2.begin(), c2.end(), swapped.begin() + static_cast<ptrdiff_t>(h + kSealedChunk));
  std::copy(c1.begin(), c1.end(), swapped.begin() + static_cast<ptrdiff_t>(h + 2 * kSealedChunk));
  EXPECT_EQ(Reason(swapped), "chunk_out_of_order");

  Bytes dropped = blob;
  dropped.erase(dropped.begin() + static_cast<ptrdiff_t>(h + kSealedChunk),
                dropped.begin() + static_cast<ptrdiff_t>(h + 2 * kSealedChunk));
  EXPECT_EQ(Reason(dropped), "chunk_out_of_order");

  Bytes duplicated = blob;
  std::copy(c1.begin(), c1.end(),
            duplicated.begin() + static_cast<ptrdiff_t>(h + 2 * kSealedChunk));
  EXPECT_EQ(Reason(duplicated), "chunk_out_of_order");
}

TEST_F(FormatTest, ChunkFromAnotherBlobFailsAuthentication) {
  Bytes a = Encrypt(Pattern(2 * kChunkSize + 1, 1));
  Bytes b = Encrypt(Pattern(2 * kChunkSize + 1, 2));
  size_t h = HeaderSize(a);
  std::copy(b.begin() + static_cast<ptrdiff_t>(h),
            b.begin() + static_cast<ptrdiff_t>(h + kSealedChunk),
            a.begin() + static_cast<ptrdiff_t>(h));
  EXPECT_EQ(Reason(a), "chunk_auth_failed");
}

TEST_F(FormatTest, AppendedBytesAreTrailingData) {
  for (size_t n : {size_t{0}, size_t{10}, kChunkSize}) {
    Bytes blob = Encrypt(Pattern(n));
    for (size_t extra : {1, 16, 100000}) {
      Bytes bad = blob;
      bad.insert(bad.end(), extra, 0x42);
      EXPECT_EQ(Reason(bad), "trailing_data") << n << "+" << extra;
    }
  }
}

TEST_F(FormatTest, HeaderErrorsAreNamed) {
  Bytes blob = Encrypt(Pattern(10));
  Bytes bad = blob;
  bad[0] = 'X';
  EXPECT_EQ(Reason(bad), "bad_magic");
  bad = blob;
  bad[9] = 3;
  auto r = Decrypt(bad);
  EXPECT_EQ(r.status().reason(), "unsupported_version");
  EXPECT_EQ(r.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(r.status().message().find("version 3"), std::string::npos);
  bad = blob;
  bad[9] = 2;  // a v1 blob relabelled v2: the MAC covers the version
  EXPECT_EQ(Reason(bad), "header_mac_mismatch");
  bad = blob;
  StoreU32(bad.data() + 10, 1u << 20);
  EXPECT_EQ(Reason(bad), "header_too_large");
  bad = blob;
  bad[format::kPreambleSize + format::kPayloadNonceSize] = 65;  // stanza count
  EXPECT_EQ(Reason(bad), "too_many_stanzas");
  EXPECT_EQ(Reason(Bytes{}), "truncated_header");
  EXPECT_EQ(Reason(Bytes{'h', 'e', 'l', 'l', 'o'}), "bad_magic");
}

TEST_F(FormatTest, HeaderMacCoversNonceAndStanzas) {
  Bytes blob = Encrypt(Pattern(10));
  Bytes bad = blob;
  bad[format::kPreambleSize] ^= 1;  // first payload-nonce byte
  EXPECT_EQ(Reason(bad), "header_mac_mismatch");
}

TEST_F(FormatTest, WrongIdentityFindsNoStanza) {
  Bytes blob = Encrypt(Pattern(10));
  X25519Identity other = X25519Identity::Generate().value();
  auto r = Decrypt(blob, &other);
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(r.status().reason(), "no_matching_stanza");
}

TEST_F(FormatTest, AnyOfSeveralRecipientsDecrypts) {
  X25519Identity second = X25519Identity::Generate().value();
  X25519Recipient r1 = identity_.recipient(), r2 = second.recipient();
  Recipient* rs[] = {&r1, &r2};
  Bytes plain = Pattern(5000);
  MemorySequentialFile src(plain);
  Bytes blob;
  MemoryWritableFile sink(&blob);
  ASSERT_TRUE(EncryptStream(src, sink, rs, {}).ok());
  EXPECT_EQ(Decrypt(blob).value(), plain);
  EXPECT_EQ(Decrypt(blob, &second).value(), plain);
}

TEST_F(FormatTest, RewrappedHeaderKeepsPayload) {
  // A header can be rewrapped to new recipients with the file key alone; the payload
  // bytes do not change (docs/format.md, "Rewrapping").
  Bytes plain = Pattern(3 * kChunkSize);
  Bytes blob = Encrypt(plain);
  MemorySequentialFile src(blob);
  format::Header header = ReadHeader(src).value();
  SecretData file_key = UnwrapFileKey(header, identity_).value();
  X25519Identity next = X25519Identity::Generate().value();
  X25519Recipient r = next.recipient();
  header.stanzas = r.Wrap(file_key).value();
  ASSERT_TRUE(format::SealHeader(file_key, header).ok());
  Bytes rewrapped = format::SerializeHeader(header);
  rewrapped.insert(rewrapped.end(), blob.begin() + static_cast<ptrdiff_t>(HeaderSize(blob)),
                   blob.end());
  EXPECT_EQ(Decrypt(rewrapped, &next).value(), plain);
  EXPECT_EQ(Reason(rewrapped), "no_matching_stanza");
}

TEST_F(FormatTest, ContentHashMismatchIsReported) {
  X25519Recipient r = identity_.recipient();
  Recipient* rs[] = {&r};
  Bytes plain = Pattern(100);
  MemorySequentialFile src(plain);
  Bytes blob;
  MemoryWritableFile sink(&blob);
  EncryptOptions opts;
  opts.content_sha256 = Sha256(AsBytes("something else"));
  ASSERT_TRUE(EncryptStream(src, sink, rs, {}, opts).ok());
  EXPECT_EQ(Reason(blob), "content_hash_mismatch");
}

// With the hash given (encrypt) or its check off (decrypt) both cores seal or open chunks.
TEST_F(FormatTest, TwoCorePathsRoundTripAndNameTheFirstBadChunk) {
  X25519Recipient r = identity_.recipient();
  Recipient* rs[] = {&r};
  for (size_t n :
       {size_t{0}, kChunkSize + 1, 16 * kChunkSize, 16 * kChunkSize + 1, 40 * kChunkSize + 77}) {
    Bytes plain = Pattern(n, 3);
    MemorySequentialFile src(plain);
    Bytes blob;
    MemoryWritableFile sink(&blob);
    EncryptOptions opts;
    opts.content_sha256 = Sha256(plain);
    ASSERT_TRUE(EncryptStream(src, sink, rs, {}, opts).ok());
    EXPECT_EQ(Decrypt(blob).value(), plain) << n;  // single-core open, hash checked
    MemorySequentialFile src2(blob);
    auto d = OpenBlob(&src2, identity_).value();
    Bytes out;
    MemoryWritableFile sink2(&out);
    DecryptOptions no_hash;
    no_hash.verify_content_hash = false;
    ASSERT_TRUE(d->DecryptTo(sink2, no_hash).ok()) << n;
    EXPECT_EQ(out, plain) << n;
  }
  // Chunks 3 and 12 of a 16-chunk block are bad: 12 lies in the worker's half, 3 in this
  // thread's; the error MUST name chunk 3 (1-based: 4).
  Bytes blob = Encrypt(Pattern(20 * kChunkSize));
  size_t h = HeaderSize(blob);
  blob[h + 3 * kSealedChunk + 9] ^= 1;
  blob[h + 12 * kSealedChunk + 9] ^= 1;
  MemorySequentialFile src(blob);
  auto d = OpenBlob(&src, identity_).value();
  Bytes out;
  MemoryWritableFile sink(&out);
  DecryptOptions no_hash;
  no_hash.verify_content_hash = false;
  Status s = d->DecryptTo(sink, no_hash);
  EXPECT_EQ(s.reason(), "chunk_auth_failed");
  EXPECT_NE(s.message().find("chunk 4 of 20"), std::string::npos) << s.message();
  EXPECT_TRUE(out.empty()) << "no plaintext of a failed block may reach the sink";
}

// Blocks of plaintext are hashed and written from a few buffers taken in turn. A sink that
// lags (a disk that stalls) MUST still receive every block as it was: a buffer refilled
// before its append ran would put later bytes in its place.
TEST_F(FormatTest, ASlowSinkGetsEveryBlockIntactFromTheBuffersTakenInTurn) {
  class SlowSink final : public WritableFile {
   public:
    explicit SlowSink(Bytes* out) : out_(out) {}
    Status Append(ByteView data) override {
      std::this_thread::sleep_for(std::chrono::milliseconds(3));
      out_->insert(out_->end(), data.begin(), data.end());
      return Status::Ok();
    }
    Status WriteAt(uint64_t, ByteView) override { return InternalError("not here"); }
    Status Sync() override { return Status::Ok(); }
    Status Close() override { return Status::Ok(); }

   private:
    Bytes* out_;
  };
  const Bytes plain = Pattern(12 * 16 * kChunkSize + 99, 5);  // 13 blocks, the last short
  const Bytes blob = Encrypt(plain);
  MemorySequentialFile src(blob);
  auto d = OpenBlob(&src, identity_).value();
  Bytes out;
  SlowSink sink(&out);
  ASSERT_TRUE(d->DecryptTo(sink).ok());
  EXPECT_TRUE(out == plain);
}

// A decryption resumed at chunk k reads only the sealed chunks from k on, writes only their
// plaintext, and still checks the content hash over the prefix an earlier run wrote.
TEST_F(FormatTest, ResumesAtAChunkAndHashesThePrefixItIsGiven) {
  const size_t n = 20 * kChunkSize + 5;  // 21 chunks, the last one short
  Bytes plain = Pattern(n, 7);
  Bytes blob = Encrypt(plain);
  const size_t h = HeaderSize(blob);
  auto resume = [&](uint64_t first_chunk, const Bytes& prefix, Bytes* out) -> Status {
    MemorySequentialFile head(blob);
    CV_ASSIGN_OR_RETURN(format::Header header, ReadHeader(head));
    CV_ASSIGN_OR_RETURN(SecretData key, UnwrapFileKey(header, identity_));
    MemorySequentialFile rest(ByteView(blob).subspan(h + format::SealedChunkOffset(first_chunk)));
    CV_ASSIGN_OR_RETURN(auto d, Decryptor::New(&rest, std::move(header), std::move(key)));
    MemorySequentialFile prefix_file(prefix);
    DecryptOptions options;
    options.first_chunk = first_chunk;
    options.plaintext_prefix = &prefix_file;
    MemoryWritableFile sink(out);
    return d->DecryptTo(sink, options);
  };
  for (uint64_t k : {1, 15, 16, 17, 20}) {
    const size_t at = k * kChunkSize;
    Bytes prefix(plain.begin(), plain.begin() + at), out;
    ASSERT_TRUE(resume(k, prefix, &out).ok()) << k;
    EXPECT_EQ(out, Bytes(plain.begin() + at, plain.end())) << k;
    prefix[at / 2] ^= 0x20;  // a damaged prefix is caught by the content hash
    out.clear();
    EXPECT_EQ(resume(k, prefix, &out).reason(), "content_hash_mismatch") << k;
  }
  Bytes out;
  const Bytes short_prefix(plain.begin(), plain.begin() + 3 * kChunkSize - 1);
  EXPECT_EQ(resume(3, short_prefix, &out).code(), StatusCode::kInvalidArgument);
  // The final chunk is always opened: resuming after it is refused.
  const Bytes all_but_tail(plain.begin(), plain.begin() + 21 * kChunkSize - kChunkSize + 5);
  EXPECT_EQ(resume(21, all_but_tail, &out).code(), StatusCode::kInvalidArgument);
}

// A source read through Read only (as a file or a socket is), 100 KiB at most at a time.
class StreamingSource final : public SequentialFile {
 public:
  explicit StreamingSource(ByteView data) : data_(data) {}
  StatusOr<size_t> Read(std::span<uint8_t> buf) override {
    const size_t n = std::min({buf.size(), data_.size() - pos_, size_t{100 << 10}});
    std::copy_n(data_.data() + pos_, n, buf.data());
    pos_ += n;
    return n;
  }
  size_t consumed() const { return pos_; }

 private:
  ByteView data_;
  size_t pos_ = 0;
};

// A sink that can only grow, as a network stream is: v2 MUST NOT need WriteAt.
class AppendOnlyFile final : public WritableFile {
 public:
  explicit AppendOnlyFile(Bytes* out) : out_(out) {}
  Status Append(ByteView data) override {
    appends_.push_back(data.size());
    out_->insert(out_->end(), data.begin(), data.end());
    return Status::Ok();
  }
  Status WriteAt(uint64_t, ByteView) override { return InternalError("append-only sink"); }
  Status Sync() override { return Status::Ok(); }
  Status Close() override { return Status::Ok(); }
  const std::vector<size_t>& appends() const { return appends_; }

 private:
  Bytes* out_;
  std::vector<size_t> appends_;
};

class FormatV2Test : public FormatTest {
 protected:
  // A v2 blob of `plain`, written front to back; `promised` defaults to the true size.
  StatusOr<Bytes> EncryptV2(SequentialFile& src, uint64_t promised) {
    X25519Recipient r = identity_.recipient();
    Recipient* rs[] = {&r};
    Bytes blob;
    AppendOnlyFile sink(&blob);
    format::Metadata m;
    m.path = "big/disk image.iso";
    m.size = promised;
    m.mode = 0600;
    EncryptOptions opts;
    opts.version = format::kVersion2;
    CV_ASSIGN_OR_RETURN(format::Metadata out, EncryptStream(src, sink, rs, m, opts));
    EXPECT_EQ(out.size, promised);
    // The header goes out whole before any payload byte.
    EXPECT_EQ(sink.appends().front(), HeaderSize(blob));
    return blob;
  }
  Bytes EncryptV2(const Bytes& plain) {
    MemorySequentialFile src(plain);
    return EncryptV2(src, plain.size()).value();
  }
};

TEST_F(FormatV2Test, RoundTripsAtChunkEdgesWithTheHashInTheTrailer) {
  for (size_t n :
       {size_t{0}, size_t{1}, kChunkSize, kChunkSize + 1, 16 * kChunkSize, 17 * kChunkSize + 5}) {
    const Bytes plain = Pattern(n, static_cast<uint32_t>(n) + 9);
    const Bytes blob = EncryptV2(plain);
    EXPECT_EQ(format::PreambleVersion(blob), format::kVersion2);
    EXPECT_EQ(blob.size(), format::BlobSize(format::kVersion2, LoadU32(blob.data() + 10), n));
    EXPECT_EQ(blob.size(), HeaderSize(blob) + format::PayloadCiphertextSize(n) + 48) << n;
    MemorySequentialFile src(blob);
    auto d = OpenBlob(&src, identity_).value();
    EXPECT_EQ(d->header().version, format::kVersion2);
    EXPECT_EQ(d->metadata().size, n);
    EXPECT_EQ(d->metadata().path, "big/disk image.iso");
    EXPECT_EQ(d->metadata().sha256, Sha256Digest{}) << "not in a v2 header";
    Bytes out;
    MemoryWritableFile sink(&out);
    ASSERT_TRUE(d->DecryptTo(sink).ok()) << n;
    EXPECT_EQ(out, plain);
    EXPECT_EQ(d->metadata().sha256, Sha256(plain)) << "from the trailer";
    // A streaming source (not in memory) takes the same path.
    Bytes again;
    MemoryWritableFile sink2(&again);
    StreamingSource streaming(blob);
    auto d2 = OpenBlob(&streaming, identity_).value();
    ASSERT_TRUE(d2->DecryptTo(sink2).ok()) << n;
    EXPECT_EQ(again, plain);
  }
}

TEST_F(FormatV2Test, EveryBitFlipIsRejectedWhereverItIs) {
  const Bytes blob = EncryptV2(Pattern(100));
  const size_t header = HeaderSize(blob);
  const size_t trailer = blob.size() - format::kTrailerSize;
  for (size_t bit = 0; bit < blob.size() * 8; ++bit) {
    Bytes bad = blob;
    bad[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    const std::string reason = Reason(bad);
    ASSERT_NE(reason, "ok") << "flipping bit " << bit << " went unnoticed";
    if (bit / 8 >= trailer) {
      EXPECT_EQ(reason, "trailer_corrupt") << bit;
    } else if (bit / 8 >= header) {
      EXPECT_EQ(reason, "chunk_auth_failed") << bit;
    }
  }
}

TEST_F(FormatV2Test, TruncationAnywhereAndTrailingDataAreDetected) {
  const size_t chunks = 3;
  const Bytes blob = EncryptV2(Pattern(chunks * kChunkSize - 10));
  const size_t h = HeaderSize(blob);
  for (size_t k = 0; k < chunks; ++k) {
    Bytes cut(blob.begin(), blob.begin() + static_cast<ptrdiff_t>(h + k * kSealedChunk));
    EXPECT_EQ(Reason(cut), "missing_final_chunk") << k;
  }
  // Cut after the final chunk, or inside the trailer: the hash is missing.
  for (size_t keep : {size_t{0}, size_t{1}, size_t{16}, size_t{47}}) {
    Bytes cut(blob.begin(), blob.end() - static_cast<ptrdiff_t>(format::kTrailerSize - keep));
    EXPECT_EQ(Reason(cut), "truncated") << keep;
  }
  for (size_t extra : {1, 48, 70000}) {
    Bytes more = blob;
    more.insert(more.end(), extra, 0);
    EXPECT_EQ(Reason(more), "trailing_data") << extra;
  }
  EXPECT_EQ(Reason(blob), "ok");
}

// A v2 header promises the size; a file that grows or shrinks while it is encrypted MUST
// fail, and one that grows MUST fail before anything past the promise is written.
TEST_F(FormatV2Test, AnInputThatChangedSizeFails) {
  const Bytes plain = Pattern(3 * kChunkSize + 7);
  for (uint64_t promised : {plain.size() - 1, plain.size() + 1, uint64_t{0}, uint64_t{100}}) {
    MemorySequentialFile in_memory(plain);
    EXPECT_EQ(EncryptV2(in_memory, promised).status().reason(), "source_changed") << promised;
    StreamingSource streaming(plain);
    EXPECT_EQ(EncryptV2(streaming, promised).status().reason(), "source_changed") << promised;
  }
  // Growing 10 MiB past a 2 MiB promise stops within the first blocks.
  const Bytes big = Pattern(12 << 20);
  StreamingSource streaming(big);
  EXPECT_EQ(EncryptV2(streaming, 2 << 20).status().reason(), "source_changed");
  EXPECT_LE(streaming.consumed(), size_t{4} << 20);
}

TEST_F(FormatV2Test, HashGivenByTheCallerGoesInTheTrailer) {
  X25519Recipient r = identity_.recipient();
  Recipient* rs[] = {&r};
  const Bytes plain = Pattern(kChunkSize + 3);
  MemorySequentialFile src(plain);
  Bytes blob;
  AppendOnlyFile sink(&blob);
  format::Metadata m;
  m.size = plain.size();
  EncryptOptions opts;
  opts.version = format::kVersion2;
  opts.content_sha256 = Sha256(AsBytes("not the content"));
  ASSERT_TRUE(EncryptStream(src, sink, rs, m, opts).ok());
  EXPECT_EQ(Reason(blob), "content_hash_mismatch");
  EXPECT_EQ(opts.version, format::kVersion2);
  EncryptOptions bad;
  bad.version = 3;
  MemorySequentialFile src2(plain);
  EXPECT_EQ(EncryptStream(src2, sink, rs, m, bad).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(FormatV2Test, ResumesBeforeTheTrailer) {
  const size_t n = 20 * kChunkSize + 5;
  const Bytes plain = Pattern(n, 11);
  const Bytes blob = EncryptV2(plain);
  const size_t h = HeaderSize(blob);
  for (uint64_t k : {1, 17, 20}) {
    MemorySequentialFile head(blob);
    format::Header header = ReadHeader(head).value();
    SecretData key = UnwrapFileKey(header, identity_).value();
    MemorySequentialFile rest(ByteView(blob).subspan(h + format::SealedChunkOffset(k)));
    auto d = Decryptor::New(&rest, std::move(header), std::move(key)).value();
    const Bytes prefix(plain.begin(), plain.begin() + static_cast<ptrdiff_t>(k * kChunkSize));
    MemorySequentialFile prefix_file(prefix);
    DecryptOptions options;
    options.first_chunk = k;
    options.plaintext_prefix = &prefix_file;
    Bytes out;
    MemoryWritableFile sink(&out);
    ASSERT_TRUE(d->DecryptTo(sink, options).ok()) << k;
    EXPECT_EQ(out, Bytes(plain.begin() + static_cast<ptrdiff_t>(k * kChunkSize), plain.end()));
    EXPECT_EQ(d->metadata().sha256, Sha256(plain));
  }
}

TEST(MetadataTest, KindsRoundTripAndUnknownKindsAreKeptForTheCallerToSkip) {
  using format::kVersion1;
  for (format::Kind k : {format::Kind::kFile, format::Kind::kKeyObject, format::Kind::kDeletion,
                         format::Kind::kDirectory, static_cast<format::Kind>(200)}) {
    format::Metadata m;
    m.kind = k;
    m.path = "a/b";
    m.size = 7;
    m.mtime_ns = -5;  // before the epoch: signed
    m.mode = 0644;
    auto back = format::DecodeMetadata(format::EncodeMetadata(m, kVersion1), kVersion1);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, m);
  }
  Bytes encoded = format::EncodeMetadata({}, kVersion1);
  encoded[3] = 0;  // the kind entry's value: tag(1) length(2) value(1)
  EXPECT_EQ(format::DecodeMetadata(encoded, kVersion1).status().reason(), "metadata_malformed")
      << "kind 0 is no kind";
  encoded[2] = 2;  // a kind of two bytes
  encoded.insert(encoded.begin() + 4, 1);
  EXPECT_EQ(format::DecodeMetadata(encoded, kVersion1).status().reason(), "metadata_malformed");
  Bytes unknown_tag = format::EncodeMetadata({}, kVersion1);
  unknown_tag.insert(unknown_tag.end(), {0x20, 0x00, 0x01, 0xAA});  // optional tag 0x20
  EXPECT_TRUE(format::DecodeMetadata(unknown_tag, kVersion1).ok()) << "unknown tags are skipped";
  Bytes repeated = format::EncodeMetadata({}, kVersion1);
  repeated.insert(repeated.end(), {0x06, 0x00, 0x00});  // sha256 again, out of order
  EXPECT_EQ(format::DecodeMetadata(repeated, kVersion1).status().reason(), "metadata_malformed");
}

// The optional `recorded` entry (7) round-trips after the hash (v1) or the mode (v2); a
// reader of blobs without it sees none.
TEST(MetadataTest, RecordedTimeIsOptional) {
  for (uint16_t version : {format::kVersion1, format::kVersion2}) {
    format::Metadata m;
    m.path = "f";
    m.recorded_ns = 1795770000123456789;
    const Bytes with = format::EncodeMetadata(m, version);
    auto back = format::DecodeMetadata(with, version);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, m);
    m.recorded_ns.reset();
    const Bytes without = format::EncodeMetadata(m, version);
    EXPECT_EQ(without.size() + 3 + 8, with.size());
    EXPECT_FALSE(format::DecodeMetadata(without, version)->recorded_ns.has_value());
    Bytes short_entry = without;
    short_entry.insert(short_entry.end(), {0x07, 0x00, 0x01, 0x00});
    EXPECT_EQ(format::DecodeMetadata(short_entry, version).status().reason(), "metadata_malformed");
  }
}

// v2 moves the content hash to the trailer: its header MUST NOT carry one, and needs none.
TEST(MetadataTest, VersionTwoHasNoHashEntry) {
  using format::kVersion1;
  using format::kVersion2;
  format::Metadata m;
  m.path = "big.iso";
  m.size = 1 << 30;
  m.mode = 0600;
  const Bytes v2 = format::EncodeMetadata(m, kVersion2);
  EXPECT_EQ(v2.size() + 3 + 32, format::EncodeMetadata(m, kVersion1).size());
  auto back = format::DecodeMetadata(v2, kVersion2);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, m);
  EXPECT_EQ(format::DecodeMetadata(v2, kVersion1).status().reason(), "metadata_malformed")
      << "v1 requires the hash";
  EXPECT_EQ(
      format::DecodeMetadata(format::EncodeMetadata(m, kVersion1), kVersion2).status().reason(),
      "metadata_malformed")
      << "a v2 header with a hash would hold two that may disagree";
}

TEST(TrailerTest, SealsTheHashAndRejectsAnyChange) {
  SecretData key(32);
  key.mutable_span()[0] = 7;
  const Sha256Digest digest = Sha256(AsBytes("content"));
  Bytes trailer = format::SealTrailer(key, digest).value();
  ASSERT_EQ(trailer.size(), format::kTrailerSize);
  EXPECT_EQ(format::OpenTrailer(key, trailer).value(), digest);
  for (size_t i = 0; i < trailer.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes bad = trailer;
      bad[i] ^= static_cast<uint8_t>(1 << bit);
      EXPECT_EQ(format::OpenTrailer(key, bad).status().reason(), "trailer_corrupt") << i;
    }
  }
  EXPECT_EQ(format::OpenTrailer(key, ByteView(trailer).first(47)).status().reason(),
            "trailer_corrupt");
  SecretData other(32);
  EXPECT_EQ(format::OpenTrailer(other, trailer).status().reason(), "trailer_corrupt");
}

class FileFormatTest : public FormatTest {
 protected:
  void SetUp() override { dir_ = NewTempDir("cv-format-test"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(FileFormatTest, HundredMebibyteFileRoundTrip) {
  Env& env = *Env::Default();
  const std::string in = dir_ + "/in", blob = dir_ + "/blob", out = dir_ + "/out";
  Bytes plain = Pattern(100 * 1024 * 1024 + 12345, 7);
  ASSERT_TRUE(WriteFileAtomically(env, in, plain, 0755).ok());
  ASSERT_TRUE(env.SetFileTimesAndMode(in, 1600000000000000001, 0751).ok());
  X25519Recipient r = identity_.recipient();
  Recipient* rs[] = {&r};
  auto m = EncryptFile(env, in, blob, rs, "big.bin");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->sha256, Sha256(plain));
  auto d = DecryptFile(env, blob, out, identity_);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(ReadFileToBytes(env, out).value(), plain);
  FileInfo info = env.Stat(out).value();
  if (KeepsPosixModes()) {
    EXPECT_EQ(info.mode & 07777, 0751u);
  }
  EXPECT_EQ(info.mtime_ns, StoredMtime(1600000000000000001));
}

TEST_F(FileFormatTest, FailedDecryptionLeavesNoPlaintext) {
  Env& env = *Env::Default();
  Bytes blob_bytes = Encrypt(Pattern(3 * kChunkSize));
  blob_bytes[blob_bytes.size() - 5] ^= 1;  // corrupt the final chunk
  ASSERT_TRUE(WriteFileAtomically(env, dir_ + "/blob", blob_bytes).ok());
  auto d = DecryptFile(env, dir_ + "/blob", dir_ + "/out", identity_);
  EXPECT_EQ(d.status().reason(), "chunk_auth_failed");
  // Only the blob remains: no output, no temporary file.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_),
                          std::filesystem::directory_iterator()),
            1);
}

TEST_F(FileFormatTest, DiskFullWhileEncryptingLeavesNothing) {
  Env& base = *Env::Default();
  ASSERT_TRUE(WriteFileAtomically(base, dir_ + "/in", Pattern(5 * kChunkSize)).ok());
  FaultInjectionEnv env(&base);
  env.SetDiskFullAfter(2 * kChunkSize);
  X25519Recipient r = identity_.recipient();
  Recipient* rs[] = {&r};
  auto m = EncryptFile(env, dir_ + "/in", dir_ + "/blob", rs, "in");
  EXPECT_EQ(m.status().reason(), "disk_full");
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/blob"));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_),
                          std::filesystem::directory_iterator()),
            1);
}

TEST_F(FileFormatTest, FailedRenameOrSyncLeavesNothing) {
  Env& base = *Env::Default();
  ASSERT_TRUE(WriteFileAtomically(base, dir_ + "/in", Pattern(1000)).ok());
  X25519Recipient r = identity_.recipient();
  Recipient* rs[] = {&r};
  for (int fault = 0; fault < 2; ++fault) {
    FaultInjectionEnv env(&base);
    if (fault == 0) env.FailNthRename(1);
    if (fault == 1) env.FailNthSync(1);
    auto m = EncryptFile(env, dir_ + "/in", dir_ + "/blob", rs, "in");
    EXPECT_EQ(m.status().code(), StatusCode::kIoError) << fault;
    EXPECT_FALSE(std::filesystem::exists(dir_ + "/blob")) << fault;
  }
}

}  // namespace
}  // namespace cardvault

namespace cardvault {
namespace {

// Encrypting into caller-owned memory (SpanWritableFile, sealed in place) gives a blob that
// decrypts; a buffer too small is a clear error, not an overrun.
TEST(SpanWritableFileTest, EncryptsInPlaceAndRefusesToOverflow) {
  X25519Identity id = X25519Identity::Generate().value();
  X25519Recipient r = id.recipient();
  Recipient* rs[] = {&r};
  Bytes plain(200000);
  for (size_t i = 0; i < plain.size(); ++i) plain[i] = static_cast<uint8_t>(i * 7);
  std::vector<uint8_t> buffer(plain.size() + 4096);
  MemorySequentialFile src(plain);
  SpanWritableFile sink(buffer);
  format::Metadata m;
  m.path = "f";
  ASSERT_TRUE(EncryptStream(src, sink, rs, m).ok());
  ByteView blob = sink.written();
  MemorySequentialFile in(blob);
  auto d = OpenBlob(&in, id);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  Bytes out;
  MemoryWritableFile out_sink(&out);
  ASSERT_TRUE((*d)->DecryptTo(out_sink).ok());
  EXPECT_EQ(out, plain);

  std::vector<uint8_t> small(plain.size() / 2);
  MemorySequentialFile src2(plain);
  SpanWritableFile small_sink(small);
  EXPECT_EQ(EncryptStream(src2, small_sink, rs, m).status().reason(), "buffer_full");
}

}  // namespace
}  // namespace cardvault
