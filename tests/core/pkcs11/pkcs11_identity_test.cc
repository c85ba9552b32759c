// Tests for CardRecipient and Pkcs11Identity against SoftHSM2 tokens, OpenSC's pkcs11-tool
// and the openssl command line.
#include "core/pkcs11/pkcs11_identity.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "core/card/card_recipient.h"
#include "core/card/card_stanza.h"
#include "core/crypto.h"
#include "core/decryptor.h"
#include "core/encryptor.h"
#include "core/key_epoch.h"
#include "core/memory_file.h"
#include "core/pkcs11/card_key_generator.h"
#include "core/pkcs11/pkcs11_status.h"
#include "tests/core/pkcs11/softhsm_test_base.h"

namespace cardvault {
namespace {

Bytes ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

void WriteFile(const std::string& path, ByteView data, mode_t mode = 0600) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  out.close();
  chmod(path.c_str(), mode);
}

SecretData NewFileKey() { return RandomSecret(32).value(); }

// Counts GetPin calls and answers with a fixed PIN.
struct CountingPin {
  std::string pin;
  int calls = 0;
  std::shared_ptr<PinSource> Source() {
    return PinSource::FromCallback([this](const PinRequest&) -> StatusOr<SecretData> {
      ++calls;
      return SecretData::CopyFrom(std::string_view(pin));
    });
  }
};

class CardIdentityTest : public SoftHsmTest {
 protected:
  void TearDown() override {
    module_.reset();
    SoftHsmTest::TearDown();
  }

  std::shared_ptr<Pkcs11Module> Module(const char* path = kSoftHsmModule) {
    if (!module_) {
      auto m = Pkcs11Module::Open(path);
      EXPECT_TRUE(m.ok()) << m.status().ToString();
      module_ = *m;
    }
    return module_;
  }

  // Initializes token `label` with one key; returns its public key. Generation goes
  // through its own session, closed before the test goes on.
  CardPublicKey CardWithKey(const std::string& label, CardKeyAlgorithm algorithm) {
    module_.reset();  // SoftHSM2 sees new tokens only at C_Initialize
    InitToken(label);
    auto token = CardToken::Find(*Module(), {label, ""});
    EXPECT_TRUE(token.ok()) << token.status().ToString();
    auto session = Pkcs11Session::Open(Module(), token->slot, Pkcs11Session::Mode::kReadWrite);
    EXPECT_TRUE(session.ok());
    SecretData pin = SecretData::CopyFrom(std::string_view(kUserPin));
    EXPECT_TRUE((*session)->Login(&pin).ok());
    auto key = CardKeyGenerator::Generate(**session, {algorithm, "cardvault", {}});
    EXPECT_TRUE(key.ok()) << key.status().ToString();
    return *key->public_key;
  }

  std::unique_ptr<Pkcs11Identity> Identity(
      const std::string& token, const Bytes& key_id, std::shared_ptr<PinSource> pin,
      Pkcs11IdentityOptions::RsaMechanism rsa = Pkcs11IdentityOptions::RsaMechanism::kAuto) {
    Pkcs11IdentityOptions options;
    options.module = Module();
    options.token.label = token;
    options.key_id = key_id;
    options.pin_source = std::move(pin);
    options.rsa_mechanism = rsa;
    auto identity = Pkcs11Identity::New(std::move(options));
    EXPECT_TRUE(identity.ok()) << identity.status().ToString();
    return std::move(identity).value();
  }

  std::shared_ptr<PinSource> PinFile(const std::string& pin) {
    std::string path = dir() + "/pin";
    WriteFile(path, AsBytes(pin + "\n"));
    return PinSource::FromFile(path);
  }

  // Wraps with a recipient built from the SPKI alone, as an encrypting machine would.
  static Stanza WrapTo(const CardPublicKey& key, const SecretData& file_key) {
    auto public_only = CardPublicKey::FromSpki(key.spki());
    EXPECT_TRUE(public_only.ok());
    auto recipient = CardRecipient::New(*public_only);
    EXPECT_TRUE(recipient.ok());
    auto stanzas = (*recipient)->Wrap(file_key);
    EXPECT_TRUE(stanzas.ok()) << stanzas.status().ToString();
    EXPECT_EQ(stanzas->size(), 1u);
    return stanzas->front();
  }

  std::shared_ptr<Pkcs11Module> module_;
};

TEST_F(CardIdentityTest, RsaRoundTrip) {
  CardPublicKey pub = CardWithKey("alpha", CardKeyAlgorithm::kRsa2048);
  SecretData file_key = NewFileKey();
  Stanza stanza = WrapTo(pub, file_key);
  EXPECT_EQ(stanza.type, "p11-rsa-oaep-sha1");
  EXPECT_EQ(stanza.key_id, pub.key_id());
  EXPECT_EQ(stanza.body.size(), 256u);
  EXPECT_TRUE(stanza.args.empty());
  EXPECT_NE(WrapTo(pub, file_key).body, stanza.body);  // fresh randomness per wrap

  auto identity = Identity("alpha", pub.key_id(), PinFile(kUserPin));
  auto unwrapped = identity->Unwrap(std::span<const Stanza>(&stanza, 1));
  ASSERT_TRUE(unwrapped.ok()) << unwrapped.status().ToString();
  EXPECT_TRUE(unwrapped->Equals(file_key));
  EXPECT_EQ(identity->private_key_operations(), 1u);
}

TEST_F(CardIdentityTest, EcdhP256RoundTrip) {
  CardPublicKey pub = CardWithKey("alpha", CardKeyAlgorithm::kEcP256);
  SecretData file_key = NewFileKey();
  Stanza stanza = WrapTo(pub, file_key);
  EXPECT_EQ(stanza.type, "p11-ecdh-p256");
  EXPECT_EQ(stanza.key_id, pub.key_id());
  ASSERT_EQ(stanza.args.size(), 1u);
  EXPECT_EQ(stanza.args[0].size(), 65u);
  EXPECT_EQ(stanza.args[0][0], 0x04);
  EXPECT_EQ(stanza.body.size(), 40u);
  EXPECT_NE(WrapTo(pub, file_key).args[0], stanza.args[0]);  // fresh ephemeral key

  auto identity = Identity("alpha", pub.key_id(), PinFile(kUserPin));
  auto unwrapped = identity->Unwrap(std::span<const Stanza>(&stanza, 1));
  ASSERT_TRUE(unwrapped.ok()) << unwrapped.status().ToString();
  EXPECT_TRUE(unwrapped->Equals(file_key));
  EXPECT_EQ(identity->private_key_operations(), 1u);
}

TEST_F(CardIdentityTest, RecipientNeedsNoCardAndRefusesShortFileKeys) {
  // A fixed P-256 key built in software: no module is loaded at all.
  EVP_PKEY* pkey = EVP_EC_gen("P-256");
  ASSERT_NE(pkey, nullptr);
  Bytes spki(static_cast<size_t>(i2d_PUBKEY(pkey, nullptr)));
  uint8_t* p = spki.data();
  i2d_PUBKEY(pkey, &p);
  EVP_PKEY_free(pkey);
  auto recipient = CardRecipient::New(CardPublicKey::FromSpki(spki).value());
  ASSERT_TRUE(recipient.ok());
  auto stanzas = (*recipient)->Wrap(NewFileKey());
  ASSERT_TRUE(stanzas.ok()) << stanzas.status().ToString();
  EXPECT_EQ(stanzas->front().key_id, KeyIdFromSpki(spki));
  SecretData short_key(16);
  EXPECT_EQ((*recipient)->Wrap(short_key).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(CardIdentityTest, KeyIdIsReadFromTheCardWhenNotConfigured) {
  CardPublicKey pub = CardWithKey("alpha", CardKeyAlgorithm::kEcP256);
  CountingPin pin{kUserPin};
  Pkcs11IdentityOptions options;
  options.module = Module();
  options.pin_source = pin.Source();
  auto identity = Pkcs11Identity::New(std::move(options));
  ASSERT_TRUE(identity.ok()) << identity.status().ToString();
  EXPECT_EQ((*identity)->key_id(), pub.key_id());
  EXPECT_EQ(pin.calls, 0);  // reading the public key needs no PIN
}

TEST_F(CardIdentityTest, OtherCardsStanzaIsNotFoundWithoutTouchingTheCard) {
  CardPublicKey alpha = CardWithKey("alpha", CardKeyAlgorithm::kRsa2048);
  CardPublicKey beta = CardWithKey("beta", CardKeyAlgorithm::kRsa2048);
  module_.reset();
  EnableSpy();
  Module(kSpyModule);
  CountingPin pin{kUserPin};
  auto identity = Identity("beta", beta.key_id(), pin.Source());
  Stanza to_alpha = WrapTo(alpha, NewFileKey());
  Stanza other_type = to_alpha;
  other_type.type = "X25519";
  other_type.key_id = beta.key_id();  // right id, foreign type: still not ours
  std::vector<Stanza> stanzas = {to_alpha, other_type};
  auto result = identity->Unwrap(stanzas);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(result.status().reason(), "no_matching_stanza");
  EXPECT_EQ(pin.calls, 0);
  EXPECT_EQ(identity->private_key_operations(), 0u);
  EXPECT_EQ(CountSpyCalls("C_Initialize"), 1);  // the spy does log
  EXPECT_EQ(CountSpyCalls("C_OpenSession"), 0);
  EXPECT_EQ(CountSpyCalls("C_Login"), 0);
}

TEST_F(CardIdentityTest, WrongCardInsertedIsReportedBeforeLogin) {
  CardPublicKey alpha = CardWithKey("alpha", CardKeyAlgorithm::kRsa2048);
  CardWithKey("beta", CardKeyAlgorithm::kRsa2048);
  CountingPin pin{kUserPin};
  // Configured for alpha's key, but told to use the card labelled beta.
  auto identity = Identity("beta", alpha.key_id(), pin.Source());
  Stanza stanza = WrapTo(alpha, NewFileKey());
  auto result = identity->Unwrap(std::span<const Stanza>(&stanza, 1));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(result.status().reason(), "wrong_card");
  EXPECT_EQ(pin.calls, 0);
}

TEST_F(CardIdentityTest, SearchesEveryCardWhenNoneIsNamed) {
  CardWithKey("alpha", CardKeyAlgorithm::kRsa2048);
  CardPublicKey beta = CardWithKey("beta", CardKeyAlgorithm::kEcP256);
  SecretData file_key = NewFileKey();
  Stanza stanza = WrapTo(beta, file_key);
  auto identity = Identity("", beta.key_id(), PinFile(kUserPin));
  auto unwrapped = identity->Unwrap(std::span<const Stanza>(&stanza, 1));
  ASSERT_TRUE(unwrapped.ok()) << unwrapped.status().ToString();
  EXPECT_TRUE(unwrapped->Equals(file_key));

  // A key id no card holds: the wrong card(s), named in the message.
  Bytes elsewhere(8, 0x42);
  auto lost = Identity("", elsewhere, PinFile(kUserPin));
  stanza.key_id = elsewhere;
  auto result = lost->Unwrap(std::span<const Stanza>(&stanza, 1));
  EXPECT_EQ(result.status().reason(), "wrong_card") << result.status().ToString();
  EXPECT_NE(result.status().message().find("alpha"), std::string::npos);
  EXPECT_NE(result.status().message().find("beta"), std::string::npos);

  // Without a key id, two cards with one key each are ambiguous.
  Pkcs11IdentityOptions options;
  options.module = Module();
  EXPECT_EQ(Pkcs11Identity::New(options).status().reason(), "ambiguous_key");
}

TEST_F(CardIdentityTest, IdentitiesOnOneCardShareOneLogin) {
  CardPublicKey pub = CardWithKey("alpha", CardKeyAlgorithm::kRsa2048);
  SecretData file_key = NewFileKey();
  Stanza stanza = WrapTo(pub, file_key);
  module_.reset();
  EnableSpy();
  Module(kSpyModule);
  CountingPin first_pin{kUserPin}, second_pin{kUserPin};
  auto first = Identity("alpha", pub.key_id(), first_pin.Source());
  auto second = Identity("alpha", pub.key_id(), second_pin.Source());
  ASSERT_TRUE(first->Unwrap(std::span<const Stanza>(&stanza, 1)).ok());
  ASSERT_TRUE(second->Unwrap(std::span<const Stanza>(&stanza, 1)).ok());
  first.reset();  // must not log out the token under `second`
  auto again = second->Unwrap(std::span<const Stanza>(&stanza, 1));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->Equals(file_key));
  EXPECT_EQ(first_pin.calls, 1);
  EXPECT_EQ(second_pin.calls, 0);
  EXPECT_EQ(CountSpyCalls("C_Login"), 1);
  EXPECT_EQ(CountSpyCalls("C_Logout"), 0);
  second.reset();
  EXPECT_EQ(CountSpyCalls("C_Logout"), 1);  // the last one out logs out
}

TEST_F(CardIdentityTest, WorksThroughTheDefaultP11KitProxy) {
  CardPublicKey pub = CardWithKey("alpha", CardKeyAlgorithm::kEcP256);
  module_.reset();
  auto proxy = Pkcs11Module::Open();  // no path: p11-kit's proxy, which loads SoftHSM2
  ASSERT_TRUE(proxy.ok()) << proxy.status().ToString();
  EXPECT_EQ((*proxy)->path(), kDefaultPkcs11Module);
  module_ = *proxy;
  SecretData file_key = NewFileKey();
  Stanza stanza = WrapTo(pub, file_key);
  auto identity = Identity("", pub.key_id(), PinFile(kUserPin));
  auto unwrapped = identity->Unwrap(std::span<const Stanza>(&stanza, 1));
  ASSERT_TRUE(unwrapped.ok()) << unwrapped.status().ToString();
  EXPECT_TRUE(unwrapped->Equals(file_key));
}

// A DER X.509 certificate for `subject_key`, signed by a throwaway key (only the subject
// key matters to cardvault).
Bytes CertificateFor(const CardPublicKey& subject_key, Bytes* subject_der) {
  EVP_PKEY* issuer = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("cardvault"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509_set_pubkey(cert, subject_key.pkey());
  EXPECT_GT(X509_sign(cert, issuer, EVP_sha256()), 0);
  Bytes der(static_cast<size_t>(i2d_X509(cert, nullptr)));
  uint8_t* p = der.data();
  i2d_X509(cert, &p);
  subject_der->resize(static_cast<size_t>(i2d_X509_NAME(name, nullptr)));
  p = subject_der->data();
  i2d_X509_NAME(name, &p);
  X509_free(cert);
  EVP_PKEY_free(issuer);
  return der;
}

TEST_F(CardIdentityTest, CardWithOnlyACertificateNextToItsKey) {
  CardPublicKey pub = CardWithKey("alpha", CardKeyAlgorithm::kRsa2048);
  {
    auto token = CardToken::Find(*Module(), {"alpha", ""});
    ASSERT_TRUE(token.ok());
    auto session = Pkcs11Session::Open(Module(), token->slot, Pkcs11Session::Mode::kReadWrite);
    ASSERT_TRUE(session.ok());
    SecretData pin = SecretData::CopyFrom(std::string_view(kUserPin));
    ASSERT_TRUE((*session)->Login(&pin).ok());
    auto key = CardKey::Find(**session, {"cardvault", {}});
    ASSERT_TRUE(key.ok());
    Bytes subject;
    Bytes der = CertificateFor(pub, &subject);
    CK_OBJECT_CLASS klass = CKO_CERTIFICATE;
    CK_CERTIFICATE_TYPE type = CKC_X_509;
    CK_BBOOL yes = CK_TRUE;
    Bytes label = {'c', 'e', 'r', 't'};
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &klass, sizeof(klass)},      {CKA_CERTIFICATE_TYPE, &type, sizeof(type)},
        {CKA_TOKEN, &yes, sizeof(yes)},          {CKA_ID, key->id.data(), key->id.size()},
        {CKA_LABEL, label.data(), label.size()}, {CKA_SUBJECT, subject.data(), subject.size()},
        {CKA_VALUE, der.data(), der.size()}};
    CK_OBJECT_HANDLE cert = CK_INVALID_HANDLE;
    ASSERT_EQ((*session)->functions()->C_CreateObject((*session)->handle(), tmpl, 7, &cert),
              CKR_OK);
    // Next to its public key object the certificate adds no second key.
    auto both = CardKey::List(**session);
    ASSERT_TRUE(both.ok());
    EXPECT_EQ(both->size(), 1u);
    EXPECT_FALSE(both->front().from_certificate);
    ASSERT_TRUE((*session)->DestroyObject(key->public_handle).ok());
  }
  auto token = CardToken::Find(*Module(), {"alpha", ""});
  auto session = Pkcs11Session::Open(Module(), token->slot);
  ASSERT_TRUE(session.ok());
  auto keys = CardKey::List(**session);
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_TRUE(keys->front().from_certificate);
  ASSERT_TRUE(keys->front().public_key.has_value());
  EXPECT_EQ(keys->front().public_key->key_id(), pub.key_id());

  SecretData file_key = NewFileKey();
  Stanza stanza = WrapTo(pub, file_key);
  auto identity = Identity("alpha", pub.key_id(), PinFile(kUserPin));
  auto unwrapped = identity->Unwrap(std::span<const Stanza>(&stanza, 1));
  ASSERT_TRUE(unwrapped.ok()) << unwrapped.status().ToString();
  EXPECT_TRUE(unwrapped->Equals(file_key));
}

TEST_F(CardIdentityTest, WrongPinIsTriedExactlyOnce) {
  CardPublicKey pub = CardWithKey("alpha", CardKeyAlgorithm::kRsa2048);
  module_.reset();
  EnableSpy();
  Module(kSpyModule);
  CountingPin pin{"999999"};
  auto identity = Identity("alpha", pub.key_id(), pin.Source());
  Stanza stanza = WrapTo(pub, NewFileKey());
  for (int i = 0; i < 3; ++i) {  // a batch of three files
    auto result = identity->Unwrap(std::span<const Stanza>(&stanza, 1));
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), StatusCode::kPermissionDenied);
    EXPECT_EQ(result.status().reason(), "pin_incorrect") << result.status().ToString();
  }
  EXPECT_EQ(pin.calls, 1);
  EXPECT_EQ(CountSpyCalls("C_Login"), 1);
  EXPECT_EQ(identity->private_key_operations(), 0u);
}

TEST_F(CardIdentityTest, MissingKeyIsNoKeyOnCard) {
  InitToken("alpha");
  CountingPin pin{kUserPin};
  Pkcs11IdentityOptions options;
  options.module = Module();
  options.token.label = "alpha";
  options.pin_source = pin.Source();
  auto unconfigured = Pkcs11Identity::New(options);
  ASSERT_FALSE(unconfigured.ok());
  EXPECT_EQ(unconfigured.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(unconfigured.status().reason(), "no_key_on_card");
  // The card layer never advises creating a key: callers know whether one should exist.
  EXPECT_EQ(unconfigured.status().message().find("card init"), std::string::npos);

  // Configured with a key id, but the key was deleted from the card.
  Bytes key_id(8, 0x42);
  auto identity = Identity("alpha", key_id, pin.Source());
  Stanza stanza{"p11-rsa-oaep-sha1", key_id, {}, Bytes(256, 1)};
  auto result = identity->Unwrap(std::span<const Stanza>(&stanza, 1));
  EXPECT_EQ(result.status().reason(), "no_key_on_card") << result.status().ToString();
  EXPECT_NE(result.status().message().find("insert the card with key id 4242424242424242"),
            std::string::npos)
      << result.status().ToString();
  EXPECT_EQ(result.status().message().find("card init"), std::string::npos);
  EXPECT_EQ(pin.calls, 0);
}

TEST_F(CardIdentityTest, TokenRemovedMidRunIsAClearError) {
  CardPublicKey pub = CardWithKey("alpha", CardKeyAlgorithm::kRsa2048);
  auto identity = Identity("alpha", pub.key_id(), PinFile(kUserPin));
  Stanza stanza = WrapTo(pub, NewFileKey());
  ASSERT_TRUE(identity->Unwrap(std::span<const Stanza>(&stanza, 1)).ok());
  std::filesystem::remove_all(token_dir());
  // SoftHSM2 then answers CKR_OBJECT_HANDLE_INVALID for the key and CKR_GENERAL_ERROR for
  // the token info (a real card: CKR_DEVICE_REMOVED). Both tries: card absent, no crash.
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto result = identity->Unwrap(std::span<const Stanza>(&stanza, 1));
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), StatusCode::kUnavailable) << result.status().ToString();
    EXPECT_EQ(result.status().reason(), "card_absent") << result.status().ToString();
    EXPECT_NE(result.status().message().find("alpha"), std::string::npos);
  }
  EXPECT_EQ(identity->private_key_operations(), 1u);
}

TEST_F(CardIdentityTest, Pkcs11ToolDecryptsWhatCardRecipientWrapped) {
  CardPublicKey pub = CardWithKey("alpha", CardKeyAlgorithm::kRsa2048);
  SecretData file_key = NewFileKey();
  Stanza stanza = WrapTo(pub, file_key);
  WriteFile(dir() + "/wrapped", stanza.body);
  std::string log;
  int rc = Run(std::string("pkcs11-tool --module ") + kSoftHsmModule +
                   " --token-label alpha --login --pin " + kUserPin +
                   " --decrypt -m RSA-PKCS-OAEP --hash-algorithm SHA-1 --mgf MGF1-SHA1"
                   " --label cardvault -i " +
                   dir() + "/wrapped -o " + dir() + "/unwrapped 2>&1",
               &log);
  ASSERT_EQ(rc, 0) << log;
  EXPECT_EQ(ReadFile(dir() + "/unwrapped"), Bytes(file_key.span().begin(), file_key.span().end()));
}

TEST_F(CardIdentityTest, UnwrapsWhatOpensslWrappedWithTheExportedKey) {
  CardPublicKey pub = CardWithKey("alpha", CardKeyAlgorithm::kRsa2048);
  SecretData file_key = NewFileKey();
  WriteFile(dir() + "/pub.pem", AsBytes(pub.ToPem()));
  WriteFile(dir() + "/key", file_key.span());
  std::string log;
  int rc = Run("openssl pkeyutl -encrypt -pubin -inkey " + dir() +
                   "/pub.pem -pkeyopt rsa_padding_mode:oaep -in " + dir() + "/key -out " + dir() +
                   "/wrapped 2>&1",
               &log);
  ASSERT_EQ(rc, 0) << log;
  Stanza stanza{"p11-rsa-oaep-sha1", pub.key_id(), {}, ReadFile(dir() + "/wrapped")};
  for (auto rsa :
       {Pkcs11IdentityOptions::RsaMechanism::kAuto, Pkcs11IdentityOptions::RsaMechanism::kRawRsa}) {
    auto identity = Identity("alpha", pub.key_id(), PinFile(kUserPin), rsa);
    auto unwrapped = identity->Unwrap(std::span<const Stanza>(&stanza, 1));
    ASSERT_TRUE(unwrapped.ok()) << unwrapped.status().ToString();
    EXPECT_TRUE(unwrapped->Equals(file_key));
  }
}

TEST_F(CardIdentityTest, FallsBackToRawRsaWhenTheTokenLacksOaep) {
  CardPublicKey pub = CardWithKey("alpha", CardKeyAlgorithm::kRsa2048);
  SecretData first = NewFileKey(), second = NewFileKey();
  Stanza stanzas[] = {WrapTo(pub, first), WrapTo(pub, second)};
  module_.reset();
  // A token without OAEP (SoftHSM2 2.6 ignores a "-CKM_..." list here; name the rest).
  AppendConfig("slots.mechanisms = CKM_RSA_X_509,CKM_RSA_PKCS,CKM_RSA_PKCS_KEY_PAIR_GEN");
  EnableSpy();
  Module(kSpyModule);
  auto identity = Identity("alpha", pub.key_id(), PinFile(kUserPin));
  auto a = identity->Unwrap(std::span<const Stanza>(&stanzas[0], 1));
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_TRUE(a->Equals(first));
  auto b = identity->Unwrap(std::span<const Stanza>(&stanzas[1], 1));
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_TRUE(b->Equals(second));
  // OAEP is tried once, refused at C_DecryptInit; raw RSA from then on.
  std::string log;
  Run("grep -A12 C_DecryptInit " + spy_log(), &log);
  EXPECT_EQ(CountSpyCalls("C_DecryptInit"), 3) << log;
  EXPECT_EQ(CountSpyCalls("C_Decrypt"), 2);
  EXPECT_EQ(identity->private_key_operations(), 2u);
}

TEST_F(CardIdentityTest, CardEcdhAgreesWithOpensslDerive) {
  CardPublicKey pub = CardWithKey("alpha", CardKeyAlgorithm::kEcP256);
  WriteFile(dir() + "/card.pem", AsBytes(pub.ToPem()));
  std::string log;
  ASSERT_EQ(Run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " + dir() +
                    "/eph.pem 2>&1 && openssl pkey -in " + dir() +
                    "/eph.pem -pubout -outform DER"
                    " -out " +
                    dir() + "/eph.der 2>&1 && openssl pkeyutl -derive -inkey " + dir() +
                    "/eph.pem -peerkey " + dir() + "/card.pem -out " + dir() + "/shared 2>&1",
                &log),
            0)
      << log;
  SecretData shared = SecretData::CopyFrom(ReadFile(dir() + "/shared"));
  ASSERT_EQ(shared.size(), 32u);
  auto ephemeral = CardPublicKey::FromSpki(ReadFile(dir() + "/eph.der"));
  ASSERT_TRUE(ephemeral.ok()) << ephemeral.status().ToString();
  // Build the stanza from OpenSSL's shared secret; the card must derive the same one.
  SecretData file_key = NewFileKey();
  SecretData wrap_key = DeriveEcdhWrapKey(shared, ephemeral->ec_point(), pub.ec_point()).value();
  Stanza stanza{"p11-ecdh-p256",
                pub.key_id(),
                {ephemeral->ec_point()},
                AesKeyWrap(wrap_key, file_key).value()};
  auto identity = Identity("alpha", pub.key_id(), PinFile(kUserPin));
  auto unwrapped = identity->Unwrap(std::span<const Stanza>(&stanza, 1));
  ASSERT_TRUE(unwrapped.ok()) << unwrapped.status().ToString();
  EXPECT_TRUE(unwrapped->Equals(file_key));
}

TEST_F(CardIdentityTest, TamperedStanzasAreCorruptAndCounted) {
  CardPublicKey rsa = CardWithKey("alpha", CardKeyAlgorithm::kRsa2048);
  CardPublicKey ec = CardWithKey("beta", CardKeyAlgorithm::kEcP256);
  SecretData file_key = NewFileKey();
  for (auto mode :
       {Pkcs11IdentityOptions::RsaMechanism::kAuto, Pkcs11IdentityOptions::RsaMechanism::kRawRsa}) {
    auto identity = Identity("alpha", rsa.key_id(), PinFile(kUserPin), mode);
    Stanza bad = WrapTo(rsa, file_key);
    bad.body[100] ^= 1;
    auto result = identity->Unwrap(std::span<const Stanza>(&bad, 1));
    EXPECT_EQ(result.status().code(), StatusCode::kCorrupt) << result.status().ToString();
    EXPECT_EQ(result.status().reason(), "stanza_unwrap_failed");
    // A bad stanza next to a good one: the good one wins.
    std::vector<Stanza> both = {bad, WrapTo(rsa, file_key)};
    auto ok = identity->Unwrap(both);
    ASSERT_TRUE(ok.ok()) << ok.status().ToString();
    EXPECT_TRUE(ok->Equals(file_key));
    // kAuto: SoftHSM2 answers bad OAEP padding with CKR_GENERAL_ERROR, as a failing card
    // would; the bad stanza is decrypted raw once more to tell which (2 operations each).
    EXPECT_EQ(identity->private_key_operations(),
              mode == Pkcs11IdentityOptions::RsaMechanism::kAuto ? 5u : 3u);
  }
  auto identity = Identity("beta", ec.key_id(), PinFile(kUserPin));
  Stanza bad_body = WrapTo(ec, file_key);
  bad_body.body[5] ^= 1;
  EXPECT_EQ(identity->Unwrap(std::span<const Stanza>(&bad_body, 1)).status().reason(),
            "stanza_unwrap_failed");
  Stanza off_curve = WrapTo(ec, file_key);
  off_curve.args[0][40] ^= 1;
  EXPECT_EQ(identity->Unwrap(std::span<const Stanza>(&off_curve, 1)).status().reason(),
            "stanza_unwrap_failed");
  EXPECT_EQ(identity->private_key_operations(), 1u);  // the off-curve point never reached it
}

TEST_F(CardIdentityTest, BatchLogsInOnceAndCountsEveryPrivateKeyOperation) {
  CardPublicKey pub = CardWithKey("alpha", CardKeyAlgorithm::kRsa2048);
  CardPublicKey other = CardWithKey("beta", CardKeyAlgorithm::kRsa2048);
  std::vector<SecretData> keys;
  std::vector<Stanza> stanzas;
  constexpr int kFiles = 20;
  for (int i = 0; i < kFiles; ++i) {
    keys.push_back(NewFileKey());
    stanzas.push_back(WrapTo(pub, keys.back()));
  }
  Stanza foreign = WrapTo(other, NewFileKey());
  module_.reset();
  EnableSpy();
  Module(kSpyModule);
  CountingPin pin{kUserPin};
  auto identity = Identity("alpha", pub.key_id(), pin.Source());
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kFiles; ++i) {
    auto unwrapped = identity->Unwrap(std::span<const Stanza>(&stanzas[i], 1));
    ASSERT_TRUE(unwrapped.ok()) << unwrapped.status().ToString();
    EXPECT_TRUE(unwrapped->Equals(keys[i]));
  }
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(identity->Unwrap(std::span<const Stanza>(&foreign, 1)).ok());
  EXPECT_EQ(identity->private_key_operations(), static_cast<uint64_t>(kFiles));
  EXPECT_EQ(CountSpyCalls("C_Decrypt"), kFiles);
  EXPECT_EQ(CountSpyCalls("C_Login"), 1);
  EXPECT_EQ(CountSpyCalls("C_OpenSession"), 1);
  EXPECT_EQ(pin.calls, 1);
  std::cout << "[ MEASURED ] " << kFiles << " RSA-2048 unwraps through pkcs11-spy, including "
            << "open and login: "
            << std::chrono::duration<double, std::milli>(elapsed).count() / kFiles
            << " ms per unwrap\n";
}

TEST_F(CardIdentityTest, ConcurrentUnwrapsShareOneSessionSafely) {
  CardPublicKey pub = CardWithKey("alpha", CardKeyAlgorithm::kEcP256);
  constexpr int kThreads = 4, kPerThread = 10;
  std::vector<SecretData> keys;
  std::vector<Stanza> stanzas;
  for (int i = 0; i < kThreads * kPerThread; ++i) {
    keys.push_back(NewFileKey());
    stanzas.push_back(WrapTo(pub, keys.back()));
  }
  CountingPin pin{kUserPin};
  auto identity = Identity("alpha", pub.key_id(), pin.Source());
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t * kPerThread; i < (t + 1) * kPerThread; ++i) {
        auto unwrapped = identity->Unwrap(std::span<const Stanza>(&stanzas[i], 1));
        if (unwrapped.ok() && unwrapped->Equals(keys[i])) ++good;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(good.load(), kThreads * kPerThread);
  EXPECT_EQ(pin.calls, 1);
  EXPECT_EQ(identity->private_key_operations(), static_cast<uint64_t>(kThreads * kPerThread));
}

// Unwraps 50 stanzas per key type in-process (no spy) after one warm-up unwrap that opens
// the session and logs in, checks every key and reports the steady-state cost.
TEST_F(CardIdentityTest, MeasuresUnwrapCost) {
  const std::tuple<CardKeyAlgorithm, const char*, const char*> kinds[] = {
      {CardKeyAlgorithm::kRsa2048, "rsa2048", "RSA-2048 (C_Decrypt OAEP)"},
      {CardKeyAlgorithm::kRsa3072, "rsa3072", "RSA-3072 (C_Decrypt OAEP)"},
      {CardKeyAlgorithm::kEcP256, "p256", "P-256 (C_DeriveKey + read + destroy)"}};
  for (const auto& [algorithm, token, name] : kinds) {
    CardPublicKey pub = CardWithKey(token, algorithm);
    constexpr int kRounds = 50;
    std::vector<SecretData> keys;
    std::vector<Stanza> stanzas;
    for (int i = 0; i <= kRounds; ++i) {
      keys.push_back(NewFileKey());
      stanzas.push_back(WrapTo(pub, keys.back()));
    }
    auto identity = Identity(token, pub.key_id(), PinFile(kUserPin));
    ASSERT_TRUE(identity->Unwrap(std::span<const Stanza>(&stanzas[0], 1)).ok());
    auto start = std::chrono::steady_clock::now();
    for (int i = 1; i <= kRounds; ++i) {
      auto unwrapped = identity->Unwrap(std::span<const Stanza>(&stanzas[i], 1));
      ASSERT_TRUE(unwrapped.ok()) << unwrapped.status().ToString();
      ASSERT_TRUE(unwrapped->Equals(keys[i]));
    }
    auto elapsed = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(identity->private_key_operations(), static_cast<uint64_t>(kRounds + 1));
    std::cout << "[ MEASURED ] SoftHSM2 " << name << ": "
              << std::chrono::duration<double, std::milli>(elapsed).count() / kRounds
              << " ms per unwrap\n";
  }
}

TEST(PinSourceTest, FileFdAndCallback) {
  std::string dir = (std::filesystem::temp_directory_path() / "cv-pin-XXXXXX").string();
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  WriteFile(dir + "/pin", AsBytes("1234\r\n"));
  auto pin = PinSource::FromFile(dir + "/pin")->GetPin({});
  ASSERT_TRUE(pin.ok()) << pin.status().ToString();
  EXPECT_EQ(pin->AsStringView(), "1234");

  WriteFile(dir + "/shared-pin", AsBytes("1234\n"), 0644);
  EXPECT_EQ(PinSource::FromFile(dir + "/shared-pin")->GetPin({}).status().reason(),
            "pin_file_insecure");
  WriteFile(dir + "/empty", AsBytes("\n"));
  EXPECT_EQ(PinSource::FromFile(dir + "/empty")->GetPin({}).status().reason(), "pin_empty");
  EXPECT_EQ(PinSource::FromFile(dir + "/missing")->GetPin({}).status().code(),
            StatusCode::kNotFound);

  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  ASSERT_EQ(write(fds[1], "98765\nrest", 10), 10);
  close(fds[1]);
  auto from_fd = PinSource::FromFd(fds[0])->GetPin({});
  close(fds[0]);
  ASSERT_TRUE(from_fd.ok());
  EXPECT_EQ(from_fd->AsStringView(), "98765");

  PinRequest seen;
  auto callback = PinSource::FromCallback([&](const PinRequest& r) -> StatusOr<SecretData> {
    seen = r;
    return SecretData::CopyFrom(std::string_view("4321"));
  });
  auto from_callback = callback->GetPin({"alpha", "0011", true, false});
  ASSERT_TRUE(from_callback.ok());
  EXPECT_EQ(from_callback->AsStringView(), "4321");
  EXPECT_EQ(seen.token_label, "alpha");
  EXPECT_TRUE(seen.count_low);
  std::filesystem::remove_all(dir);
}

// Key epochs on a real token: 1,000 files over 3 epochs cost exactly 3 card private-key
// operations, counted by the identity and confirmed in pkcs11-spy's log.
TEST_F(CardIdentityTest, ThousandFilesOverThreeEpochsCostThreeCardOperations) {
  CardPublicKey pub = CardWithKey("alpha", CardKeyAlgorithm::kEcP256);
  auto card_recipient = CardRecipient::New(CardPublicKey::FromSpki(pub.spki()).value()).value();
  Recipient* cards[] = {card_recipient.get()};
  std::vector<NewEpoch> epochs;
  std::vector<Bytes> blobs;
  for (int e = 0; e < 3; ++e) {
    epochs.push_back(CreateEpoch(cards, e).value());
    const int files = e == 2 ? 334 : 333;
    for (int i = 0; i < files; ++i) {
      X25519Recipient* epoch_recipient = &epochs.back().recipient;
      Recipient* rs[] = {epoch_recipient};
      const std::string content = "file " + std::to_string(blobs.size());
      MemorySequentialFile src(AsBytes(content));
      Bytes blob;
      MemoryWritableFile sink(&blob);
      ASSERT_TRUE(EncryptStream(src, sink, rs, {}).ok());
      blobs.push_back(std::move(blob));
    }
  }
  module_.reset();
  EnableSpy();
  Module(kSpyModule);
  CountingPin pin{kUserPin};
  auto identity = Identity("alpha", pub.key_id(), pin.Source());
  EpochKeyring keyring(identity.get());
  for (const NewEpoch& e : epochs) ASSERT_TRUE(keyring.AddKeyObject(e.key_object, e.epoch_id).ok());
  for (size_t i = 0; i < blobs.size(); ++i) {
    MemorySequentialFile src(blobs[i]);
    auto d = OpenBlob(&src, keyring);
    ASSERT_TRUE(d.ok()) << i << ": " << d.status().ToString();
    Bytes plain;
    MemoryWritableFile sink(&plain);
    ASSERT_TRUE((*d)->DecryptTo(sink).ok());
    ASSERT_EQ(AsStringView(plain), "file " + std::to_string(i));
  }
  EXPECT_EQ(blobs.size(), 1000u);
  EXPECT_EQ(identity->private_key_operations(), 3u);
  EXPECT_EQ(CountSpyCalls("C_DeriveKey"), 3);
  EXPECT_EQ(CountSpyCalls("C_Login"), 1);
  EXPECT_EQ(pin.calls, 1);
}

// An idle card is logged out by the identity's timer, without waiting for the next use;
// the next Unwrap asks for the PIN again. With a zero timeout every Unwrap asks.
TEST_F(CardIdentityTest, IdleTimeoutLogsOutAndZeroAlwaysAsks) {
  CardPublicKey pub = CardWithKey("alpha", CardKeyAlgorithm::kEcP256);
  SecretData k1 = NewFileKey(), k2 = NewFileKey();
  Stanza s1 = WrapTo(pub, k1), s2 = WrapTo(pub, k2);
  module_.reset();
  EnableSpy();
  Module(kSpyModule);
  for (int seconds : {1, 0}) {
    CountingPin pin{kUserPin};
    Pkcs11IdentityOptions options;
    options.module = Module();
    options.token.label = "alpha";
    options.key_id = pub.key_id();
    options.pin_source = pin.Source();
    options.idle_timeout = std::chrono::seconds(seconds);
    auto identity = Pkcs11Identity::New(std::move(options)).value();
    const int logouts_before = CountSpyCalls("C_Logout");
    ASSERT_TRUE(identity->Unwrap(std::span<const Stanza>(&s1, 1)).ok());
    EXPECT_EQ(pin.calls, 1);
    if (seconds > 0) {
      EXPECT_EQ(CountSpyCalls("C_Logout"), logouts_before) << "still logged in right after use";
      std::this_thread::sleep_for(std::chrono::milliseconds(1600));
      EXPECT_EQ(CountSpyCalls("C_Logout"), logouts_before + 1) << "logged out while idle";
    } else {
      EXPECT_EQ(CountSpyCalls("C_Logout"), logouts_before + 1) << "logged out after the use";
    }
    auto again = identity->Unwrap(std::span<const Stanza>(&s2, 1));
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    EXPECT_TRUE(again->Equals(k2));
    EXPECT_EQ(pin.calls, 2) << "the PIN is asked again after the logout";
  }
}

// What SoftHSM2 cannot show, through a test module in front of it (flag_shim_module.cc):
// a locked PIN is reported without any C_Login or PIN prompt, a last try reaches the
// prompt, and a PIN-pad reader logs in without a PIN from us.
TEST_F(CardIdentityTest, LockedPinFinalTryAndPinPadThroughATestModule) {
  CardPublicKey pub = CardWithKey("alpha", CardKeyAlgorithm::kEcP256);
  SecretData file_key = NewFileKey();
  Stanza stanza = WrapTo(pub, file_key);
  module_.reset();
  const std::string log = dir() + "/shim.log";
  ::setenv("CV_SHIM_LOG", log.c_str(), 1);
  Module(CARDVAULT_FLAG_SHIM);
  auto log_text = [&] {
    const Bytes bytes = ReadFile(log);
    return std::string(bytes.begin(), bytes.end());
  };
  auto logins = [&] {
    const std::string text = log_text();
    return std::count(text.begin(), text.end(), '\n');
  };
  auto identity_with = [&](std::shared_ptr<PinSource> pin) {
    Pkcs11IdentityOptions options;
    options.module = Module();
    options.token.label = "alpha";
    options.key_id = pub.key_id();
    options.pin_source = std::move(pin);
    return Pkcs11Identity::New(std::move(options)).value();
  };

  ::setenv("CV_SHIM_FLAGS", std::to_string(CKF_USER_PIN_LOCKED).c_str(), 1);
  {
    CountingPin pin{kUserPin};
    auto locked = identity_with(pin.Source())->Unwrap(std::span<const Stanza>(&stanza, 1));
    EXPECT_EQ(locked.status().reason(), "pin_locked");
    EXPECT_NE(locked.status().message().find("PUK"), std::string::npos);
    EXPECT_EQ(pin.calls, 0) << "no PIN is asked for a locked card";
    EXPECT_EQ(logins(), 0) << "no C_Login is spent on a locked card";
  }

  ::setenv("CV_SHIM_FLAGS", std::to_string(CKF_USER_PIN_FINAL_TRY).c_str(), 1);
  {
    bool final_try = false, count_low = true;
    auto pin = PinSource::FromCallback([&](const PinRequest& r) -> StatusOr<SecretData> {
      final_try = r.final_try;
      count_low = r.count_low;
      return SecretData::CopyFrom(std::string_view(kUserPin));
    });
    auto key = identity_with(std::move(pin))->Unwrap(std::span<const Stanza>(&stanza, 1));
    ASSERT_TRUE(key.ok()) << key.status().ToString();
    EXPECT_TRUE(final_try) << "the prompt is told this is the last try";
    EXPECT_FALSE(count_low);
  }

  ::setenv("CV_SHIM_FLAGS", std::to_string(CKF_PROTECTED_AUTHENTICATION_PATH).c_str(), 1);
  ::setenv("CV_SHIM_PAD_PIN", kUserPin, 1);
  {
    const long before = logins();
    auto key = identity_with(nullptr)->Unwrap(std::span<const Stanza>(&stanza, 1));
    ASSERT_TRUE(key.ok()) << key.status().ToString();
    EXPECT_TRUE(key->Equals(file_key));
    EXPECT_EQ(logins(), before + 1);
    EXPECT_NE(log_text().find("C_Login null"), std::string::npos)
        << "the PIN is entered on the pad, never passed by us";
  }
  ::unsetenv("CV_SHIM_PAD_PIN");
  {
    auto cancelled = identity_with(nullptr)->Unwrap(std::span<const Stanza>(&stanza, 1));
    EXPECT_FALSE(cancelled.ok()) << "nobody typed on the pad";
  }
  ::unsetenv("CV_SHIM_FLAGS");
  ::unsetenv("CV_SHIM_LOG");
}

// A card pulled or failing during the private-key operation (through the test module,
// flag_shim_module.cc): card_removed / card_failed after the slot is re-checked, never
// kCorrupt (which would call the file damaged).
class ShimEnv {
 public:
  ShimEnv(std::initializer_list<std::pair<const char*, std::string>> vars) {
    for (const auto& [name, value] : vars) {
      ::setenv(name, value.c_str(), 1);
      names_.push_back(name);
    }
  }
  ~ShimEnv() {
    for (const char* name : names_) ::unsetenv(name);
  }

 private:
  std::vector<const char*> names_;
};

TEST_F(CardIdentityTest, CardPulledOrFailingDuringDecryptIsNeverCorrupt) {
  CardPublicKey rsa = CardWithKey("alpha", CardKeyAlgorithm::kRsa2048);
  CardPublicKey ec = CardWithKey("beta", CardKeyAlgorithm::kEcP256);
  SecretData file_key = NewFileKey();
  Stanza rsa_stanza = WrapTo(rsa, file_key);
  Stanza ec_stanza = WrapTo(ec, file_key);
  struct Case {
    const char* fail;
    const char* reason;
    bool rsa;
  };
  for (const Case& c : {
           Case{"C_Decrypt:1:0x32:removed", "card_removed", true},  // CKR_DEVICE_REMOVED
           Case{"C_Decrypt:1:0x5:removed", "card_removed", true},   // CKR_GENERAL_ERROR
           Case{"C_Decrypt:1:0x5", "card_failed", true},            // still inserted, raw fails too
           Case{"C_Decrypt:1:0x30", "card_failed", true},           // CKR_DEVICE_ERROR
           Case{"C_DeriveKey:1:0x5", "card_failed", false},
           Case{"C_DeriveKey:1:0xe0:removed", "card_removed", false},  // CKR_TOKEN_NOT_PRESENT
       }) {
    SCOPED_TRACE(c.fail);
    module_.reset();
    ShimEnv env({{"CV_SHIM_FAIL", c.fail}});
    Module(CARDVAULT_FLAG_SHIM);
    CountingPin pin{kUserPin};
    auto identity =
        Identity(c.rsa ? "alpha" : "beta", c.rsa ? rsa.key_id() : ec.key_id(), pin.Source());
    auto result = identity->Unwrap(std::span<const Stanza>(c.rsa ? &rsa_stanza : &ec_stanza, 1));
    ASSERT_FALSE(result.ok());
    EXPECT_NE(result.status().code(), StatusCode::kCorrupt) << result.status().ToString();
    EXPECT_EQ(result.status().code(), StatusCode::kUnavailable) << result.status().ToString();
    EXPECT_EQ(result.status().reason(), c.reason) << result.status().ToString();
    EXPECT_NE(result.status().message().find(c.rsa ? "card \"alpha\"" : "card \"beta\""),
              std::string::npos)
        << result.status().ToString();
    EXPECT_NE(result.status().message().find("not at fault"), std::string::npos);
    module_.reset();
  }
  // One failed C_Decrypt on a card still in: the raw retry succeeds, and says so by working.
  {
    ShimEnv env({{"CV_SHIM_FAIL", "C_Decrypt:1-1:0x5"}});
    Module(CARDVAULT_FLAG_SHIM);
    auto identity = Identity("alpha", rsa.key_id(), PinFile(kUserPin));
    auto result = identity->Unwrap(std::span<const Stanza>(&rsa_stanza, 1));
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    EXPECT_TRUE(result->Equals(file_key));
    module_.reset();
  }
}

// CKR_GENERAL_ERROR from C_Login: some cards' wrong PIN, or a card pulled or failing. Said
// as such (or card_removed if the slot shows the card gone), and never tried again.
TEST_F(CardIdentityTest, GeneralErrorAtLoginIsWrongPinOrCardAndIsNeverRetried) {
  CardPublicKey pub = CardWithKey("alpha", CardKeyAlgorithm::kRsa2048);
  Stanza stanza = WrapTo(pub, NewFileKey());
  for (const auto& [fail, reason] : {std::pair{"C_Login:1:0x5", "login_failed"},
                                     std::pair{"C_Login:1:0x5:removed", "card_removed"}}) {
    SCOPED_TRACE(fail);
    module_.reset();
    const std::string calls = dir() + "/calls-" + reason;
    ShimEnv env({{"CV_SHIM_FAIL", fail}, {"CV_SHIM_CALLS", calls}});
    Module(CARDVAULT_FLAG_SHIM);
    CountingPin pin{kUserPin};
    auto identity = Identity("alpha", pub.key_id(), pin.Source());
    for (int i = 0; i < 3; ++i) {  // a batch of three files
      auto result = identity->Unwrap(std::span<const Stanza>(&stanza, 1));
      ASSERT_FALSE(result.ok());
      EXPECT_EQ(result.status().reason(), reason) << result.status().ToString();
      EXPECT_NE(result.status().reason(), "pin_incorrect");
      if (std::string(reason) == "login_failed") {
        EXPECT_EQ(result.status().code(), StatusCode::kPermissionDenied);
        EXPECT_NE(result.status().message().find("wrong PIN, or the card was removed or failed"),
                  std::string::npos)
            << result.status().ToString();
        EXPECT_NE(result.status().message().find("card \"alpha\""), std::string::npos)
            << result.status().ToString();
      } else {
        EXPECT_NE(result.status().message().find("removed during the PIN check"), std::string::npos)
            << result.status().ToString();
      }
    }
    EXPECT_EQ(pin.calls, 1);
    const Bytes log = ReadFile(calls);
    const std::string text(log.begin(), log.end());
    size_t logins = 0;
    for (size_t at = text.find("C_Login\n"); at != std::string::npos;
         at = text.find("C_Login\n", at + 1)) {
      ++logins;
    }
    EXPECT_EQ(logins, 1u) << text;
    EXPECT_EQ(identity->private_key_operations(), 0u);
    module_.reset();
  }
}

// A card its driver has only partly read shows some keys (OpenSC while reading a CAC card):
// "insert the card with key id ...", naming what the card shows; never `card init`.
TEST_F(CardIdentityTest, HiddenKeysNameTheKeyIdAndWhatTheCardShows) {
  CardPublicKey wanted = CardWithKey("alpha", CardKeyAlgorithm::kEcP256);
  Bytes wanted_id, other_id;
  CardPublicKey other = wanted;
  {
    auto token = CardToken::Find(*Module(), {"alpha", ""});
    ASSERT_TRUE(token.ok());
    auto session = Pkcs11Session::Open(Module(), token->slot, Pkcs11Session::Mode::kReadWrite);
    ASSERT_TRUE(session.ok());
    SecretData pin = SecretData::CopyFrom(std::string_view(kUserPin));
    ASSERT_TRUE((*session)->Login(&pin).ok());
    auto second = CardKeyGenerator::Generate(**session, {CardKeyAlgorithm::kEcP256, "second", {}});
    ASSERT_TRUE(second.ok()) << second.status().ToString();
    other = *second->public_key;
    other_id = second->id;
    auto first = CardKey::Find(**session, {"cardvault", {}});
    ASSERT_TRUE(first.ok());
    wanted_id = first->id;
  }
  Stanza stanza = WrapTo(wanted, NewFileKey());
  for (const auto& [hide, reason] : {std::pair{HexEncode(wanted_id), "wrong_card"},
                                     std::pair{std::string("*"), "no_key_on_card"}}) {
    SCOPED_TRACE(hide);
    module_.reset();
    ShimEnv env({{"CV_SHIM_HIDE_ID", hide}});
    Module(CARDVAULT_FLAG_SHIM);
    CountingPin pin{kUserPin};
    Pkcs11IdentityOptions options;
    options.module = Module();
    options.key_id = wanted.key_id();
    options.pin_source = pin.Source();
    auto identity = Pkcs11Identity::New(std::move(options));
    ASSERT_TRUE(identity.ok());
    auto result = (*identity)->Unwrap(std::span<const Stanza>(&stanza, 1));
    ASSERT_FALSE(result.ok());
    const std::string message = result.status().message();
    EXPECT_EQ(result.status().reason(), reason) << message;
    EXPECT_NE(message.find("insert the card with key id " + HexEncode(wanted.key_id())),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("card \"alpha\" (serial "), std::string::npos) << message;
    if (hide != "*") {
      EXPECT_NE(message.find("key id " + HexEncode(other.key_id())), std::string::npos) << message;
      EXPECT_NE(message.find("\"second\""), std::string::npos) << message;
    } else {
      EXPECT_NE(message.find("shows no usable key"), std::string::npos) << message;
    }
    EXPECT_EQ(message.find("card init"), std::string::npos) << message;
    EXPECT_EQ(pin.calls, 0);
    module_.reset();
  }
}

// The committed card vectors (tests/vectors/ok_card_*.cvb) open with the real card layer
// once their software keys are imported into a token: the spec, the vectors and
// Pkcs11Identity agree.
TEST_F(CardIdentityTest, OpensTheCommittedCardVectors) {
  const std::string vectors = std::string(CARDVAULT_SOURCE_DIR) + "/tests/vectors/";
  for (const char* key : {"card_rsa2048", "card_p256"}) {
    module_.reset();
    const std::string label = std::string("vec-") + key;
    InitToken(label);
    // Imported with OpenSC's pkcs11-tool (softhsm2-util --import would not allow derive).
    const std::string der = dir() + "/" + key + ".der", pub = dir() + "/" + key + ".pub.der";
    const std::string tool = std::string("pkcs11-tool --module ") + kSoftHsmModule +
                             " --token-label " + label + " --login --pin " + kUserPin +
                             " --id 01 --label cardvault ";
    ASSERT_EQ(Run("openssl pkey -in " + vectors + key + ".pem -outform DER -out " + der +
                  " && openssl pkey -in " + vectors + key + ".pem -pubout -outform DER -out " +
                  pub + " && " + tool + "--write-object " + der +
                  " --type privkey --usage-derive --usage-decrypt >/dev/null 2>&1 && " + tool +
                  "--write-object " + pub + " --type pubkey >/dev/null 2>&1"),
              0);
    CountingPin pin{kUserPin};
    Pkcs11IdentityOptions options;
    options.module = Module();
    options.token.label = label;
    options.pin_source = pin.Source();
    auto identity = Pkcs11Identity::New(std::move(options));  // reads the key id off the card
    ASSERT_TRUE(identity.ok()) << identity.status().ToString();
    const Bytes blob = ReadFile(vectors + "ok_" + key + ".cvb");
    MemorySequentialFile src(blob);
    auto d = OpenBlob(&src, **identity);
    ASSERT_TRUE(d.ok()) << key << ": " << d.status().ToString();
    Bytes plain;
    MemoryWritableFile sink(&plain);
    ASSERT_TRUE((*d)->DecryptTo(sink).ok());
    EXPECT_EQ(plain, ReadFile(vectors + "ok_" + key + ".plain")) << key;
    EXPECT_EQ((*identity)->private_key_operations(), 1u);
  }
}

}  // namespace
}  // namespace cardvault
