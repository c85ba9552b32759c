// Checks tests/vectors/keys.txt against the code: each key's recipient string parses to
// the committed SubjectPublicKeyInfo and key id, its stanzas carry that key id, its public
// key file gives that recipient string, an X25519 identity file yields its recipient, and
// every identity file or recipient string the manifest marks "refused" is refused
// (docs/format.md, "Keys, recipients and identity files").
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <set>

#include "core/card/card_recipient.h"
#include "core/card/recipient_parser.h"
#include "core/decryptor.h"
#include "core/memory_file.h"
#include "core/x25519_recipient.h"
#include "tests/core/vector_support.h"

namespace cardvault {
namespace {

const std::string kDir = std::string(CARDVAULT_SOURCE_DIR) + "/tests/vectors/";

Bytes Load(const std::string& name) {
  return ReadFileToBytes(*Env::Default(), kDir + name).value();
}

std::vector<Vector> Manifest(const std::string& name) {
  Bytes text = Load(name);
  return ParseVectors(std::string(text.begin(), text.end()));
}

Vector Named(const std::string& name) {
  for (const Vector& v : Manifest("keys.txt")) {
    if (v.at("name") == name) return v;
  }
  ADD_FAILURE() << "keys.txt has no " << name;
  return {};
}

const char* StanzaTypeOf(const std::string& key_type) {
  if (key_type == "X25519") return kX25519StanzaType;
  return key_type == "RSA" ? "p11-rsa-oaep-sha1" : "p11-ecdh-p256";
}

// The recipient string of a PEM "PUBLIC KEY" file, as the code builds it from the key.
std::string RecipientOfPublicKeyFile(const std::string& file, const std::string& key_type) {
  Bytes pem = Load(file);
  if (key_type != "X25519") {
    return CardRecipient::New(CardPublicKey::FromSpki(pem).value()).value()->ToString();
  }
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* pkey = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  X25519PublicKey raw{};
  size_t len = raw.size();
  const bool ok = pkey != nullptr && EVP_PKEY_get_raw_public_key(pkey, raw.data(), &len) == 1;
  EVP_PKEY_free(pkey);
  if (!ok || len != raw.size()) return "(not an X25519 public key)";
  return X25519Recipient::New(raw).value().ToString();
}

// The DER SubjectPublicKeyInfo the code hashes for a recipient string's key id.
std::string SpkiOf(const std::string& recipient, const std::string& key_type) {
  if (key_type != "X25519")
    return HexEncode(CardRecipient::Parse(recipient).value()->public_key().spki());
  X25519Recipient r = X25519Recipient::Parse(recipient).value();
  return "302a300506032b656e032100" + HexEncode(r.public_key());  // RFC 8410, as documented
}

TEST(KeyVectorsTest, ManifestCoversEveryKeyTypeAndRefusal) {
  std::set<std::string> types, refused;
  for (const Vector& v : Manifest("keys.txt")) {
    if (v.at("expect") == "ok" && v.count("public_key")) types.insert(v.at("type"));
    if (v.at("expect") == "refused") refused.insert(v.count("identity_file") ? "id" : "recipient");
  }
  EXPECT_EQ(types, (std::set<std::string>{"X25519", "RSA", "P-256"}));
  EXPECT_EQ(refused, (std::set<std::string>{"id", "recipient"}));
}

class KeyVectorTest : public ::testing::TestWithParam<Vector> {};

TEST_P(KeyVectorTest, MatchesTheCode) {
  const Vector& v = GetParam();
  const bool ok = v.at("expect") == "ok";
  if (v.count("identity_file")) {
    Bytes text = Load(v.at("identity_file"));
    StatusOr<X25519Identity> id = X25519Identity::Parse(AsStringView(text));
    ASSERT_EQ(id.ok(), ok) << id.status().ToString();
    if (ok) {
      EXPECT_EQ(id->recipient().ToString(), v.at("recipient"));
      EXPECT_EQ(HexEncode(id->recipient().key_id()), v.at("key_id"));
    }
  }
  if (!v.count("recipient")) return;
  StatusOr<std::unique_ptr<Recipient>> parsed = ParseRecipient(v.at("recipient"));
  if (!ok) {
    EXPECT_FALSE(parsed.ok()) << v.at("recipient");
    EXPECT_EQ(parsed.status().reason(), "recipient_invalid");
    EXPECT_TRUE(RecipientKeyId(v.at("recipient")).empty());
    return;
  }
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  // The key id the code derives, the documented derivation over the committed SPKI, and
  // the committed key id agree.
  EXPECT_EQ(HexEncode(RecipientKeyId(v.at("recipient"))), v.at("key_id"));
  EXPECT_EQ(SpkiOf(v.at("recipient"), v.at("type")), v.at("spki"));
  EXPECT_EQ(HexEncode(Sha256(HexDecode(v.at("spki")).value())).substr(0, 16), v.at("key_id"));
  // Stanzas wrapped to the recipient carry that key id and the documented type.
  SecretData file_key(32);
  StatusOr<std::vector<Stanza>> stanzas = (*parsed)->Wrap(file_key);
  ASSERT_TRUE(stanzas.ok()) << stanzas.status().ToString();
  ASSERT_EQ(stanzas->size(), 1u);
  EXPECT_EQ((*stanzas)[0].type, StanzaTypeOf(v.at("type")));
  EXPECT_EQ(HexEncode((*stanzas)[0].key_id), v.at("key_id"));
  if (v.count("public_key")) {
    EXPECT_EQ(RecipientOfPublicKeyFile(v.at("public_key"), v.at("type")), v.at("recipient"));
  }
}

std::string VectorName(const ::testing::TestParamInfo<Vector>& info) {
  return info.param.at("name");
}

INSTANTIATE_TEST_SUITE_P(Committed, KeyVectorTest, ::testing::ValuesIn(Manifest("keys.txt")),
                         VectorName);

// A P-256 key read with a compressed point or explicit curve parameters has the key id of
// its canonical SPKI (the one a card's attributes give), so the card matches stanzas
// wrapped to it; as recipient strings both forms are refused (keys.txt).
TEST(KeyVectorsTest, EveryFormOfAP256KeyHasTheCanonicalKeyId) {
  const Vector key = Named("card_p256");
  for (const char* name : {"recipient_bad_p256_compressed", "recipient_bad_p256_explicit_curve"}) {
    const std::string text = Named(name).at("recipient");
    const std::string hex = text.substr(std::string("cv-p11-").size());
    StatusOr<CardPublicKey> parsed = CardPublicKey::FromSpki(HexDecode(hex).value());
    ASSERT_TRUE(parsed.ok()) << name << ": " << parsed.status().ToString();
    EXPECT_EQ(HexEncode(parsed->spki()), key.at("spki")) << name;
    EXPECT_EQ(HexEncode(parsed->key_id()), key.at("key_id")) << name;
  }
}

// The committed identity file is byte for byte what `cardvault keygen` writes for its key,
// and it is the identity that opens the X25519 blob vectors.
TEST(KeyVectorsTest, IdentityFileIsWhatKeygenWritesAndOpensTheVectors) {
  const Vector key = Named("x25519_primary");
  Bytes file = Load(key.at("identity_file"));
  X25519Identity id = X25519Identity::Parse(AsStringView(file)).value();
  EXPECT_EQ(AsStringView(id.Serialize().span()), AsStringView(file));
  EXPECT_EQ(X25519Identity::Parse(AsStringView(file)).value().recipient().ToString(),
            key.at("recipient"));

  Bytes blob = Load("ok_small.cvb");
  MemorySequentialFile src(blob);
  format::Header header = ReadHeader(src).value();
  StatusOr<SecretData> file_key = UnwrapFileKey(header, id);
  ASSERT_TRUE(file_key.ok()) << file_key.status().ToString();
}

// Every blob vector's stanzas name their keys by the committed key ids.
TEST(KeyVectorsTest, BlobStanzasCarryTheCommittedKeyIds) {
  const std::map<std::string, std::string> key_of = {{"card_rsa2048.pem", "card_rsa2048"},
                                                     {"card_p256.pem", "card_p256"}};
  for (const Vector& v : Manifest("vectors.txt")) {
    if (v.at("expect") != "ok") continue;
    const Vector key = Named(v.count("card_key") ? key_of.at(v.at("card_key")) : "x25519_primary");
    Bytes blob = Load(v.at("blob"));
    MemorySequentialFile src(blob);
    format::Header header = ReadHeader(src).value();
    bool found = false;
    for (const Stanza& s : header.stanzas) {
      found |= s.type == StanzaTypeOf(key.at("type")) && HexEncode(s.key_id) == key.at("key_id");
    }
    EXPECT_TRUE(found) << v.at("name") << " has no " << StanzaTypeOf(key.at("type"))
                       << " stanza with key id " << key.at("key_id");
  }
}

}  // namespace
}  // namespace cardvault
