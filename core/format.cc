// The cardvault blob format v1 and v2: encoding, parsing and key schedule (docs/format.md).
#include "core/format.h"

#include <openssl/crypto.h>

#include <algorithm>

#include "core/aes_gcm.h"

namespace cardvault {
namespace format {
namespace {

constexpr char kInfoHeader[] = "cardvault/v1 header";
constexpr char kInfoMetadata[] = "cardvault/v1 metadata";
constexpr char kInfoPayload[] = "cardvault/v1 payload";  // v2 keeps v1's three labels
constexpr char kInfoTrailer[] = "cardvault/v2 trailer";

// Metadata TLV tags (docs/format.md, "Metadata").
constexpr uint8_t kTlvKind = 0x01;
constexpr uint8_t kTlvPath = 0x02;
constexpr uint8_t kTlvSize = 0x03;
constexpr uint8_t kTlvMtime = 0x04;
constexpr uint8_t kTlvMode = 0x05;
constexpr uint8_t kTlvSha256 = 0x06;
constexpr uint8_t kTlvRecorded = 0x07;  // optional

// The smallest header body: nonce, one stanza of a 1-byte type and 1-byte body, a metadata
// length and a sealed empty metadata section, and the MAC.
constexpr size_t kMinHeaderLength =
    kPayloadNonceSize + 1 + (1 + 1 + 1 + 1 + 2 + 1) + 4 + AesGcm::kTagSize + kMacSize;

Status Malformed(const std::string& what) {
  return CorruptError("malformed header: " + what, "header_malformed");
}

// A bounds-checked reader over a byte view.
class Reader {
 public:
  explicit Reader(ByteView data) : data_(data) {}
  bool Has(size_t n) const { return data_.size() - pos_ >= n; }
  size_t remaining() const { return data_.size() - pos_; }
  uint8_t U8() { return data_[pos_++]; }
  uint16_t U16() {
    uint16_t v = LoadU16(data_.data() + pos_);
    pos_ += 2;
    return v;
  }
  uint32_t U32() {
    uint32_t v = LoadU32(data_.data() + pos_);
    pos_ += 4;
    return v;
  }
  ByteView Take(size_t n) {
    ByteView v = data_.subspan(pos_, n);
    pos_ += n;
    return v;
  }

 private:
  ByteView data_;
  size_t pos_ = 0;
};

StatusOr<SecretData> Derive(const SecretData& file_key, const Header& header, const char* info) {
  if (file_key.size() != kFileKeySize) {
    return InvalidArgumentError("a file key is 32 bytes");
  }
  return HkdfSha256(file_key.span(), header.payload_nonce, info, 32);
}

void AppendTlv(Bytes& out, uint8_t tag, ByteView value) {
  AppendU8(out, tag);
  AppendU16(out, static_cast<uint16_t>(value.size()));
  AppendBytes(out, value);
}

constexpr std::array<uint8_t, 12> kZeroNonce = {};

}  // namespace

StatusOr<SecretData> DeriveHeaderMacKey(const SecretData& file_key, const Header& header) {
  return Derive(file_key, header, kInfoHeader);
}
StatusOr<SecretData> DeriveMetadataKey(const SecretData& file_key, const Header& header) {
  return Derive(file_key, header, kInfoMetadata);
}
StatusOr<SecretData> DerivePayloadKey(const SecretData& file_key, const Header& header) {
  return Derive(file_key, header, kInfoPayload);
}
StatusOr<SecretData> DeriveTrailerKey(const SecretData& file_key, const Header& header) {
  if (header.version != kVersion2) return InvalidArgumentError("only v2 blobs have a trailer");
  return Derive(file_key, header, kInfoTrailer);
}

Bytes EncodeMetadata(const Metadata& m, uint16_t version) {
  Bytes out;
  uint8_t kind = static_cast<uint8_t>(m.kind);
  AppendTlv(out, kTlvKind, ByteView(&kind, 1));
  AppendTlv(out, kTlvPath, AsBytes(m.path));
  Bytes v;
  AppendU64(v, m.size);
  AppendTlv(out, kTlvSize, v);
  v.clear();
  AppendU64(v, static_cast<uint64_t>(m.mtime_ns));
  AppendTlv(out, kTlvMtime, v);
  v.clear();
  AppendU32(v, m.mode);
  AppendTlv(out, kTlvMode, v);
  if (version == kVersion1) AppendTlv(out, kTlvSha256, m.sha256);
  if (m.recorded_ns.has_value()) {
    v.clear();
    AppendU64(v, static_cast<uint64_t>(*m.recorded_ns));
    AppendTlv(out, kTlvRecorded, v);
  }
  return out;
}

StatusOr<Metadata> DecodeMetadata(ByteView plaintext, uint16_t version) {
  auto bad = [](const std::string& what) {
    return CorruptError("malformed metadata: " + what, "metadata_malformed");
  };
  Metadata m;
  Reader r(plaintext);
  int last_tag = -1;
  uint32_t seen = 0;
  while (r.remaining() > 0) {
    if (!r.Has(3)) return bad("truncated entry");
    uint8_t tag = r.U8();
    uint16_t len = r.U16();
    if (!r.Has(len)) return bad("entry longer than the section");
    ByteView value = r.Take(len);
    if (tag <= last_tag) return bad("entries out of order or repeated");
    last_tag = tag;
    auto fixed = [&](size_t n) { return len == n; };
    switch (tag) {
      case kTlvKind:
        if (!fixed(1) || value[0] == 0) return bad("kind is not one non-zero byte");
        m.kind = static_cast<Kind>(value[0]);
        break;
      case kTlvPath:
        if (len > kMaxPathLength) return bad("path too long");
        m.path.assign(AsStringView(value));
        break;
      case kTlvSize:
        if (!fixed(8)) return bad("size is not 8 bytes");
        m.size = LoadU64(value.data());
        break;
      case kTlvMtime:
        if (!fixed(8)) return bad("mtime is not 8 bytes");
        m.mtime_ns = static_cast<int64_t>(LoadU64(value.data()));
        break;
      case kTlvMode:
        if (!fixed(4)) return bad("mode is not 4 bytes");
        m.mode = LoadU32(value.data());
        break;
      case kTlvSha256:
        if (version != kVersion1) return bad("a v2 header carries no sha256: it is in the trailer");
        if (!fixed(32)) return bad("sha256 is not 32 bytes");
        std::copy(value.begin(), value.end(), m.sha256.begin());
        break;
      case kTlvRecorded:
        if (!fixed(8)) return bad("recorded is not 8 bytes");
        m.recorded_ns = static_cast<int64_t>(LoadU64(value.data()));
        break;
      default:
        continue;  // unknown tags are skipped (forward compatibility within v1)
    }
    seen |= 1u << tag;
  }
  uint32_t required =
      (1u << kTlvKind) | (1u << kTlvPath) | (1u << kTlvSize) | (1u << kTlvMtime) | (1u << kTlvMode);
  if (version == kVersion1) required |= 1u << kTlvSha256;
  if ((seen & required) != required) return bad("a required entry is missing");
  return m;
}

size_t SealedMetadataSize(const Metadata& m, uint16_t version) {
  return EncodeMetadata(m, version).size() + AesGcm::kTagSize;
}

StatusOr<Bytes> SealMetadata(const SecretData& metadata_key, const Metadata& metadata,
                             uint16_t version) {
  if (metadata.path.size() > kMaxPathLength) {
    return InvalidArgumentError("path longer than " + std::to_string(kMaxPathLength) + " bytes");
  }
  SecretData plain = SecretData::CopyFrom(EncodeMetadata(metadata, version));
  CV_ASSIGN_OR_RETURN(AesGcm gcm, AesGcm::New(metadata_key));
  Bytes out(plain.size() + AesGcm::kTagSize);
  CV_RETURN_IF_ERROR(gcm.Seal(kZeroNonce, {}, plain.span(), out.data()));
  return out;
}

StatusOr<Metadata> OpenMetadata(const SecretData& metadata_key, ByteView sealed, uint16_t version) {
  if (sealed.size() < AesGcm::kTagSize) {
    return CorruptError("metadata section too short", "metadata_corrupt");
  }
  CV_ASSIGN_OR_RETURN(AesGcm gcm, AesGcm::New(metadata_key));
  SecretData plain(sealed.size() - AesGcm::kTagSize);
  Status s = gcm.Open(kZeroNonce, {}, sealed, plain.data());
  if (!s.ok()) {
    return CorruptError("the metadata section failed authentication", "metadata_corrupt");
  }
  return DecodeMetadata(plain.span(), version);
}

StatusOr<Bytes> SealTrailer(const SecretData& trailer_key, const Sha256Digest& content_sha256) {
  CV_ASSIGN_OR_RETURN(AesGcm gcm, AesGcm::New(trailer_key));
  Bytes out(kTrailerSize);
  CV_RETURN_IF_ERROR(gcm.Seal(kZeroNonce, {}, content_sha256, out.data()));
  return out;
}

StatusOr<Sha256Digest> OpenTrailer(const SecretData& trailer_key, ByteView sealed) {
  if (sealed.size() != kTrailerSize) {
    return CorruptError("the trailer is " + std::to_string(sealed.size()) + " bytes, not " +
                            std::to_string(kTrailerSize),
                        "trailer_corrupt");
  }
  CV_ASSIGN_OR_RETURN(AesGcm gcm, AesGcm::New(trailer_key));
  Sha256Digest digest;
  if (!gcm.Open(kZeroNonce, {}, sealed, digest.data()).ok()) {
    return CorruptError("the trailer failed authentication: the blob is corrupted",
                        "trailer_corrupt");
  }
  return digest;
}

Bytes MacInput(const Header& h) {
  Bytes body;
  AppendBytes(body, h.payload_nonce);
  AppendU8(body, static_cast<uint8_t>(h.stanzas.size()));
  for (const Stanza& s : h.stanzas) {
    AppendU8(body, static_cast<uint8_t>(s.type.size()));
    AppendBytes(body, AsBytes(s.type));
    AppendU8(body, static_cast<uint8_t>(s.key_id.size()));
    AppendBytes(body, s.key_id);
    AppendU8(body, static_cast<uint8_t>(s.args.size()));
    for (const Bytes& a : s.args) {
      AppendU16(body, static_cast<uint16_t>(a.size()));
      AppendBytes(body, a);
    }
    AppendU16(body, static_cast<uint16_t>(s.body.size()));
    AppendBytes(body, s.body);
  }
  AppendU32(body, static_cast<uint32_t>(h.metadata_ciphertext.size()));
  AppendBytes(body, h.metadata_ciphertext);

  Bytes out;
  out.reserve(kPreambleSize + body.size());
  AppendBytes(out, kMagic);
  AppendU16(out, h.version);
  AppendU32(out, static_cast<uint32_t>(body.size() + kMacSize));
  AppendBytes(out, body);
  return out;
}

Bytes SerializeHeader(const Header& h) {
  Bytes out = MacInput(h);
  AppendBytes(out, h.mac);
  return out;
}

Status SealHeader(const SecretData& file_key, Header& header) {
  if (header.stanzas.empty() || header.stanzas.size() > kMaxStanzas) {
    return InvalidArgumentError("a header needs 1 to 64 stanzas");
  }
  for (const Stanza& s : header.stanzas) {
    if (s.type.empty() || s.type.size() > kMaxStanzaTypeLength ||
        s.key_id.size() > kMaxKeyIdLength || s.args.size() > kMaxStanzaArgs || s.body.empty() ||
        s.body.size() > kMaxStanzaBodyLength ||
        std::any_of(s.args.begin(), s.args.end(),
                    [](const Bytes& a) { return a.size() > kMaxStanzaArgLength; }) ||
        std::any_of(s.type.begin(), s.type.end(), [](char c) { return c < 0x21 || c > 0x7e; })) {
      return InvalidArgumentError("stanza of type '" + s.type + "' is outside the format's limits");
    }
  }
  CV_ASSIGN_OR_RETURN(SecretData mac_key, DeriveHeaderMacKey(file_key, header));
  header.mac = HmacSha256(mac_key.span(), MacInput(header));
  if (SerializeHeader(header).size() > kPreambleSize + kMaxHeaderLength) {
    return InvalidArgumentError("header larger than the format allows");
  }
  return Status::Ok();
}

Status VerifyHeaderMac(const SecretData& file_key, const Header& header) {
  CV_ASSIGN_OR_RETURN(SecretData mac_key, DeriveHeaderMacKey(file_key, header));
  Sha256Digest expected = HmacSha256(mac_key.span(), MacInput(header));
  if (CRYPTO_memcmp(expected.data(), header.mac.data(), kMacSize) != 0) {
    return CorruptError("the header MAC does not match: the header was modified or corrupted",
                        "header_mac_mismatch");
  }
  return Status::Ok();
}

StatusOr<uint32_t> ParsePreamble(ByteView p) {
  if (p.size() < kPreambleSize) {
    // Report a wrong magic even on a short input, when the bytes present already differ.
    if (!std::equal(p.begin(), p.begin() + std::min(p.size(), kMagic.size()), kMagic.begin())) {
      return CorruptError("not a cardvault blob (bad magic)", "bad_magic");
    }
    return CorruptError("the blob ends inside its header", "truncated_header");
  }
  if (!std::equal(kMagic.begin(), kMagic.end(), p.begin())) {
    return CorruptError("not a cardvault blob (bad magic)", "bad_magic");
  }
  uint16_t version = LoadU16(p.data() + 8);
  if (version != kVersion1 && version != kVersion2) {
    return UnsupportedError("unsupported format version " + std::to_string(version) +
                                " (this build reads versions 1 and 2); upgrade cardvault",
                            "unsupported_version");
  }
  uint32_t length = LoadU32(p.data() + 10);
  if (length > kMaxHeaderLength) {
    return CorruptError("header length " + std::to_string(length) + " exceeds the limit of " +
                            std::to_string(kMaxHeaderLength),
                        "header_too_large");
  }
  if (length < kMinHeaderLength) return Malformed("header length too small");
  return length;
}

uint16_t PreambleVersion(ByteView preamble) { return LoadU16(preamble.data() + 8); }

StatusOr<Header> ParseHeaderBody(ByteView body, uint16_t version) {
  Header h;
  h.version = version;
  Reader r(body);
  if (!r.Has(kPayloadNonceSize + 1)) return Malformed("too short");
  ByteView nonce = r.Take(kPayloadNonceSize);
  std::copy(nonce.begin(), nonce.end(), h.payload_nonce.begin());
  size_t count = r.U8();
  if (count == 0) return Malformed("no recipient stanzas");
  if (count > kMaxStanzas) {
    return CorruptError(
        std::to_string(count) + " stanzas exceed the limit of " + std::to_string(kMaxStanzas),
        "too_many_stanzas");
  }
  h.stanzas.resize(count);
  for (Stanza& s : h.stanzas) {
    if (!r.Has(1)) return Malformed("stanza truncated");
    size_t type_len = r.U8();
    if (type_len == 0 || type_len > kMaxStanzaTypeLength || !r.Has(type_len + 1)) {
      return Malformed("bad stanza type");
    }
    s.type.assign(AsStringView(r.Take(type_len)));
    if (std::any_of(s.type.begin(), s.type.end(), [](char c) { return c < 0x21 || c > 0x7e; })) {
      return Malformed("stanza type is not printable ASCII");
    }
    size_t id_len = r.U8();
    if (id_len > kMaxKeyIdLength || !r.Has(id_len + 1)) return Malformed("bad key identifier");
    ByteView id = r.Take(id_len);
    s.key_id.assign(id.begin(), id.end());
    size_t argc = r.U8();
    if (argc > kMaxStanzaArgs) return Malformed("too many stanza arguments");
    for (size_t i = 0; i < argc; ++i) {
      if (!r.Has(2)) return Malformed("stanza argument truncated");
      size_t len = r.U16();
      if (len > kMaxStanzaArgLength || !r.Has(len)) return Malformed("bad stanza argument");
      ByteView a = r.Take(len);
      s.args.emplace_back(a.begin(), a.end());
    }
    if (!r.Has(2)) return Malformed("stanza body truncated");
    size_t body_len = r.U16();
    if (body_len == 0 || body_len > kMaxStanzaBodyLength || !r.Has(body_len)) {
      return Malformed("bad stanza body");
    }
    ByteView b = r.Take(body_len);
    s.body.assign(b.begin(), b.end());
  }
  if (!r.Has(4)) return Malformed("metadata length missing");
  size_t meta_len = r.U32();
  if (meta_len < AesGcm::kTagSize || meta_len > kMaxMetadataLength) {
    return Malformed("bad metadata length");
  }
  if (!r.Has(meta_len)) return Malformed("metadata section truncated");
  ByteView meta = r.Take(meta_len);
  h.metadata_ciphertext.assign(meta.begin(), meta.end());
  if (r.remaining() != kMacSize) return Malformed("header length does not match its contents");
  ByteView mac = r.Take(kMacSize);
  std::copy(mac.begin(), mac.end(), h.mac.begin());
  return h;
}

uint64_t ChunkCount(uint64_t plaintext_size) {
  return plaintext_size == 0 ? 1 : (plaintext_size + kChunkSize - 1) / kChunkSize;
}

uint64_t PayloadCiphertextSize(uint64_t plaintext_size) {
  return plaintext_size + ChunkCount(plaintext_size) * kTagSize;
}

uint64_t BlobSize(uint16_t version, uint32_t header_length, uint64_t plaintext_size) {
  return kPreambleSize + header_length + PayloadCiphertextSize(plaintext_size) +
         (version == kVersion2 ? kTrailerSize : 0);
}

std::array<uint8_t, 12> ChunkNonce(uint64_t index, bool final_chunk) {
  std::array<uint8_t, 12> n = {};
  StoreU64(n.data() + 3, index);  // bytes 0..10 hold a big-endian counter; the top 3 stay 0
  n[11] = final_chunk ? 1 : 0;
  return n;
}

}  // namespace format
}  // namespace cardvault
