// Tests for token listing and selection, public key reading and on-card key generation.
#include "core/pkcs11/card_key.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <cstring>
#include <fstream>
#include <iterator>

#include "core/crypto.h"
#include "core/pkcs11/card_key_generator.h"
#include "core/pkcs11/card_slot.h"
#include "core/pkcs11/card_token.h"
#include "core/pkcs11/pkcs11_status.h"
#include "tests/core/pkcs11/softhsm_test_base.h"

namespace cardvault {
namespace {

class CardKeyTest : public SoftHsmTest {
 protected:
  void TearDown() override {
    module_.reset();
    SoftHsmTest::TearDown();
  }

  std::shared_ptr<Pkcs11Module> Module() {
    if (!module_) {
      auto m = Pkcs11Module::Open(kSoftHsmModule);
      EXPECT_TRUE(m.ok()) << m.status().ToString();
      module_ = *m;
    }
    return module_;
  }

  std::unique_ptr<Pkcs11Session> OpenSession(const std::string& label, bool login) {
    auto token = CardToken::Find(*Module(), {label, ""});
    EXPECT_TRUE(token.ok()) << token.status().ToString();
    auto session = Pkcs11Session::Open(Module(), token->slot, Pkcs11Session::Mode::kReadWrite);
    EXPECT_TRUE(session.ok()) << session.status().ToString();
    if (login) {
      SecretData pin = SecretData::CopyFrom(std::string_view(kUserPin));
      EXPECT_TRUE((*session)->Login(&pin).ok());
    }
    return std::move(session).value();
  }

  CardKey Generate(const std::string& token, CardKeyAlgorithm algorithm, const std::string& label) {
    auto session = OpenSession(token, /*login=*/true);
    auto key = CardKeyGenerator::Generate(*session, {algorithm, label, {}});
    EXPECT_TRUE(key.ok()) << key.status().ToString();
    return std::move(key).value();
  }

  // The public key as an independent client (OpenSC's pkcs11-tool) exports it.
  Bytes ExportWithPkcs11Tool(const std::string& token, const std::string& label) {
    std::string der = dir() + "/" + label + ".der";
    int rc =
        Run(std::string("pkcs11-tool --module ") + kSoftHsmModule + " --token-label '" + token +
            "' --read-object --type pubkey --label '" + label + "' -o " + der + " >/dev/null 2>&1");
    EXPECT_EQ(rc, 0);
    std::ifstream in(der, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), {});
  }

 private:
  std::shared_ptr<Pkcs11Module> module_;
};

TEST_F(CardKeyTest, ListsTokensWithFlags) {
  std::string serial = InitToken("alpha");
  auto tokens = CardToken::List(*Module());
  ASSERT_TRUE(tokens.ok()) << tokens.status().ToString();
  ASSERT_EQ(tokens->size(), 2u);  // alpha and SoftHSM's spare uninitialized token
  const CardToken& alpha = tokens->front().label == "alpha" ? tokens->front() : tokens->back();
  EXPECT_EQ(alpha.label, "alpha");
  EXPECT_EQ(alpha.serial, serial);
  EXPECT_EQ(alpha.model, "SoftHSM v2");
  EXPECT_TRUE(alpha.initialized());
  EXPECT_TRUE(alpha.login_required());
  EXPECT_FALSE(alpha.protected_authentication_path());
  EXPECT_FALSE(alpha.pin_locked());
}

TEST_F(CardKeyTest, ListsSlotsIncludingEmptyOnes) {
  InitToken("alpha");
  auto slots = CardSlot::List(*Module());
  ASSERT_TRUE(slots.ok()) << slots.status().ToString();
  ASSERT_EQ(slots->size(), 2u);  // alpha's slot and the spare one
  for (const CardSlot& slot : *slots) {
    EXPECT_TRUE(slot.token_present());
    EXPECT_EQ(slot.manufacturer, "SoftHSM project");
    EXPECT_EQ(slot.description.rfind("SoftHSM slot ID", 0), 0u) << slot.description;
  }
  auto tokens = CardToken::List(*Module());
  ASSERT_TRUE(tokens.ok());
  EXPECT_TRUE((*slots)[0].id == (*tokens)[0].slot || (*slots)[1].id == (*tokens)[0].slot);
}

TEST_F(CardKeyTest, FindsTokenByLabelOrSerial) {
  std::string alpha = InitToken("alpha");
  std::string beta = InitToken("beta");
  ASSERT_NE(alpha, beta);
  auto by_label = CardToken::Find(*Module(), {"beta", ""});
  ASSERT_TRUE(by_label.ok()) << by_label.status().ToString();
  EXPECT_EQ(by_label->serial, beta);
  auto by_serial = CardToken::Find(*Module(), {"", alpha});
  ASSERT_TRUE(by_serial.ok());
  EXPECT_EQ(by_serial->label, "alpha");
  auto both_mismatch = CardToken::Find(*Module(), {"alpha", beta});
  EXPECT_EQ(both_mismatch.status().reason(), "card_absent");
  auto absent = CardToken::Find(*Module(), {"gamma", ""});
  EXPECT_EQ(absent.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(absent.status().reason(), "card_absent");
  auto any = CardToken::Find(*Module(), {});
  EXPECT_EQ(any.status().reason(), "ambiguous_token");
}

TEST_F(CardKeyTest, EmptyTokenHasNoKeyAndTheCardLayerGivesNoCardInitAdvice) {
  InitToken("alpha");
  auto session = OpenSession("alpha", /*login=*/false);
  auto key = CardKey::Find(*session, {});
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(key.status().reason(), "no_key_on_card");
  EXPECT_NE(key.status().message().find("the card shows no key"), std::string::npos)
      << key.status().ToString();
  EXPECT_EQ(key.status().message().find("card init"), std::string::npos);
}

TEST_F(CardKeyTest, GeneratedRsaKeyIsSensitiveAndReadableWithoutLogin) {
  InitToken("alpha");
  CardKey generated = Generate("alpha", CardKeyAlgorithm::kRsa2048, "vault");
  ASSERT_TRUE(generated.public_key.has_value());
  EXPECT_EQ(generated.public_key->type(), CardKeyType::kRsa);
  EXPECT_EQ(generated.public_key->bits(), 2048);
  EXPECT_EQ(generated.id.size(), 16u);

  // A fresh session without login sees the public key and the same key id.
  auto session = OpenSession("alpha", /*login=*/false);
  auto found = CardKey::Find(*session, {"vault", {}});
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(found->id, generated.id);
  EXPECT_EQ(found->public_key->key_id(), generated.public_key->key_id());
  EXPECT_EQ(found->public_key->key_id(), KeyIdFromSpki(found->public_key->spki()));
  // ... but not the private key, which is a private object.
  EXPECT_EQ(CardKey::FindPrivateHandle(*session, generated.id).status().reason(), "no_key_on_card");

  // Logged in, the private half has the same id and label and cannot leave the card.
  auto logged_in = OpenSession("alpha", /*login=*/true);
  auto priv = CardKey::FindPrivateHandle(*logged_in, generated.id);
  ASSERT_TRUE(priv.ok()) << priv.status().ToString();
  EXPECT_TRUE(logged_in->GetBoolAttribute(*priv, CKA_SENSITIVE).value());
  EXPECT_FALSE(logged_in->GetBoolAttribute(*priv, CKA_EXTRACTABLE).value());
  EXPECT_TRUE(logged_in->GetBoolAttribute(*priv, CKA_TOKEN).value());
  EXPECT_TRUE(logged_in->GetBoolAttribute(*priv, CKA_NEVER_EXTRACTABLE).value());
  Bytes label = logged_in->GetAttribute(*priv, CKA_LABEL).value();
  EXPECT_EQ(std::string(label.begin(), label.end()), "vault");
  EXPECT_FALSE(logged_in->GetAttribute(*priv, CKA_PRIVATE_EXPONENT).ok());
}

TEST_F(CardKeyTest, GeneratedEcKeyDerivesOnlyAndStaysOnTheCard) {
  InitToken("alpha");
  CardKey generated = Generate("alpha", CardKeyAlgorithm::kEcP256, "vault-ec");
  ASSERT_TRUE(generated.public_key.has_value());
  EXPECT_EQ(generated.public_key->type(), CardKeyType::kEcP256);
  auto session = OpenSession("alpha", /*login=*/true);
  auto priv = CardKey::FindPrivateHandle(*session, generated.id);
  ASSERT_TRUE(priv.ok()) << priv.status().ToString();
  EXPECT_TRUE(session->GetBoolAttribute(*priv, CKA_DERIVE).value());
  EXPECT_TRUE(session->GetBoolAttribute(*priv, CKA_SENSITIVE).value());
  EXPECT_FALSE(session->GetBoolAttribute(*priv, CKA_EXTRACTABLE).value());
  EXPECT_TRUE(session->GetBoolAttribute(*priv, CKA_TOKEN).value());
  EXPECT_FALSE(session->GetAttribute(*priv, CKA_VALUE).ok());
  Bytes label = session->GetAttribute(*priv, CKA_LABEL).value();
  EXPECT_EQ(std::string(label.begin(), label.end()), "vault-ec");
}

// Generated keys carry only the usages cardvault needs: no signing, no wrapping.
TEST_F(CardKeyTest, GeneratedKeysDecryptOrDeriveButNeverSign) {
  InitToken("alpha");
  CardKey rsa = Generate("alpha", CardKeyAlgorithm::kRsa2048, "rsa");
  CardKey ec = Generate("alpha", CardKeyAlgorithm::kEcP256, "ec");
  auto session = OpenSession("alpha", /*login=*/true);
  auto rsa_priv = CardKey::FindPrivateHandle(*session, rsa.id);
  auto ec_priv = CardKey::FindPrivateHandle(*session, ec.id);
  ASSERT_TRUE(rsa_priv.ok() && ec_priv.ok());
  EXPECT_FALSE(session->GetBoolAttribute(*rsa_priv, CKA_SIGN).value());
  EXPECT_TRUE(session->GetBoolAttribute(*rsa_priv, CKA_DECRYPT).value());
  EXPECT_FALSE(session->GetBoolAttribute(*rsa_priv, CKA_UNWRAP).value());
  EXPECT_FALSE(session->GetBoolAttribute(*ec_priv, CKA_SIGN).value());
  EXPECT_TRUE(session->GetBoolAttribute(*ec_priv, CKA_DERIVE).value());
  auto rsa_pub = CardKey::Find(*session, {"rsa", {}});
  ASSERT_TRUE(rsa_pub.ok()) << rsa_pub.status().ToString();
  EXPECT_TRUE(session->GetBoolAttribute(rsa_pub->public_handle, CKA_ENCRYPT).value());
  EXPECT_FALSE(session->GetBoolAttribute(rsa_pub->public_handle, CKA_VERIFY).value());
  EXPECT_FALSE(session->GetBoolAttribute(rsa_pub->public_handle, CKA_WRAP).value());
  // Listed while logged in, both show what they can do, and neither is a signing key.
  auto keys = CardKey::List(*session);
  ASSERT_TRUE(keys.ok());
  for (const CardKey& key : *keys) {
    EXPECT_TRUE(key.private_visible) << key.label;
    EXPECT_FALSE(key.can_sign) << key.label;
    EXPECT_TRUE(key.Usable()) << key.label;
  }
}

// A PIV or CAC card as OpenSC shows it: several keys whose private halves are visible
// without login, with their usages. The default is the one key that decrypts but cannot
// sign (key management); any of its labels or ids selects it.
TEST_F(CardKeyTest, PivStyleCardDefaultsToTheKeyManagementKey) {
  InitToken("alpha");
  auto session = OpenSession("alpha", /*login=*/true);
  struct Half {
    const char* label;
    const char* id;
    bool sign;
  };
  for (const Half& half : {Half{"PIV AUTH key", "\x01", true}, Half{"SIGN key", "\x02", true},
                           Half{"KEY MAN key", "\x03", false}}) {
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE, sign = half.sign ? CK_TRUE : CK_FALSE;
    CK_BBOOL decrypt = std::string(half.label) == "SIGN key" ? CK_FALSE : CK_TRUE;
    CK_ULONG bits = 2048;
    uint8_t exponent[] = {1, 0, 1};
    Bytes label(half.label, half.label + std::strlen(half.label));
    Bytes id = {static_cast<uint8_t>(half.id[0])};
    CK_ATTRIBUTE pub[] = {{CKA_TOKEN, &yes, sizeof(yes)},
                          {CKA_LABEL, label.data(), label.size()},
                          {CKA_ID, id.data(), id.size()},
                          {CKA_MODULUS_BITS, &bits, sizeof(bits)},
                          {CKA_PUBLIC_EXPONENT, exponent, sizeof(exponent)}};
    CK_ATTRIBUTE priv[] = {
        {CKA_TOKEN, &yes, sizeof(yes)},          {CKA_PRIVATE, &no, sizeof(no)},
        {CKA_SENSITIVE, &yes, sizeof(yes)},      {CKA_LABEL, label.data(), label.size()},
        {CKA_ID, id.data(), id.size()},          {CKA_SIGN, &sign, sizeof(sign)},
        {CKA_DECRYPT, &decrypt, sizeof(decrypt)}};
    CK_MECHANISM mechanism{CKM_RSA_PKCS_KEY_PAIR_GEN, nullptr, 0};
    CK_OBJECT_HANDLE a, b;
    ASSERT_EQ(session->functions()->C_GenerateKeyPair(session->handle(), &mechanism, pub, 5, priv,
                                                      7, &a, &b),
              CKR_OK);
  }
  session.reset();
  auto anonymous = OpenSession("alpha", /*login=*/false);
  auto keys = CardKey::List(*anonymous);
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 3u);
  for (const CardKey& key : *keys) {
    EXPECT_TRUE(key.private_visible) << key.label;
    EXPECT_EQ(key.private_label, key.label);
    EXPECT_EQ(key.Usable(), key.label != "SIGN key") << key.label;
  }
  std::string why;
  const int chosen = CardKey::Choose(*keys, {}, &why);
  ASSERT_GE(chosen, 0) << why;
  EXPECT_EQ((*keys)[chosen].label, "KEY MAN key");
  EXPECT_NE(why.find("but not sign"), std::string::npos) << why;
  auto found = CardKey::Find(*anonymous, {});
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(found->label, "KEY MAN key");
  const std::string key_id = HexEncode((*keys)[chosen].public_key->key_id());
  for (const std::string& selection : {std::string("KEY MAN key"), std::string("03"), key_id}) {
    auto selected = CardKey::Find(*anonymous, {selection, {}});
    ASSERT_TRUE(selected.ok()) << selection << ": " << selected.status().ToString();
    EXPECT_EQ(selected->label, "KEY MAN key") << selection;
  }
  auto none = CardKey::Find(*anonymous, {"no such key", {}});
  EXPECT_EQ(none.status().reason(), "no_key_on_card");
  EXPECT_NE(none.status().message().find("KEY MAN key"), std::string::npos)
      << none.status().ToString();
}

TEST_F(CardKeyTest, PublicKeysAgreeWithPkcs11Tool) {
  InitToken("alpha");
  CardKey rsa = Generate("alpha", CardKeyAlgorithm::kRsa2048, "rsa");
  CardKey ec = Generate("alpha", CardKeyAlgorithm::kEcP256, "ec");
  EXPECT_EQ(ExportWithPkcs11Tool("alpha", "rsa"), rsa.public_key->spki());
  EXPECT_EQ(ExportWithPkcs11Tool("alpha", "ec"), ec.public_key->spki());
  EXPECT_EQ(ec.public_key->type(), CardKeyType::kEcP256);
  EXPECT_EQ(ec.public_key->ec_point().size(), 65u);
  auto reparsed = CardPublicKey::FromSpki(ec.public_key->spki());
  ASSERT_TRUE(reparsed.ok());
  EXPECT_EQ(reparsed->key_id(), ec.public_key->key_id());
  auto from_pem = CardPublicKey::FromSpki(AsBytes(rsa.public_key->ToPem()));
  ASSERT_TRUE(from_pem.ok()) << from_pem.status().ToString();
  EXPECT_EQ(from_pem->key_id(), rsa.public_key->key_id());
}

TEST_F(CardKeyTest, Rsa3072AndSelectionByIdAndAmbiguity) {
  InitToken("alpha");
  CardKey big = Generate("alpha", CardKeyAlgorithm::kRsa3072, "big");
  EXPECT_EQ(big.public_key->bits(), 3072);
  Generate("alpha", CardKeyAlgorithm::kEcP256, "small");
  auto session = OpenSession("alpha", /*login=*/false);
  auto by_id = CardKey::Find(*session, {"", big.id});
  ASSERT_TRUE(by_id.ok());
  EXPECT_EQ(by_id->label, "big");
  EXPECT_EQ(CardKey::Find(*session, {}).status().reason(), "ambiguous_key");
  auto keys = CardKey::List(*session);
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(keys->size(), 2u);
}

TEST_F(CardKeyTest, RefusesToOverwriteAnExistingKey) {
  InitToken("alpha");
  Generate("alpha", CardKeyAlgorithm::kEcP256, "vault");
  auto session = OpenSession("alpha", /*login=*/true);
  auto again = CardKeyGenerator::Generate(*session, {CardKeyAlgorithm::kRsa2048, "vault", {}});
  EXPECT_EQ(again.status().reason(), "key_exists");
  auto keys = CardKey::List(*session);
  EXPECT_EQ(keys->size(), 1u);
}

TEST(CardPublicKeyTest, RejectsPointsOffTheCurveAndOtherCurves) {
  Bytes point(65, 0x01);
  point[0] = 0x04;
  EXPECT_FALSE(CardPublicKey::FromEcP256Point(point).ok());
  Bytes p384_oid = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
  EXPECT_EQ(CardPublicKey::FromEcAttributes(p384_oid, point).status().reason(), "unsupported_key");
  EXPECT_FALSE(CardPublicKey::FromSpki(AsBytes("not a key")).ok());
}

TEST(CardPublicKeyTest, RejectsShortRsaKeys) {
  EVP_PKEY* small = EVP_RSA_gen(1024);
  ASSERT_NE(small, nullptr);
  Bytes spki(static_cast<size_t>(i2d_PUBKEY(small, nullptr)));
  uint8_t* p = spki.data();
  i2d_PUBKEY(small, &p);
  EVP_PKEY_free(small);
  auto key = CardPublicKey::FromSpki(spki);
  EXPECT_EQ(key.status().code(), StatusCode::kUnsupported);
  EXPECT_EQ(key.status().reason(), "unsupported_key");
}

}  // namespace
}  // namespace cardvault
