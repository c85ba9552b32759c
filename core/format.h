// The cardvault blob format, version 1: constants, the header and metadata structures,
// their exact byte encoding, and the key schedule. docs/format.md is normative; this
// module implements it and nothing else (no I/O, no recipients).
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
inline constexpr uint16_t kVersion1 = 1;
inline constexpr size_t kPreambleSize = 14;  // magic, version u16, header length u32
inline constexpr size_t kFileKeySize = 32;
inline constexpr size_t kPayloadNonceSize = 16;
inline constexpr size_t kMacSize = 32;
inline constexpr size_t kTagSize = 16;
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
};

// The encrypted metadata section: what the server must never see.
struct Metadata {
  Kind kind = Kind::kFile;
  std::string path;          // relative, '/'-separated, UTF-8; empty for key objects
  uint64_t size = 0;         // plaintext bytes; fixes the payload's chunk layout
  int64_t mtime_ns = 0;      // nanoseconds since the Unix epoch
  uint32_t mode = 0;         // permission bits (07777)
  Sha256Digest sha256 = {};  // SHA-256 of the plaintext

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

// Metadata TLV encoding and its AEAD sealing.
Bytes EncodeMetadata(const Metadata& metadata);
StatusOr<Metadata> DecodeMetadata(ByteView plaintext);
size_t SealedMetadataSize(const Metadata& metadata);
StatusOr<Bytes> SealMetadata(const SecretData& metadata_key, const Metadata& metadata);
StatusOr<Metadata> OpenMetadata(const SecretData& metadata_key, ByteView sealed);

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
// Parses the header body that follows the preamble (exactly `length` bytes).
// Errors: "header_malformed", "too_many_stanzas".
StatusOr<Header> ParseHeaderBody(ByteView body);

// Payload layout fixed by the plaintext size: number of chunks (at least one), and the
// total ciphertext length.
uint64_t ChunkCount(uint64_t plaintext_size);
uint64_t PayloadCiphertextSize(uint64_t plaintext_size);
// Where sealed chunk `index` starts, counted from the payload's first byte (every chunk
// before the final one is full).
inline uint64_t SealedChunkOffset(uint64_t index) { return index * (kChunkSize + kTagSize); }

// The STREAM nonce of chunk `index`: 11-byte big-endian counter, then 0x01 for the final
// chunk and 0x00 otherwise.
std::array<uint8_t, 12> ChunkNonce(uint64_t index, bool final_chunk);

}  // namespace format
}  // namespace cardvault

#endif  // CARDVAULT_CORE_FORMAT_H_
