// The cardvault blob format, versions 1 and 2: constants, the header, metadata and trailer
// structures, their exact byte encoding, and the key schedule. docs/format.md is normative;
// this module implements it and nothing else (no I/O, no recipients).
#ifndef CARDVAULT_CORE_FORMAT_H_
#define CARDVAULT_CORE_FORMAT_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/crypto.h"
#include "core/secret_data.h"
#include "core/stanza.h"
#include "core/status_or.h"

namespace cardvault {
namespace format {

inline constexpr std::array<uint8_t, 8> kMagic = {0x89, 'C', 'V', 'A', 'U', 'L', 'T', '\n'};
inline constexpr uint16_t kVersion1 = 1;     // content hash in the header's metadata
inline constexpr uint16_t kVersion2 = 2;     // content hash in a sealed trailer after the payload
inline constexpr size_t kPreambleSize = 14;  // magic, version u16, header length u32
inline constexpr size_t kFileKeySize = 32;
inline constexpr size_t kPayloadNonceSize = 16;
inline constexpr size_t kMacSize = 32;
inline constexpr size_t kTagSize = 16;
inline constexpr size_t kTrailerSize = 32 + kTagSize;  // v2: the sealed SHA-256 of the plaintext
inline constexpr size_t kChunkSize = 64 * 1024;
inline constexpr size_t kMaxHeaderLength = 256 * 1024;
inline constexpr size_t kMaxStanzas = 64;
inline constexpr size_t kMaxMetadataLength = 64 * 1024;
inline constexpr size_t kMaxPathLength = 4096;

// What a blob holds.
enum class Kind : uint8_t {
  kFile = 1,       // a file of the watched folder
  kKeyObject = 2,  // an epoch key object (a private key wrapped to the recipients)
  kDeletion = 3,   // records that `path` was deleted (empty plaintext; mtime = when)
  kDirectory = 4,  // a directory of the folder: its mode (empty plaintext)
  // Readers accept any other non-zero value as a kind they do not know, and skip such blobs.
};

// The encrypted metadata section: what the server must never see.
struct Metadata {
  Kind kind = Kind::kFile;
  std::string path;      // relative, '/'-separated, UTF-8; empty for key objects
  uint64_t size = 0;     // plaintext bytes; fixes the payload's chunk layout
  int64_t mtime_ns = 0;  // nanoseconds since the Unix epoch
  uint32_t mode = 0;     // permission bits (07777)
  // When the writer recorded this version (nanoseconds since the Unix epoch; optional,
  // absent in blobs written before it existed): what orders the versions of a path.
  std::optional<int64_t> recorded_ns;
  // SHA-256 of the plaintext. In v2 it is not in the header: all zero until the trailer
  // was opened (OpenTrailer, or Decryptor::DecryptTo).
  Sha256Digest sha256 = {};

  bool operator==(const Metadata&) const = default;
};

// The parsed header. `metadata_ciphertext` stays encrypted until the file key is known.
struct Header {
  uint16_t version = kVersion1;
  std::array<uint8_t, kPayloadNonceSize> payload_nonce = {};
  std::vector<Stanza> stanzas;
  Bytes metadata_ciphertext;  // AES-256-GCM(metadata key, zero nonce) incl. tag
  std::array<uint8_t, kMacSize> mac = {};
};

// Key schedule (docs/format.md, "Keys"): each key is HKDF-SHA-256 of the file key with the
// payload nonce as salt and a distinct info string.
StatusOr<SecretData> DeriveHeaderMacKey(const SecretData& file_key, const Header& header);
StatusOr<SecretData> DeriveMetadataKey(const SecretData& file_key, const Header& header);
StatusOr<SecretData> DerivePayloadKey(const SecretData& file_key, const Header& header);
// v2 only.
StatusOr<SecretData> DeriveTrailerKey(const SecretData& file_key, const Header& header);

// Metadata TLV encoding and its AEAD sealing, for the blob version `version`: v1 carries the
// SHA-256 entry, v2 MUST NOT (its hash is in the trailer; "metadata_malformed" otherwise).
Bytes EncodeMetadata(const Metadata& metadata, uint16_t version);
StatusOr<Metadata> DecodeMetadata(ByteView plaintext, uint16_t version);
size_t SealedMetadataSize(const Metadata& metadata, uint16_t version);
StatusOr<Bytes> SealMetadata(const SecretData& metadata_key, const Metadata& metadata,
                             uint16_t version);
StatusOr<Metadata> OpenMetadata(const SecretData& metadata_key, ByteView sealed, uint16_t version);

// The v2 trailer: the plaintext's SHA-256 sealed under the trailer key (kTrailerSize bytes).
// OpenTrailer fails with kCorrupt "trailer_corrupt" unless it authenticates.
StatusOr<Bytes> SealTrailer(const SecretData& trailer_key, const Sha256Digest& content_sha256);
StatusOr<Sha256Digest> OpenTrailer(const SecretData& trailer_key, ByteView sealed);

// The bytes of preamble and header (including the MAC) exactly as written to a blob.
Bytes SerializeHeader(const Header& header);
// The bytes the MAC covers: everything SerializeHeader writes except the MAC itself.
Bytes MacInput(const Header& header);
// Computes and stores the MAC.
Status SealHeader(const SecretData& file_key, Header& header);
// Verifies the MAC in constant time; kCorrupt "header_mac_mismatch" otherwise.
Status VerifyHeaderMac(const SecretData& file_key, const Header& header);

// Parses the 14-byte preamble: checks magic and version, returns the header length.
// Errors: "truncated_header", "bad_magic", "unsupported_version", "header_too_large",
// "header_malformed".
StatusOr<uint32_t> ParsePreamble(ByteView preamble);
// The version field of a preamble that ParsePreamble accepted.
uint16_t PreambleVersion(ByteView preamble);
// Parses the header body that follows the preamble (exactly `length` bytes) of a blob of
// version `version`. Errors: "header_malformed", "too_many_stanzas".
StatusOr<Header> ParseHeaderBody(ByteView body, uint16_t version);

// Payload layout fixed by the plaintext size: number of chunks (at least one), and the
// total ciphertext length.
uint64_t ChunkCount(uint64_t plaintext_size);
uint64_t PayloadCiphertextSize(uint64_t plaintext_size);
// The whole blob: preamble, header (`header_length` as in the preamble), payload and, in v2,
// the trailer.
uint64_t BlobSize(uint16_t version, uint32_t header_length, uint64_t plaintext_size);
// Where sealed chunk `index` starts, counted from the payload's first byte (every chunk
// before the final one is full).
inline uint64_t SealedChunkOffset(uint64_t index) { return index * (kChunkSize + kTagSize); }

// The STREAM nonce of chunk `index`: 11-byte big-endian counter, then 0x01 for the final
// chunk and 0x00 otherwise.
std::array<uint8_t, 12> ChunkNonce(uint64_t index, bool final_chunk);

}  // namespace format
}  // namespace cardvault

#endif  // CARDVAULT_CORE_FORMAT_H_
