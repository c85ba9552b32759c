// ParseRecipient and CardRecipient::Parse: recipient strings for software and card keys.
#include "core/card/recipient_parser.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "core/card/card_recipient.h"
#include "core/card/card_stanza.h"
#include "core/crypto.h"
#include "core/x25519_recipient.h"

namespace cardvault {
namespace {

// DER SubjectPublicKeyInfo of a fresh software key ("RSA" with `bits`, or "EC" P-256).
Bytes NewSpki(const char* type, size_t bits) {
  EVP_PKEY* pkey = std::string(type) == "RSA" ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", bits)
                                              : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  EXPECT_NE(pkey, nullptr);
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(pkey, &der);
  Bytes out(der, der + len);
  OPENSSL_free(der);
  EVP_PKEY_free(pkey);
  return out;
}

TEST(RecipientParserTest, CardRecipientRoundTripsAndWrapsByKeyType) {
  struct Case {
    const char* type;
    size_t bits;
    const char* stanza;
  };
  for (const Case& c :
       {Case{"RSA", 2048, kStanzaTypeRsaOaepSha1}, Case{"EC", 256, kStanzaTypeEcdhP256}}) {
    Bytes spki = NewSpki(c.type, c.bits);
    std::string text = "cv-p11-" + HexEncode(spki);
    StatusOr<std::unique_ptr<CardRecipient>> card = CardRecipient::Parse("  " + text + "\n");
    ASSERT_TRUE(card.ok()) << card.status().ToString();
    EXPECT_EQ((*card)->ToString(), text);
    EXPECT_EQ((*card)->public_key().key_id(), KeyIdFromSpki(spki));

    StatusOr<std::unique_ptr<Recipient>> any = ParseRecipient(text);
    ASSERT_TRUE(any.ok()) << any.status().ToString();
    SecretData file_key(32);
    StatusOr<std::vector<Stanza>> stanzas = (*any)->Wrap(file_key);
    ASSERT_TRUE(stanzas.ok()) << stanzas.status().ToString();
    ASSERT_EQ(stanzas->size(), 1u);
    EXPECT_EQ((*stanzas)[0].type, c.stanza);
    EXPECT_EQ((*stanzas)[0].key_id, KeyIdFromSpki(spki));

    std::string kind;
    EXPECT_EQ(RecipientKeyId(text, &kind), KeyIdFromSpki(spki));
    EXPECT_EQ(kind, std::string(c.type) == "RSA" ? "card RSA-2048" : "card P-256");
  }
}

TEST(RecipientParserTest, ParsesX25519) {
  StatusOr<X25519Identity> id = X25519Identity::Generate();
  ASSERT_TRUE(id.ok());
  std::string text = id->recipient().ToString();
  StatusOr<std::unique_ptr<Recipient>> any = ParseRecipient(text + "\n");
  ASSERT_TRUE(any.ok()) << any.status().ToString();
  SecretData file_key(32);
  StatusOr<std::vector<Stanza>> stanzas = (*any)->Wrap(file_key);
  ASSERT_TRUE(stanzas.ok());
  EXPECT_EQ((*stanzas)[0].type, kX25519StanzaType);
  std::string kind;
  EXPECT_EQ(RecipientKeyId(text, &kind), id->recipient().key_id());
  EXPECT_EQ(kind, "X25519 (software key)");
}

TEST(RecipientParserTest, RejectsMalformedRecipients) {
  Bytes spki = NewSpki("EC", 256);
  Bytes trailing = spki;
  trailing.push_back(0);
  Bytes truncated(spki.begin(), spki.end() - 1);
  Bytes weak = NewSpki("RSA", 1024);
  for (const std::string& text :
       {std::string(""), std::string("cv-p11-"), std::string("cv-p11-zz"), std::string("age1qqqq"),
        "cv-p11-" + HexEncode(trailing), "cv-p11-" + HexEncode(truncated),
        "cv-p11-" + HexEncode(weak), "cv-x25519-" + std::string(63, 'a'),
        "cv-p11-" + HexEncode(spki) + " extra"}) {
    StatusOr<std::unique_ptr<Recipient>> r = ParseRecipient(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << text;
    EXPECT_EQ(r.status().reason(), "recipient_invalid") << text;
    EXPECT_TRUE(RecipientKeyId(text).empty()) << text;
  }
  EXPECT_NE(ParseRecipient("nonsense").status().message().find("cv-p11-"), std::string::npos);
}

}  // namespace
}  // namespace cardvault
