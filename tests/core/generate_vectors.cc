// Writes tests/vectors/: blobs with fixed file keys and nonces and a manifest naming what
// each must decrypt to or which error it must produce. Run by hand when vectors are added
// (never to change existing ones: the format is a promise). Usage: generate_vectors DIR
#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <array>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>

#include "core/card/card_public_key.h"
#include "core/card/card_recipient.h"
#include "core/decryptor.h"
#include "core/encryptor.h"
#include "core/memory_file.h"
#include "core/x25519_recipient.h"
#include "tests/core/vector_support.h"

namespace cardvault {
namespace {

Sha256Digest H(const std::string& s) { return Sha256(AsBytes(s)); }

X25519Identity FixedIdentity(const std::string& label) {
  Sha256Digest d = H("cardvault test vector identity: " + label);
  return X25519Identity::FromPrivateKey(SecretData::CopyFrom(d)).value();
}

Bytes Pattern(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>((i * 31 + i / 251) & 0xff);
  return b;
}

struct Made {
  Bytes blob;
  Bytes file_key;
  Bytes nonce;
  format::Metadata metadata;
};

Made EncryptTo(const std::string& name, const Bytes& plain, const std::string& path,
               std::vector<Recipient*> ptrs, std::optional<Sha256Digest> fake_hash = {},
               uint16_t version = format::kVersion1, format::Kind kind = format::Kind::kFile,
               uint32_t mode = 0600, std::optional<int64_t> recorded_ns = {}) {
  Made m;
  Sha256Digest fk = H("cardvault vector file key: " + name);
  Sha256Digest nn = H("cardvault vector nonce: " + name);
  m.file_key.assign(fk.begin(), fk.end());
  m.nonce.assign(nn.begin(), nn.begin() + 16);
  Bytes prefix = m.file_key;
  AppendBytes(prefix, m.nonce);
  FixedRandomEnv env(prefix, name);
  MemorySequentialFile src(plain);
  MemoryWritableFile sink(&m.blob);
  format::Metadata md;
  md.kind = kind;
  md.path = path;
  md.mtime_ns = 1764115200000000000;  // 2025-11-26T00:00:00Z
  md.mode = mode;
  md.recorded_ns = recorded_ns;
  md.size = plain.size();  // promised by a v2 header
  EncryptOptions opts;
  opts.env = &env;
  opts.content_sha256 = fake_hash;
  opts.version = version;
  m.metadata = EncryptStream(src, sink, ptrs, md, opts).value();
  return m;
}

Made Encrypt(const std::string& name, const Bytes& plain, const std::string& path,
             std::vector<X25519Identity*> to, std::optional<Sha256Digest> fake_hash = {},
             uint16_t version = format::kVersion1) {
  std::vector<X25519Recipient> rs;
  for (X25519Identity* id : to) rs.push_back(id->recipient());
  std::vector<Recipient*> ptrs;
  for (auto& r : rs) ptrs.push_back(&r);
  return EncryptTo(name, plain, path, ptrs, fake_hash, version);
}

// A card recipient from the public half of a software key (PEM) in the vector directory.
std::unique_ptr<CardRecipient> CardRecipientFromPem(const std::string& pem_path) {
  Bytes pem = ReadFileToBytes(*Env::Default(), pem_path).value();
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(pkey, &der);
  Bytes spki(der, der + len);
  OPENSSL_free(der);
  EVP_PKEY_free(pkey);
  return CardRecipient::New(CardPublicKey::FromSpki(spki).value()).value();
}

// Existing vector files are never rewritten: a vector, once committed, is a promise. (The
// manifest is rebuilt, but it depends only on fixed keys, nonces and plaintexts.)
void WriteFile(const std::string& path, const Bytes& data) {
  if (std::ifstream(path).good()) return;
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

Bytes BytesOf(const std::string& s) { return Bytes(s.begin(), s.end()); }

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// The DER SubjectPublicKeyInfo of the key in a PEM file (private or public).
Bytes SpkiFromPem(const std::string& pem_path) {
  Bytes pem = ReadFileToBytes(*Env::Default(), pem_path).value();
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  if (pkey == nullptr) {
    BIO_free(bio);
    bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    pkey = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  }
  BIO_free(bio);
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(pkey, &der);
  Bytes spki(der, der + len);
  OPENSSL_free(der);
  EVP_PKEY_free(pkey);
  return spki;
}

// PEM "PUBLIC KEY" text of a DER SubjectPublicKeyInfo.
Bytes PemOfSpki(const Bytes& spki) {
  const uint8_t* p = spki.data();
  EVP_PKEY* pkey = d2i_PUBKEY(nullptr, &p, static_cast<long>(spki.size()));
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, pkey);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  Bytes out(data, data + len);
  BIO_free(bio);
  EVP_PKEY_free(pkey);
  return out;
}

// A fresh key of a kind cardvault refuses, written once (later runs read it back).
Bytes RefusedKeySpki(const std::string& dir, const std::string& file, const char* type,
                     const char* arg) {
  const std::string path = dir + "/" + file;
  if (!std::ifstream(path).good()) {
    EVP_PKEY* pkey = std::string(type) == "RSA" ? EVP_PKEY_Q_keygen(nullptr, nullptr, type, 1024)
                                                : EVP_PKEY_Q_keygen(nullptr, nullptr, type, arg);
    unsigned char* der = nullptr;
    int len = i2d_PUBKEY(pkey, &der);
    WriteFile(path, PemOfSpki(Bytes(der, der + len)));
    OPENSSL_free(der);
    EVP_PKEY_free(pkey);
  }
  return SpkiFromPem(path);
}

std::string FormatKeyVector(const Vector& v) {
  static const char* kOrder[] = {"name",       "description", "expect", "type",  "identity_file",
                                 "public_key", "recipient",   "spki",   "key_id"};
  std::string out;
  for (const char* k : kOrder) {
    auto it = v.find(k);
    if (it != v.end()) out += std::string(k) + ": " + it->second + "\n";
  }
  return out;
}

// tests/vectors/keys.txt: for each key type a public key, its recipient string, its DER
// SubjectPublicKeyInfo and key id (docs/format.md "Keys, recipients and identity files"),
// identity files a reader MUST accept or refuse, and recipient strings it MUST refuse.
void WriteKeyVectors(const std::string& dir, const X25519Identity& me) {
  std::string manifest =
      "# cardvault key vectors (docs/format.md, \"Keys, recipients and identity files\"). Each\n"
      "# block names a key: its public key file, identity file (X25519), recipient string, DER\n"
      "# SubjectPublicKeyInfo and key id (the first 8 bytes of the SPKI's SHA-256), or an\n"
      "# identity file or recipient string a reader MUST refuse (expect: refused).\n\n";
  auto add = [&](Vector v) { manifest += FormatKeyVector(v) + "\n"; };
  auto key = [&](const std::string& name, const std::string& description, const std::string& type,
                 const std::string& public_key, const Bytes& spki, const std::string& recipient) {
    WriteFile(dir + "/" + public_key, PemOfSpki(spki));
    Vector v{{"name", name},
             {"description", description},
             {"expect", "ok"},
             {"type", type},
             {"public_key", public_key},
             {"recipient", recipient},
             {"spki", HexEncode(spki)},
             {"key_id", HexEncode(KeyIdFromSpki(spki))}};
    return v;
  };

  // X25519: the identity that opens the X25519 vectors, as `cardvault keygen` writes it.
  const std::string text(me.Serialize().AsStringView());
  WriteFile(dir + "/identity_primary.key", BytesOf(text));
  const X25519Recipient r = me.recipient();
  Bytes x_spki = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00};
  AppendBytes(x_spki, r.public_key());
  Vector x = key("x25519_primary",
                 "the software identity of the X25519 vectors, as cardvault keygen writes it",
                 "X25519", "x25519_primary.pub.pem", x_spki, r.ToString());
  x["identity_file"] = "identity_primary.key";
  add(x);
  for (const char* card : {"card_rsa2048", "card_p256"}) {
    const Bytes spki = SpkiFromPem(dir + "/" + card + ".pem");
    add(key(
        card,
        std::string("the card key of the ") + card + " vectors (private key in " + card + ".pem)",
        std::string(card) == "card_p256" ? "P-256" : "RSA", std::string(card) + ".pub.pem", spki,
        "cv-p11-" + HexEncode(spki)));
  }

  // Identity files: other line ends and spacing are accepted; anything else is refused.
  std::string crlf;
  for (char c : text) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  const std::string hex = text.substr(text.find("CV-X25519-SECRET-") + 17, 64);
  struct IdentityCase {
    const char* name;
    const char* description;
    std::string text;
    bool ok;
  };
  const IdentityCase identities[] = {
      {"identity_crlf", "CRLF line ends", crlf, true},
      {"identity_bare", "the key line alone, uppercase hex, indented, no final line end",
       "  CV-X25519-SECRET-" + Upper(hex), true},
      {"identity_bad_bom", "a UTF-8 byte order mark before the first line", "\xef\xbb\xbf" + text,
       false},
      {"identity_bad_short", "63 hex digits", "CV-X25519-SECRET-" + hex.substr(1) + "\n", false},
      {"identity_bad_prefix", "the prefix in lowercase", "cv-x25519-secret-" + hex + "\n", false},
      {"identity_bad_recipient", "a recipient string instead of the key line",
       "# recipient only\n" + r.ToString() + "\nCV-X25519-SECRET-" + hex + "\n", false},
      {"identity_bad_cr", "lone CR line ends (no line is a key line)",
       [&] {
         std::string cr = text;
         for (char& c : cr) c = c == '\n' ? '\r' : c;
         return cr;
       }(),
       false},
  };
  for (const IdentityCase& c : identities) {
    const std::string file = std::string(c.name) + ".key";
    WriteFile(dir + "/" + file, BytesOf(c.text));
    Vector v{{"name", c.name},
             {"description", c.description},
             {"expect", c.ok ? "ok" : "refused"},
             {"identity_file", file}};
    if (c.ok) {
      v["type"] = "X25519";
      v["recipient"] = r.ToString();
      v["spki"] = HexEncode(x_spki);
      v["key_id"] = HexEncode(KeyIdFromSpki(x_spki));
    }
    add(v);
  }

  // Recipient strings: uppercase hex digits are accepted; these are refused.
  const Bytes p256 = SpkiFromPem(dir + "/card_p256.pem");
  const std::string upper = Upper(HexEncode(p256));
  add({{"name", "recipient_uppercase_hex"},
       {"description", "cv-p11- with uppercase hex digits: the same key"},
       {"expect", "ok"},
       {"type", "P-256"},
       {"recipient", "cv-p11-" + upper},
       {"spki", HexEncode(p256)},
       {"key_id", HexEncode(KeyIdFromSpki(p256))}});
  Bytes compressed = {0x30, 0x39};  // the P-256 SPKI with its point compressed (33 bytes)
  compressed.insert(compressed.end(), p256.begin() + 2, p256.begin() + 2 + 21);
  compressed.push_back(0x03);
  compressed.push_back(0x22);
  compressed.push_back(0x00);
  compressed.push_back(static_cast<uint8_t>(0x02 | (p256.back() & 1)));
  compressed.insert(compressed.end(), p256.begin() + 27, p256.begin() + 59);
  Bytes long_form = {0x30, 0x81};  // the P-256 SPKI with a long-form outer length
  long_form.insert(long_form.end(), p256.begin() + 1, p256.end());
  Bytes explicit_curve;  // the P-256 SPKI with explicit curve parameters
  {
    const Bytes pem = ReadFileToBytes(*Env::Default(), dir + "/card_p256.pem").value();
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    EVP_PKEY_set_utf8_string_param(pkey, OSSL_PKEY_PARAM_EC_ENCODING,
                                   OSSL_PKEY_EC_ENCODING_EXPLICIT);
    unsigned char* der = nullptr;
    int len = i2d_PUBKEY(pkey, &der);
    explicit_curve.assign(der, der + len);
    OPENSSL_free(der);
    EVP_PKEY_free(pkey);
  }
  Bytes trailing = p256;
  trailing.push_back(0x00);
  const Bytes rsa1024 = RefusedKeySpki(dir, "refused_rsa1024.pub.pem", "RSA", nullptr);
  const Bytes p384 = RefusedKeySpki(dir, "refused_p384.pub.pem", "EC", "P-384");
  const std::string x_hex = HexEncode(r.public_key());
  const std::array<std::array<std::string, 3>, 12> refused = {{
      {"p256_compressed", "a P-256 key with a compressed point", "cv-p11-" + HexEncode(compressed)},
      {"p256_explicit_curve", "a P-256 key with explicit curve parameters (not the named curve)",
       "cv-p11-" + HexEncode(explicit_curve)},
      {"long_form_length", "DER with a long-form length (not canonical)",
       "cv-p11-" + HexEncode(long_form)},
      {"trailing_byte", "a byte after the SubjectPublicKeyInfo", "cv-p11-" + HexEncode(trailing)},
      {"rsa1024", "an RSA key of 1024 bits (refused_rsa1024.pub.pem)",
       "cv-p11-" + HexEncode(rsa1024)},
      {"p384", "an EC key on P-384 (refused_p384.pub.pem)", "cv-p11-" + HexEncode(p384)},
      {"p11_uppercase_prefix", "the card prefix in uppercase", "CV-P11-" + HexEncode(p256)},
      {"odd_hex", "an odd number of hex digits", "cv-p11-" + HexEncode(p256).substr(1)},
      {"x25519_short", "an X25519 key of 31 bytes", "cv-x25519-" + x_hex.substr(2)},
      {"x25519_long", "an X25519 key of 33 bytes", "cv-x25519-" + x_hex + "00"},
      {"x25519_uppercase_prefix", "the X25519 prefix in uppercase", "CV-X25519-" + x_hex},
      {"inner_space", "a space after the prefix", "cv-x25519- " + x_hex},
  }};
  for (const auto& [name, description, text_of] : refused) {
    add({{"name", "recipient_bad_" + name},
         {"description", description},
         {"expect", "refused"},
         {"recipient", text_of}});
  }
  std::ofstream(dir + "/keys.txt") << manifest;
}

int Main(const std::string& dir) {
  X25519Identity me = FixedIdentity("primary");
  X25519Identity other = FixedIdentity("other");
  std::string manifest =
      "# cardvault format test vectors, v1 and v2 (docs/format.md). Each block names a blob, the\n"
      "# identity that opens it, the file key and payload nonce it was made with, and what\n"
      "# decrypting it MUST give: \"ok\" (then path, size, sha256 and the plaintext file) or\n"
      "# the error reason a conforming reader MUST report.\n\n";
  auto add = [&](const std::string& name, const std::string& description, const std::string& expect,
                 const Made& m, const Bytes& blob, const Bytes* plain) {
    Vector v;
    v["name"] = name;
    v["description"] = description;
    v["expect"] = expect;
    v["blob"] = name + ".cvb";
    WriteFile(dir + "/" + name + ".cvb", blob);
    if (plain != nullptr) {
      v["plaintext"] = name + ".plain";
      WriteFile(dir + "/" + name + ".plain", *plain);
      v["path"] = m.metadata.path;
      v["size"] = std::to_string(m.metadata.size);
      v["sha256"] = HexEncode(m.metadata.sha256);
      if (m.metadata.recorded_ns.has_value()) {
        v["recorded"] = std::to_string(*m.metadata.recorded_ns);
      }
      if (m.metadata.kind != format::Kind::kFile) {  // vectors of other kinds name it
        v["kind"] = std::to_string(static_cast<int>(m.metadata.kind));
        char mode[16];
        std::snprintf(mode, sizeof mode, "%04o", m.metadata.mode);
        v["mode"] = mode;
      }
    }
    std::string text(me.Serialize().AsStringView());
    v["identity"] = text.substr(text.find("CV-X25519-SECRET-"), 17 + 64);
    v["file_key"] = HexEncode(m.file_key);
    v["payload_nonce"] = HexEncode(m.nonce);
    manifest += FormatVector(v) + "\n";
  };

  const size_t kChunk = format::kChunkSize;
  Bytes empty;
  Bytes hello = Bytes(AsBytes("hello, cardvault\n").begin(), AsBytes("hello, cardvault\n").end());
  Bytes one_chunk = Pattern(kChunk);
  Bytes multi = Pattern(2 * kChunk + 17);

  Made m_empty = Encrypt("ok_empty", empty, "empty", {&me});
  add("ok_empty", "an empty file: one empty final chunk", "ok", m_empty, m_empty.blob, &empty);
  Made m_hello = Encrypt("ok_small", hello, "notes/hello.txt", {&me});
  add("ok_small", "a short file in one final chunk", "ok", m_hello, m_hello.blob, &hello);
  Made m_one = Encrypt("ok_one_chunk", one_chunk, "one chunk.bin", {&me});
  add("ok_one_chunk", "exactly 65536 bytes: one full final chunk", "ok", m_one, m_one.blob,
      &one_chunk);
  Made m_multi = Encrypt("ok_multi", multi, "keys/ünïcode dir/id_ed25519", {&me});
  add("ok_multi", "two full chunks and a 17-byte final chunk, UTF-8 path", "ok", m_multi,
      m_multi.blob, &multi);
  Made m_two = Encrypt("ok_two_recipients", hello, "two.txt", {&other, &me});
  add("ok_two_recipients", "two stanzas; the identity matches the second", "ok", m_two, m_two.blob,
      &hello);

  const size_t h = format::kPreambleSize + LoadU32(m_multi.blob.data() + 10);
  const size_t sealed = kChunk + format::kTagSize;
  auto mutate = [&](const std::string& name, const std::string& description,
                    const std::string& expect, std::function<void(Bytes&)> f) {
    Bytes b = m_multi.blob;
    f(b);
    add(name, description, expect, m_multi, b, nullptr);
  };
  mutate("bad_magic", "first byte changed", "bad_magic", [](Bytes& b) { b[0] = 'X'; });
  // Written when only v1 existed, this vector expected "unsupported_version". Since v2, a
  // v1 header relabelled 2 parses and then fails its MAC, which covers the version.
  mutate("unsupported_version",
         "version field set to 2: the MAC covers the version (expected unsupported_version "
         "before v2 existed)",
         "header_mac_mismatch", [](Bytes& b) { b[9] = 2; });
  mutate("unsupported_version_3", "version field set to 3", "unsupported_version",
         [](Bytes& b) { b[9] = 3; });
  mutate("truncated_header", "cut inside the header", "truncated_header",
         [](Bytes& b) { b.resize(40); });
  mutate("header_too_large", "header length field set to 1 MiB", "header_too_large",
         [](Bytes& b) { StoreU32(b.data() + 10, 1u << 20); });
  mutate("too_many_stanzas", "stanza count set to 65", "too_many_stanzas",
         [](Bytes& b) { b[format::kPreambleSize + 16] = 65; });
  mutate("header_mac_mismatch", "a payload-nonce byte flipped", "header_mac_mismatch",
         [](Bytes& b) { b[format::kPreambleSize + 3] ^= 0x01; });
  mutate("stanza_unwrap_failed", "last byte of the stanza body flipped", "stanza_unwrap_failed",
         [&](Bytes& b) {
           // nonce(16) count(1) type_len(1) "X25519"(6) id_len(1) id(8) argc(1) len(2) arg(32)
           // body_len(2) body(40)
           b[format::kPreambleSize + 16 + 1 + 1 + 6 + 1 + 8 + 1 + 2 + 32 + 2 + 39] ^= 0x80;
         });
  mutate("chunk_auth_failed", "a byte of the second chunk flipped", "chunk_auth_failed",
         [&](Bytes& b) { b[h + sealed + 100] ^= 0x04; });
  mutate("chunk_out_of_order", "first and second chunks swapped", "chunk_out_of_order",
         [&](Bytes& b) {
           std::swap_ranges(b.begin() + static_cast<ptrdiff_t>(h),
                            b.begin() + static_cast<ptrdiff_t>(h + sealed),
                            b.begin() + static_cast<ptrdiff_t>(h + sealed));
         });
  mutate("missing_final_chunk", "cut after the second chunk", "missing_final_chunk",
         [&](Bytes& b) { b.resize(h + 2 * sealed); });
  mutate("truncated", "cut inside the final chunk", "truncated",
         [&](Bytes& b) { b.resize(b.size() - 5); });
  mutate("trailing_data", "one byte appended", "trailing_data", [](Bytes& b) { b.push_back(0); });

  Made m_other = Encrypt("no_matching_stanza", hello, "x", {&other});
  add("no_matching_stanza", "wrapped only to another key", "no_matching_stanza", m_other,
      m_other.blob, nullptr);
  Made m_hash = Encrypt("content_hash_mismatch", hello, "x", {&me}, H("not the content"));
  add("content_hash_mismatch", "metadata SHA-256 differs from the content", "content_hash_mismatch",
      m_hash, m_hash.blob, nullptr);

  // Version 2: the content hash sealed in a trailer after the payload.
  Made v2_empty = Encrypt("ok_v2_empty", empty, "empty", {&me}, {}, format::kVersion2);
  add("ok_v2_empty", "v2: an empty file: one empty final chunk, then the trailer", "ok", v2_empty,
      v2_empty.blob, &empty);
  Made v2 = Encrypt("ok_v2_multi", multi, "disk images/ünïcode.iso", {&me}, {}, format::kVersion2);
  add("ok_v2_multi", "v2: two full chunks, a 17-byte final chunk and the trailer", "ok", v2,
      v2.blob, &multi);
  auto mutate_v2 = [&](const std::string& name, const std::string& description,
                       const std::string& expect, std::function<void(Bytes&)> f) {
    Bytes b = v2.blob;
    f(b);
    add(name, description, expect, v2, b, nullptr);
  };
  mutate_v2("v2_trailer_corrupt", "v2: a bit of the trailer flipped", "trailer_corrupt",
            [](Bytes& b) { b[b.size() - 20] ^= 0x10; });
  mutate_v2("v2_trailer_missing", "v2: cut after the final chunk", "truncated",
            [](Bytes& b) { b.resize(b.size() - format::kTrailerSize); });
  mutate_v2("v2_truncated_trailer", "v2: cut inside the trailer", "truncated",
            [](Bytes& b) { b.resize(b.size() - 1); });
  mutate_v2("v2_trailing_data", "v2: one byte after the trailer", "trailing_data",
            [](Bytes& b) { b.push_back(0); });
  mutate_v2(
      "v2_missing_final_chunk", "v2: the final chunk and trailer cut off", "missing_final_chunk",
      [&](Bytes& b) { b.resize(format::kPreambleSize + LoadU32(b.data() + 10) + 2 * sealed); });
  Made v2_hash = Encrypt("v2_content_hash_mismatch", hello, "x", {&me}, H("not the content"),
                         format::kVersion2);
  add("v2_content_hash_mismatch", "v2: the trailer's SHA-256 differs from the content",
      "content_hash_mismatch", v2_hash, v2_hash.blob, nullptr);
  {
    // A v2 header whose metadata carries a hash (v1's encoding), correctly sealed and MACed.
    MemorySequentialFile src(v2.blob);
    format::Header header = ReadHeader(src).value();
    const size_t old_header = format::kPreambleSize + LoadU32(v2.blob.data() + 10);
    SecretData file_key = SecretData::CopyFrom(v2.file_key);
    SecretData metadata_key = format::DeriveMetadataKey(file_key, header).value();
    format::Metadata with_hash = v2.metadata;
    header.metadata_ciphertext =
        format::SealMetadata(metadata_key, with_hash, format::kVersion1).value();
    if (!format::SealHeader(file_key, header).ok()) std::abort();
    Bytes b = format::SerializeHeader(header);
    b.insert(b.end(), v2.blob.begin() + static_cast<ptrdiff_t>(old_header), v2.blob.end());
    add("v2_metadata_with_hash", "v2: the header's metadata holds a sha256 entry (v1's encoding)",
        "metadata_malformed", v2, b, nullptr);
  }

  // Card stanza types, wrapped to software keys whose private halves are committed beside
  // the vectors (card_*.pem), so the card formats can be checked without a card.
  auto add_card = [&](const std::string& name, const std::string& description,
                      const std::string& expect, const std::string& pem, const Made& m,
                      const Bytes& blob, const Bytes* plain) {
    const size_t before = manifest.size();
    add(name, description, expect, m, blob, plain);
    // The block just added names the X25519 identity; point it at the card key instead.
    std::string block = manifest.substr(before);
    size_t at = block.find("identity: ");
    size_t eol = block.find('\n', at);
    block.replace(at, eol - at, "card_key: " + pem);
    manifest.resize(before);
    manifest += block;
  };
  for (const char* key : {"card_rsa2048", "card_p256"}) {
    const std::string pem = std::string(key) + ".pem";
    auto card = CardRecipientFromPem(dir + "/" + pem);
    const std::string name = std::string("ok_") + key;
    Made made = EncryptTo(name, multi, "keys/from a card", {card.get()});
    add_card(name, std::string("wrapped to a ") + key + " card key (private key in " + pem + ")",
             "ok", pem, made, made.blob, &multi);
    Bytes tampered = made.blob;
    tampered[format::kPreambleSize + 16 + 1 + 1 + (std::string(key) == "card_p256" ? 13 : 17) + 1 +
             8 + 1 + 4] ^= 0x01;
    add_card(std::string("stanza_unwrap_failed_") + key, "a bit of the card stanza flipped",
             "stanza_unwrap_failed", pem, made, tampered, nullptr);
  }

  // Metadata kinds: a directory record, and a kind no reader knows yet, which a reader MUST
  // still decrypt (and then skip where it acts on kinds).
  X25519Recipient to_me = me.recipient();
  Made directory = EncryptTo("ok_directory", empty, "notes/drafts", {&to_me}, {}, format::kVersion1,
                             format::Kind::kDirectory, 0750);
  add("ok_directory", "a directory record (kind 4): its path and mode, empty plaintext", "ok",
      directory, directory.blob, &empty);
  Made unknown = EncryptTo("ok_unknown_kind", hello, "from/a later version", {&to_me}, {},
                           format::kVersion1, static_cast<format::Kind>(200), 0600);
  add("ok_unknown_kind", "a kind no reader knows yet (200): it decrypts; callers skip it", "ok",
      unknown, unknown.blob, &hello);

  // The optional `recorded` entry (7), in both versions.
  constexpr int64_t kRecorded = 1795770000123456789;  // 2026-11-27T09:00:00.123456789Z
  for (uint16_t version : {format::kVersion1, format::kVersion2}) {
    const std::string name = version == format::kVersion1 ? "ok_recorded" : "ok_v2_recorded";
    Made made = EncryptTo(name, multi, "notes/recorded.txt", {&to_me}, {}, version,
                          format::Kind::kFile, 0600, kRecorded);
    add(name,
        std::string(version == format::kVersion1 ? "v1" : "v2") +
            ": metadata with the optional recorded entry (tag 7)",
        "ok", made, made.blob, &multi);
  }

  std::ofstream(dir + "/vectors.txt") << manifest;
  WriteKeyVectors(dir, me);
  std::cout << "wrote vectors to " << dir << "\n";
  return 0;
}

}  // namespace
}  // namespace cardvault

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: generate_vectors DIR\n";
    return 2;
  }
  return cardvault::Main(argv[1]);
}
