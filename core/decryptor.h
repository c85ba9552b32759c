// Decryption of a cardvault blob: header parsing, file key unwrapping, MAC and metadata
// checks, and the streaming payload check that detects corruption, reordering,
// truncation and trailing data.
#ifndef CARDVAULT_CORE_DECRYPTOR_H_
#define CARDVAULT_CORE_DECRYPTOR_H_

#include <memory>
#include <string>

#include "core/env.h"
#include "core/format.h"
#include "core/identity.h"

namespace cardvault {

// Reads exactly the preamble and header from `source` (nothing of the payload) and parses
// them, without any key. Lets callers pick the right card before a PIN is asked.
StatusOr<format::Header> ReadHeader(SequentialFile& source);

// Unwraps the file key with `identity` and verifies the header MAC with it.
StatusOr<SecretData> UnwrapFileKey(const format::Header& header, Identity& identity);

struct DecryptOptions {
  // Check the plaintext's SHA-256 against the metadata ("content_hash_mismatch").
  bool verify_content_hash = true;
  // Resuming an interrupted decryption: the source is positioned at the sealed chunk
  // `first_chunk` (format::SealedChunkOffset) instead of the payload's start, and only the
  // chunks from there on reach the sink. MUST be below the blob's chunk count: the final
  // chunk is always opened. Not valid without verify_content_hash.
  uint64_t first_chunk = 0;
  // With first_chunk > 0: the plaintext of the chunks before it, as an earlier run wrote
  // it. It is trusted for nothing: it is hashed with the rest, so a damaged prefix fails
  // the content hash check ("content_hash_mismatch") like any other damage.
  SequentialFile* plaintext_prefix = nullptr;
};

// Decrypts one blob. Lifetime: `source` MUST outlive the Decryptor and MUST be positioned
// just after the header (as ReadHeader leaves it).
class Decryptor {
 public:
  // Unwraps, verifies the header MAC and opens the metadata.
  static StatusOr<std::unique_ptr<Decryptor>> New(SequentialFile* source, format::Header header,
                                                  SecretData file_key);

  const format::Header& header() const { return header_; }
  // For a v2 blob, metadata().sha256 is all zero until DecryptTo opened the trailer.
  const format::Metadata& metadata() const { return metadata_; }

  // Streams the plaintext into `sink`. Only authenticated chunks reach the sink, but after
  // an error the sink holds a prefix of the plaintext: callers MUST discard it (DecryptFile
  // does). Errors (kCorrupt, by reason): "chunk_auth_failed", "chunk_out_of_order",
  // "truncated", "missing_final_chunk", "trailer_corrupt" (v2), "trailing_data",
  // "content_hash_mismatch". Call once.
  Status DecryptTo(WritableFile& sink, const DecryptOptions& options = {});

 private:
  Decryptor(SequentialFile* source, format::Header header, format::Metadata metadata,
            SecretData payload_key, SecretData trailer_key)
      : source_(source),
        header_(std::move(header)),
        metadata_(std::move(metadata)),
        payload_key_(std::move(payload_key)),
        trailer_key_(std::move(trailer_key)) {}

  SequentialFile* source_;
  format::Header header_;
  format::Metadata metadata_;
  SecretData payload_key_;
  SecretData trailer_key_;  // v2 only
};

// Opens `source` with `identity`: ReadHeader, UnwrapFileKey, Decryptor::New.
StatusOr<std::unique_ptr<Decryptor>> OpenBlob(SequentialFile* source, Identity& identity);

// Decrypts `in_path` to `out_path` through a temporary file that is renamed into place only
// after the final chunk and the content hash verified: on any error no plaintext is left
// behind. Applies the metadata's mode and mtime when `restore_attributes`.
StatusOr<format::Metadata> DecryptFile(Env& env, const std::string& in_path,
                                       const std::string& out_path, Identity& identity,
                                       bool restore_attributes = true);

}  // namespace cardvault

#endif  // CARDVAULT_CORE_DECRYPTOR_H_
