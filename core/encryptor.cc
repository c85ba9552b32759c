// Streaming encryption into format v1 or v2: wrap a fresh file key, seal 64 KiB STREAM
// chunks while hashing on a second thread; then v1 writes the header (with size and hash)
// last, v2 the trailer (with the hash) after a header written first.
#include "core/encryptor.h"

#include <cstring>
#include <memory>

#include "core/aes_gcm.h"
#include "core/background_hasher.h"
#include "core/split_runner.h"

namespace cardvault {
namespace {

using format::kChunkSize;
using format::kTagSize;

constexpr size_t kChunksPerBlock = 16;
constexpr size_t kBlockSize = kChunksPerBlock * kChunkSize;  // 1 MiB of plaintext per read
// Read first into a buffer of this size: an input that ends within it needs no more.
constexpr size_t kSmallInput = 64 * 1024;

std::string TempPathFor(Env& env, const std::string& path) {
  uint8_t r[6];
  std::string suffix = "0";
  if (env.RandomBytes(r).ok()) suffix = HexEncode(r);
  return path + ".cv-tmp-" + suffix;
}

}  // namespace

StatusOr<format::Metadata> EncryptStream(SequentialFile& source, WritableFile& sink,
                                         std::span<Recipient* const> recipients,
                                         format::Metadata metadata, const EncryptOptions& options) {
  if (recipients.empty()) return InvalidArgumentError("encryption needs at least one recipient");
  const bool v2 = options.version == format::kVersion2;
  if (!v2 && options.version != format::kVersion1) {
    return InvalidArgumentError("cannot write format version " + std::to_string(options.version));
  }
  const uint64_t promised = metadata.size;  // v2 only
  Env& env = options.env != nullptr ? *options.env : *Env::Default();

  // A fresh file key and payload nonce for this blob.
  SecretData file_key(format::kFileKeySize);
  CV_RETURN_IF_ERROR(env.RandomBytes(file_key.mutable_span()));
  format::Header header;
  header.version = options.version;
  CV_RETURN_IF_ERROR(env.RandomBytes(header.payload_nonce));
  for (Recipient* r : recipients) {
    CV_ASSIGN_OR_RETURN(std::vector<Stanza> stanzas, r->Wrap(file_key));
    if (stanzas.empty()) return InternalError("a recipient returned no stanza");
    for (Stanza& s : stanzas) header.stanzas.push_back(std::move(s));
  }
  if (header.stanzas.size() > format::kMaxStanzas) {
    return InvalidArgumentError("too many recipients: at most 64 stanzas fit in a header");
  }
  CV_ASSIGN_OR_RETURN(SecretData payload_key, format::DerivePayloadKey(file_key, header));
  CV_ASSIGN_OR_RETURN(SecretData metadata_key, format::DeriveMetadataKey(file_key, header));
  CV_ASSIGN_OR_RETURN(AesGcm gcm, AesGcm::New(payload_key));

  size_t header_size = 0;
  if (v2) {
    // Everything the header holds is known now: it goes first.
    CV_ASSIGN_OR_RETURN(header.metadata_ciphertext,
                        format::SealMetadata(metadata_key, metadata, header.version));
    CV_RETURN_IF_ERROR(format::SealHeader(file_key, header));
    CV_RETURN_IF_ERROR(sink.Append(format::SerializeHeader(header)));
  } else {
    // Reserve the header's exact length: the metadata section's length depends only on the
    // path, and the stanzas are final.
    header.metadata_ciphertext.assign(format::SealedMetadataSize(metadata, header.version), 0);
    header_size = format::SerializeHeader(header).size();
    Bytes placeholder(header_size, 0);
    CV_RETURN_IF_ERROR(sink.Append(placeholder));
  }
  // v2 stops at the first byte beyond the size its header promised.
  auto check_size = [&](uint64_t so_far, bool at_end) -> Status {
    if (!v2 || (so_far <= promised && (!at_end || so_far == promised))) return Status::Ok();
    return FailedPreconditionError("the input changed while it was encrypted: it yielded " +
                                       std::string(so_far > promised ? "more than " : "") +
                                       std::to_string(so_far) + " bytes, not the " +
                                       std::to_string(promised) + " its header promised",
                                   "source_changed");
  };

  // The hasher runs on the second core; when the hash is given, the second core seals half
  // of each block instead.
  // Sized by the first block that needs it, so a small input allocates little.
  std::unique_ptr<uint8_t[]> out;
  size_t out_capacity = 0;
  // Streaming input buffers. Declared before the hasher and the sealer so that they
  // outlive the threads that may still be reading them.
  std::unique_ptr<uint8_t[]> small;
  std::unique_ptr<uint8_t[]> in[2];
  BackgroundHasher hasher;
  WorkerThread sealer;
  const bool hash = !options.content_sha256.has_value();
  std::optional<AesGcm> second_gcm;
  if (!hash) {
    CV_ASSIGN_OR_RETURN(second_gcm, AesGcm::New(payload_key));
  }
  uint64_t chunk_index = 0;
  // Seals `len` bytes at `buf` (whole chunks, except in the last block) and appends them.
  // An empty last block is one empty final chunk.
  auto seal_block = [&](const uint8_t* buf, size_t len, bool last_block) -> Status {
    const size_t chunks = len == 0 ? 1 : (len + kChunkSize - 1) / kChunkSize;
    const size_t sealed_len = len + chunks * kTagSize;
    // An in-memory sink is sealed into directly; otherwise through `out` and Append.
    std::optional<std::span<uint8_t>> in_place = sink.AppendInPlace(sealed_len);
    if (!in_place && out_capacity < sealed_len) {
      out_capacity = std::max(
          sealed_len, std::min(kBlockSize, 4 * sealed_len) + (kChunksPerBlock + 1) * kTagSize);
      out = std::make_unique_for_overwrite<uint8_t[]>(out_capacity);
    }
    uint8_t* dst = in_place ? in_place->data() : out.get();
    auto seal = [&](AesGcm& g, size_t k) {
      size_t pos = k * kChunkSize;
      size_t n = std::min(kChunkSize, len - pos);
      bool final_chunk = last_block && k + 1 == chunks;
      return g.Seal(format::ChunkNonce(chunk_index + k, final_chunk), {}, {buf + pos, n},
                    dst + k * (kChunkSize + kTagSize));
    };
    Status error;
    if (RunSplit(chunks, gcm, second_gcm ? &*second_gcm : nullptr, sealer, seal, &error) !=
        chunks) {
      return error;
    }
    chunk_index += chunks;
    return in_place ? Status::Ok() : sink.Append({out.get(), sealed_len});
  };

  uint64_t total = 0;
  if (std::optional<ByteView> mapped = source.TakeRemaining()) {
    // In memory: the size is known, so blocks are sealed in place, nothing is copied in.
    const ByteView data = *mapped;
    total = data.size();
    CV_RETURN_IF_ERROR(check_size(total, true));
    size_t pos = 0;
    do {
      const size_t len = std::min(kBlockSize, data.size() - pos);
      if (hash && len > 0) hasher.Submit(data.subspan(pos, len));
      CV_RETURN_IF_ERROR(seal_block(data.data() + pos, len, pos + len == data.size()));
      pos += len;
    } while (pos < data.size());
  } else {
    // Streaming. A small input (most secrets) is read into a small buffer and, if that was
    // all, sealed from there: no block buffers are allocated.
    small = std::make_unique_for_overwrite<uint8_t[]>(kSmallInput);
    CV_ASSIGN_OR_RETURN(size_t first, ReadFull(source, {small.get(), kSmallInput}));
    if (hash && first > 0) hasher.Submit({small.get(), first});
    total = first;
    CV_RETURN_IF_ERROR(check_size(total, first < kSmallInput));
    if (first < kSmallInput) {
      CV_RETURN_IF_ERROR(seal_block(small.get(), first, true));
    } else {
      // Two input buffers, one read into and sealed while the hasher reads the other.
      // Without EOF the last chunk is held back: only the next read tells whether it is the
      // final one. The small buffer's bytes (already hashed) start the first block.
      in[0] = std::make_unique_for_overwrite<uint8_t[]>(kBlockSize);
      in[1] = std::make_unique_for_overwrite<uint8_t[]>(kBlockSize);
      std::memcpy(in[0].get(), small.get(), first);
      int cur = 0;
      size_t carry = first;  // bytes at the start of in[cur] held back from the last block
      while (true) {
        uint8_t* buf = in[cur].get();
        CV_ASSIGN_OR_RETURN(size_t n, ReadFull(source, {buf + carry, kBlockSize - carry}));
        if (hash && n > 0) hasher.Submit({buf + carry, n});
        total += n;
        const size_t have = carry + n;
        const bool eof = n < kBlockSize - carry;
        CV_RETURN_IF_ERROR(check_size(total, eof));
        const size_t seal_len = eof ? have : have - kChunkSize;
        CV_RETURN_IF_ERROR(seal_block(buf, seal_len, eof));
        if (eof) break;
        int next = 1 - cur;
        std::memcpy(in[next].get(), buf + seal_len, kChunkSize);
        carry = kChunkSize;
        cur = next;
      }
    }
  }

  metadata.size = total;
  metadata.sha256 = hash ? hasher.Finish() : *options.content_sha256;
  if (v2) {
    CV_ASSIGN_OR_RETURN(SecretData trailer_key, format::DeriveTrailerKey(file_key, header));
    CV_ASSIGN_OR_RETURN(Bytes trailer, format::SealTrailer(trailer_key, metadata.sha256));
    CV_RETURN_IF_ERROR(sink.Append(trailer));
    return metadata;
  }
  CV_ASSIGN_OR_RETURN(header.metadata_ciphertext,
                      format::SealMetadata(metadata_key, metadata, header.version));
  CV_RETURN_IF_ERROR(format::SealHeader(file_key, header));
  Bytes header_bytes = format::SerializeHeader(header);
  if (header_bytes.size() != header_size) return InternalError("header length changed");
  CV_RETURN_IF_ERROR(sink.WriteAt(0, header_bytes));
  return metadata;
}

StatusOr<format::Metadata> EncryptFileTo(Env& env, const std::string& in_path, WritableFile& sink,
                                         std::span<Recipient* const> recipients,
                                         const std::string& relative_path,
                                         const EncryptOptions& options) {
  CV_ASSIGN_OR_RETURN(FileInfo info, env.Stat(in_path));
  if (!info.is_regular) return InvalidArgumentError(in_path + " is not a regular file");
  CV_ASSIGN_OR_RETURN(auto source, env.NewSequentialFile(in_path));
  format::Metadata metadata;
  metadata.kind = format::Kind::kFile;
  metadata.path = relative_path;
  metadata.mtime_ns = info.mtime_ns;
  metadata.mode = info.mode & 07777;
  metadata.size = info.size;  // promised by a v2 header
  metadata.recorded_ns = options.recorded_ns;
  EncryptOptions opts = options;
  if (opts.env == nullptr) opts.env = &env;
  return EncryptStream(*source, sink, recipients, metadata, opts);
}

StatusOr<format::Metadata> EncryptFile(Env& env, const std::string& in_path,
                                       const std::string& out_path,
                                       std::span<Recipient* const> recipients,
                                       const std::string& relative_path,
                                       const EncryptOptions& options) {
  const std::string tmp = TempPathFor(env, out_path);
  StatusOr<format::Metadata> result = InternalError("not run");
  {
    CV_ASSIGN_OR_RETURN(auto sink, env.NewWritableFile(tmp, 0600));
    result = EncryptFileTo(env, in_path, *sink, recipients, relative_path, options);
    Status s = result.ok() && options.sync ? sink->Sync() : Status::Ok();
    if (s.ok() && result.ok()) s = sink->Close();
    if (!s.ok()) result = s;
  }
  if (result.ok()) {
    Status s = env.RenameFile(tmp, out_path);
    if (s.ok() && options.sync) s = env.SyncDir(DirName(out_path));
    if (!s.ok()) result = s;
  }
  if (!result.ok()) env.RemoveFile(tmp).IgnoreError();
  return result;
}

}  // namespace cardvault
