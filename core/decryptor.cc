// Streaming decryption of formats v1 and v2 with precise errors for every way a blob can be
// bad.
#include "core/decryptor.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <vector>

#include "core/aes_gcm.h"
#include "core/background_appender.h"
#include "core/background_hasher.h"
#include "core/split_runner.h"

namespace cardvault {
namespace {

using format::kChunkSize;
using format::kTagSize;

constexpr size_t kChunksPerBlock = 16;
constexpr uint64_t kOutBuffers = 4;  // blocks of plaintext in flight at most, the one filled too
constexpr size_t kSealedChunk = kChunkSize + kTagSize;
// How far from its position a misplaced chunk is looked for, to name the error.
constexpr uint64_t kReorderWindow = 16;

std::string ChunkName(uint64_t index, uint64_t count) {
  return "chunk " + std::to_string(index + 1) + " of " + std::to_string(count);
}

}  // namespace

StatusOr<format::Header> ReadHeader(SequentialFile& source) {
  uint8_t preamble[format::kPreambleSize];
  CV_ASSIGN_OR_RETURN(size_t n, ReadFull(source, preamble));
  CV_ASSIGN_OR_RETURN(uint32_t length, format::ParsePreamble({preamble, n}));
  Bytes body(length);
  CV_ASSIGN_OR_RETURN(size_t got, ReadFull(source, body));
  if (got != length) return CorruptError("the blob ends inside its header", "truncated_header");
  return format::ParseHeaderBody(body, format::PreambleVersion(preamble));
}

StatusOr<SecretData> UnwrapFileKey(const format::Header& header, Identity& identity) {
  CV_ASSIGN_OR_RETURN(SecretData file_key, identity.Unwrap(header.stanzas));
  if (file_key.size() != format::kFileKeySize) {
    return CorruptError("the unwrapped file key has the wrong length", "stanza_unwrap_failed");
  }
  CV_RETURN_IF_ERROR(format::VerifyHeaderMac(file_key, header));
  return file_key;
}

StatusOr<std::unique_ptr<Decryptor>> Decryptor::New(SequentialFile* source, format::Header header,
                                                    SecretData file_key) {
  CV_RETURN_IF_ERROR(format::VerifyHeaderMac(file_key, header));
  CV_ASSIGN_OR_RETURN(SecretData metadata_key, format::DeriveMetadataKey(file_key, header));
  CV_ASSIGN_OR_RETURN(
      format::Metadata metadata,
      format::OpenMetadata(metadata_key, header.metadata_ciphertext, header.version));
  CV_ASSIGN_OR_RETURN(SecretData payload_key, format::DerivePayloadKey(file_key, header));
  SecretData trailer_key;
  if (header.version == format::kVersion2) {
    CV_ASSIGN_OR_RETURN(trailer_key, format::DeriveTrailerKey(file_key, header));
  }
  return std::unique_ptr<Decryptor>(new Decryptor(source, std::move(header), std::move(metadata),
                                                  std::move(payload_key), std::move(trailer_key)));
}

Status Decryptor::DecryptTo(WritableFile& sink, const DecryptOptions& options) {
  CV_ASSIGN_OR_RETURN(AesGcm gcm, AesGcm::New(payload_key_));
  const uint64_t size = metadata_.size;
  const uint64_t count = format::ChunkCount(size);
  auto chunk_plain_len = [&](uint64_t i) -> size_t {
    return i + 1 < count ? kChunkSize : static_cast<size_t>(size - (count - 1) * kChunkSize);
  };

  // Names what a chunk that failed at position `i` really is, by trying it at nearby
  // positions (a reordered, duplicated or dropped chunk authenticates elsewhere).
  auto diagnose = [&](uint64_t i, ByteView sealed, uint8_t* scratch) -> Status {
    uint64_t lo = i > kReorderWindow ? i - kReorderWindow : 0;
    uint64_t hi = std::min(count + kReorderWindow, i + kReorderWindow);
    for (uint64_t j = lo; j <= hi; ++j) {
      for (bool final_chunk : {false, true}) {
        if (j == i && final_chunk == (i + 1 == count)) continue;
        if (gcm.Open(format::ChunkNonce(j, final_chunk), {}, sealed, scratch).ok()) {
          if (j == i) {
            return CorruptError(ChunkName(i, count) + " is sealed as the wrong kind (final or " +
                                    "not): the stream was cut or spliced",
                                "chunk_out_of_order");
          }
          return CorruptError("found chunk " + std::to_string(j + 1) + " at the place of " +
                                  ChunkName(i, count) + ": chunks were reordered or dropped",
                              "chunk_out_of_order");
        }
      }
    }
    return CorruptError(ChunkName(i, count) + " failed authentication: the blob is corrupted",
                        "chunk_auth_failed");
  };

  // Sized to the blob (a small file needs one chunk, not a 1 MiB block) and not zeroed:
  // restoring thousands of small files must not memset megabytes for each.
  if (options.first_chunk > 0 && (options.first_chunk >= count || !options.verify_content_hash ||
                                  options.plaintext_prefix == nullptr)) {
    return InvalidArgumentError(
        "resuming needs a chunk before the final one, its prefix and "
        "the content hash check");
  }
  const size_t block = static_cast<size_t>(std::min<uint64_t>(kChunksPerBlock, count));
  std::unique_ptr<uint8_t[]> in = std::make_unique_for_overwrite<uint8_t[]>(block * kSealedChunk);
  // Aligned, so that a sink that writes around the page cache needs no bounce copy. Blocks
  // are hashed and written while the next ones are opened, from buffers taken in turn: the
  // hasher and the appender may each hold all but the one being filled, so a disk that
  // stalls now and then does not stall the decryption.
  const uint64_t blocks = (count - options.first_chunk + kChunksPerBlock - 1) / kChunksPerBlock;
  const size_t buffers = static_cast<size_t>(std::clamp<uint64_t>(blocks, 2, kOutBuffers));
  std::vector<DirectIoBuffer> out;
  for (size_t i = 0; i < buffers; ++i) out.push_back(NewDirectIoBuffer(block * kChunkSize));
  BackgroundHasher hasher(buffers - 1);
  // Declared after `out`, so that an early return waits for the appends in flight before
  // the buffers go.
  BackgroundAppender appender(&sink, buffers - 1);
  size_t cur_prefix_buffer = 0;
  // Without the hash check, the second core opens half of each block instead.
  WorkerThread opener;
  std::optional<AesGcm> second_gcm;
  if (!options.verify_content_hash) {
    CV_ASSIGN_OR_RETURN(second_gcm, AesGcm::New(payload_key_));
  }
  uint64_t index = options.first_chunk;
  if (index > 0) {
    // The prefix goes through the same hasher, in `out` buffers' worth of bytes.
    uint64_t left = index * kChunkSize;
    while (left > 0) {
      uint8_t* buf = out[cur_prefix_buffer].get();
      const size_t want = static_cast<size_t>(std::min<uint64_t>(left, block * kChunkSize));
      CV_ASSIGN_OR_RETURN(size_t got, ReadFull(*options.plaintext_prefix, {buf, want}));
      if (got != want) return InvalidArgumentError("the plaintext prefix to resume is too short");
      hasher.Submit({buf, got});
      left -= got;
      cur_prefix_buffer = (cur_prefix_buffer + 1) % buffers;
    }
  }
  // Each block is opened in place where the source reads in place (a blob in memory, a
  // download's pipe), else read into `in`.
  size_t cur = cur_prefix_buffer;
  while (index < count) {
    const uint64_t chunks = std::min<uint64_t>(kChunksPerBlock, count - index);
    size_t want = 0;
    for (uint64_t k = 0; k < chunks; ++k) want += chunk_plain_len(index + k) + kTagSize;
    CV_ASSIGN_OR_RETURN(ByteView read, ReadFullView(*source_, {in.get(), want}));
    const uint8_t* src = read.data();
    const size_t got = read.size();
    // Every chunk of a block but the last has the full size, so chunk k starts at
    // k * kSealedChunk; only complete chunks are opened.
    size_t complete = 0;
    while (complete < chunks &&
           got >= complete * kSealedChunk + chunk_plain_len(index + complete) + kTagSize) {
      ++complete;
    }
    uint8_t* plain = out[cur].get();
    auto open = [&](AesGcm& g, size_t k) {
      ByteView sealed{src + k * kSealedChunk, chunk_plain_len(index + k) + kTagSize};
      return g.Open(format::ChunkNonce(index + k, index + k + 1 == count), {}, sealed,
                    plain + k * kChunkSize);
    };
    Status error;
    size_t failed =
        RunSplit(complete, gcm, second_gcm ? &*second_gcm : nullptr, opener, open, &error);
    if (failed != complete) {
      ByteView sealed{src + failed * kSealedChunk, chunk_plain_len(index + failed) + kTagSize};
      return diagnose(index + failed, sealed, plain + failed * kChunkSize);
    }
    if (complete < chunks) {
      if (got == complete * kSealedChunk) {
        return CorruptError("the payload ends after " + std::to_string(index + complete) + " of " +
                                std::to_string(count) + " chunks: the final chunk is missing",
                            "missing_final_chunk");
      }
      return CorruptError("the payload ends inside " + ChunkName(index + complete, count),
                          "truncated");
    }
    size_t out_len = 0;
    for (uint64_t k = 0; k < chunks; ++k) out_len += chunk_plain_len(index + k);
    if (options.verify_content_hash && out_len > 0) hasher.Submit({plain, out_len});
    CV_RETURN_IF_ERROR(appender.Submit({plain, out_len}));
    index += chunks;
    cur = (cur + 1) % buffers;
  }
  CV_RETURN_IF_ERROR(appender.Wait());
  if (header_.version == format::kVersion2) {
    // The trailer: the content hash, sealed; a v2 blob cut after its final chunk lacks it.
    uint8_t trailer[format::kTrailerSize];
    CV_ASSIGN_OR_RETURN(size_t got, ReadFull(*source_, trailer));
    if (got != sizeof trailer) {
      return CorruptError("the blob ends inside its trailer", "truncated");
    }
    CV_ASSIGN_OR_RETURN(metadata_.sha256, format::OpenTrailer(trailer_key_, trailer));
  }
  uint8_t extra;
  CV_ASSIGN_OR_RETURN(size_t more, ReadFull(*source_, {&extra, 1}));
  if (more != 0) {
    return CorruptError(header_.version == format::kVersion2 ? "data follows the trailer"
                                                             : "data follows the final chunk",
                        "trailing_data");
  }
  if (options.verify_content_hash) {
    Sha256Digest digest = hasher.Finish();
    if (digest != metadata_.sha256) {
      return CorruptError("the decrypted content does not match the SHA-256 in its metadata",
                          "content_hash_mismatch");
    }
  }
  return Status::Ok();
}

StatusOr<std::unique_ptr<Decryptor>> OpenBlob(SequentialFile* source, Identity& identity) {
  CV_ASSIGN_OR_RETURN(format::Header header, ReadHeader(*source));
  CV_ASSIGN_OR_RETURN(SecretData file_key, UnwrapFileKey(header, identity));
  return Decryptor::New(source, std::move(header), std::move(file_key));
}

StatusOr<format::Metadata> DecryptFile(Env& env, const std::string& in_path,
                                       const std::string& out_path, Identity& identity,
                                       bool restore_attributes) {
  CV_ASSIGN_OR_RETURN(auto source, env.NewSequentialFile(in_path));
  CV_ASSIGN_OR_RETURN(auto decryptor, OpenBlob(source.get(), identity));
  uint8_t r[6];
  CV_RETURN_IF_ERROR(env.RandomBytes(r));
  const std::string tmp = out_path + ".cv-tmp-" + HexEncode(r);
  Status s;
  {
    CV_ASSIGN_OR_RETURN(auto sink, env.NewWritableFile(tmp, 0600));
    s = decryptor->DecryptTo(*sink);
    if (s.ok()) s = sink->Sync();
    if (s.ok()) s = sink->Close();
  }
  const format::Metadata& m = decryptor->metadata();
  if (s.ok() && restore_attributes) s = env.SetFileTimesAndMode(tmp, m.mtime_ns, m.mode);
  if (s.ok()) s = env.RenameFile(tmp, out_path);
  if (s.ok()) s = env.SyncDir(DirName(out_path));
  if (!s.ok()) {
    env.RemoveFile(tmp).IgnoreError();
    return s;
  }
  return m;
}

}  // namespace cardvault
