// The CardBackend conformance tests (card_backend_contract.h): what every backend MUST do,
// checked through the interface alone against the cards a backend's harness makes.
#include "tests/core/card/card_backend_contract.h"

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <span>
#include <utility>
#include <vector>

#include "core/card/card_reasons.h"
#include "core/card/card_recipient.h"
#include "core/crypto.h"

namespace cardvault {

void PrintTo(const CardBackendHarnessFactory& factory, std::ostream* out) { *out << factory.name; }

std::string CardBackendHarnessName(
    const ::testing::TestParamInfo<CardBackendHarnessFactory>& info) {
  return info.param.name;
}

void CardBackendContractTest::SetUp() {
  harness_ = GetParam().make();
  ASSERT_NE(harness_, nullptr);
}

void CardBackendContractTest::TearDown() { harness_.reset(); }

namespace {

// An RSA-2048 key made here, in software, to import into cards.
struct SoftwareRsaKey {
  Bytes pkcs8;  // PrivateKeyInfo DER
  Bytes pkcs1;  // RSAPrivateKey DER
  Bytes spki;   // SubjectPublicKeyInfo DER
};

SoftwareRsaKey NewSoftwareRsaKey() {
  SoftwareRsaKey key;
  EVP_PKEY* pkey = EVP_RSA_gen(2048);
  EXPECT_NE(pkey, nullptr);
  if (pkey == nullptr) return key;
  auto take = [](int len, unsigned char* der) {
    Bytes out;
    if (len > 0 && der != nullptr) out.assign(der, der + len);
    OPENSSL_free(der);
    return out;
  };
  unsigned char* der = nullptr;
  PKCS8_PRIV_KEY_INFO* p8 = EVP_PKEY2PKCS8(pkey);
  int len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);  // allocates `der`
  key.pkcs8 = take(len, der);
  PKCS8_PRIV_KEY_INFO_free(p8);
  der = nullptr;
  len = i2d_PrivateKey(pkey, &der);  // RSAPrivateKey for an RSA key
  key.pkcs1 = take(len, der);
  der = nullptr;
  len = i2d_PUBKEY(pkey, &der);
  key.spki = take(len, der);
  EVP_PKEY_free(pkey);
  return key;
}

Bytes KeyIdOf(ByteView spki) {
  auto key = CardPublicKey::FromSpki(spki);
  EXPECT_TRUE(key.ok()) << key.status().ToString();
  return key.ok() ? key->key_id() : Bytes();
}

std::string RecipientOf(const CardPublicKey& key) {
  auto recipient = CardRecipient::New(key);
  EXPECT_TRUE(recipient.ok()) << recipient.status().ToString();
  return recipient.ok() ? (*recipient)->ToString() : std::string();
}

// Wraps `file_key` with a recipient built from the SPKI alone, as an encrypting PC does.
Stanza WrapTo(ByteView spki, const SecretData& file_key) {
  auto recipient = CardRecipient::Parse(std::string(kCardRecipientPrefix) + HexEncode(spki));
  EXPECT_TRUE(recipient.ok()) << recipient.status().ToString();
  if (!recipient.ok()) return {};
  auto stanzas = (*recipient)->Wrap(file_key);
  EXPECT_TRUE(stanzas.ok() && stanzas->size() == 1u) << stanzas.status().ToString();
  return stanzas.ok() && !stanzas->empty() ? stanzas->front() : Stanza{};
}

SecretData NewFileKey() { return RandomSecret(32).value(); }

// Counts the PINs asked for, forwarding to the harness's source (null stays null: the
// backend needs no PIN).
class CountingPin {
 public:
  explicit CountingPin(std::shared_ptr<PinSource> inner) : inner_(std::move(inner)) {}
  std::shared_ptr<PinSource> Source() {
    if (!inner_) return nullptr;
    return PinSource::FromCallback([this](const PinRequest& request) {
      ++calls_;
      return inner_->GetPin(request);
    });
  }
  int calls() const { return calls_; }

 private:
  std::shared_ptr<PinSource> inner_;
  int calls_ = 0;
};

const CardInfo* FindCard(const CardListing& listing, const CardSelector& selector) {
  for (const CardInfo& card : listing.cards) {
    if (!card.present) continue;
    if (!selector.label.empty() && card.label != selector.label) continue;
    if (!selector.serial.empty() && card.serial != selector.serial) continue;
    return &card;
  }
  return nullptr;
}

StatusOr<SecretData> UnwrapOne(CardIdentity& identity, const Stanza& stanza) {
  return identity.Unwrap(std::span<const Stanza>(&stanza, 1));
}

#define CV_ASSERT_OK_AND_ASSIGN(lhs, expr)                    \
  auto lhs##_or = (expr);                                     \
  ASSERT_TRUE(lhs##_or.ok()) << lhs##_or.status().ToString(); \
  auto lhs = std::move(lhs##_or).value()

}  // namespace

TEST_P(CardBackendContractTest, ListNeedsNoPinAndShowsTheKeyIdAndRecipientOfTheKey) {
  CV_ASSERT_OK_AND_ASSIGN(card, harness().NewCardWithKey("alpha"));
  CV_ASSERT_OK_AND_ASSIGN(backend, harness().OpenBackend());
  EXPECT_FALSE(backend->Describe().empty());
  CV_ASSERT_OK_AND_ASSIGN(listing, backend->List());  // List takes no PIN source at all
  const CardInfo* info = FindCard(listing, card.selector);
  ASSERT_NE(info, nullptr) << "the card is not listed";
  ASSERT_TRUE(info->keys_status.ok()) << info->keys_status.ToString();
  ASSERT_EQ(info->keys.size(), 1u);
  const CardKeyInfo& key = info->keys[0];
  ASSERT_TRUE(key.public_key.has_value()) << key.unsupported.ToString();
  EXPECT_TRUE(key.usable);
  EXPECT_EQ(key.label, card.key_label);
  EXPECT_EQ(key.public_key->spki(), card.spki);
  EXPECT_EQ(key.public_key->key_id(), KeyIdOf(card.spki));
  auto expected = CardPublicKey::FromSpki(card.spki);
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(RecipientOf(*key.public_key), RecipientOf(*expected));
  EXPECT_EQ(info->default_key, 0) << info->default_key_note;
  if (harness().features().pin_state) {
    EXPECT_TRUE(info->pin.known);
    EXPECT_TRUE(info->pin.initialized);
    EXPECT_FALSE(info->pin.locked);
  } else {
    EXPECT_FALSE(info->pin.known);
  }
}

TEST_P(CardBackendContractTest, ImportedKeyHasTheKeyIdAndRecipientOfItsSpki) {
  const SoftwareRsaKey software = NewSoftwareRsaKey();
  CV_ASSERT_OK_AND_ASSIGN(pkcs8_card, harness().NewCardWithImportedKey("pkcs8", software.pkcs8));
  CV_ASSERT_OK_AND_ASSIGN(pkcs1_card, harness().NewCardWithImportedKey("pkcs1", software.pkcs1));
  EXPECT_EQ(pkcs8_card.spki, software.spki);
  EXPECT_EQ(pkcs1_card.spki, software.spki);
  CV_ASSERT_OK_AND_ASSIGN(backend, harness().OpenBackend());
  CV_ASSERT_OK_AND_ASSIGN(listing, backend->List());
  auto expected = CardPublicKey::FromSpki(software.spki);
  ASSERT_TRUE(expected.ok());
  for (const ContractCard* card : {&pkcs8_card, &pkcs1_card}) {
    const CardInfo* info = FindCard(listing, card->selector);
    ASSERT_NE(info, nullptr) << card->selector.label;
    ASSERT_EQ(info->keys.size(), 1u) << card->selector.label;
    ASSERT_TRUE(info->keys[0].public_key.has_value());
    EXPECT_EQ(info->keys[0].public_key->key_id(), expected->key_id());
    EXPECT_EQ(RecipientOf(*info->keys[0].public_key), RecipientOf(*expected));
  }

  // And the imported key unwraps what was wrapped to the SPKI made in software.
  CountingPin pin(harness().Pin(true));
  CV_ASSERT_OK_AND_ASSIGN(
      identity, backend->OpenIdentity({pkcs1_card.selector, {}, expected->key_id(), pin.Source()}));
  const SecretData file_key = NewFileKey();
  auto unwrapped = UnwrapOne(*identity, WrapTo(software.spki, file_key));
  ASSERT_TRUE(unwrapped.ok()) << unwrapped.status().ToString();
  EXPECT_TRUE(unwrapped->Equals(file_key));
}

TEST_P(CardBackendContractTest, UnwrapsWhatCardRecipientWrappedLoggingInOncePerBatch) {
  CV_ASSERT_OK_AND_ASSIGN(card, harness().NewCardWithKey("alpha"));
  CV_ASSERT_OK_AND_ASSIGN(backend, harness().OpenBackend());
  CountingPin pin(harness().Pin(true));
  CV_ASSERT_OK_AND_ASSIGN(
      identity, backend->OpenIdentity({card.selector, {}, KeyIdOf(card.spki), pin.Source()}));
  EXPECT_EQ(identity->key_id(), KeyIdOf(card.spki));
  for (int i = 0; i < 3; ++i) {  // a batch of three files
    const SecretData file_key = NewFileKey();
    auto unwrapped = UnwrapOne(*identity, WrapTo(card.spki, file_key));
    ASSERT_TRUE(unwrapped.ok()) << unwrapped.status().ToString();
    EXPECT_TRUE(unwrapped->Equals(file_key));
  }
  EXPECT_EQ(identity->private_key_operations(), 3u);
  if (harness().features().pin) {
    EXPECT_EQ(pin.calls(), 1);
  }

  // Without a key id, OpenIdentity reads it off the card (public key, no PIN).
  CountingPin second_pin(harness().Pin(true));
  CV_ASSERT_OK_AND_ASSIGN(read_id,
                          backend->OpenIdentity({card.selector, {}, {}, second_pin.Source()}));
  EXPECT_EQ(read_id->key_id(), KeyIdOf(card.spki));
  EXPECT_EQ(second_pin.calls(), 0);
  EXPECT_EQ(read_id->private_key_operations(), 0u);
  // So does a key selector naming the key's label.
  CV_ASSERT_OK_AND_ASSIGN(
      by_label, backend->OpenIdentity({card.selector, {card.key_label}, {}, second_pin.Source()}));
  EXPECT_EQ(by_label->key_id(), KeyIdOf(card.spki));
}

TEST_P(CardBackendContractTest, StanzaForAnotherKeyIsNoMatchingStanzaWithoutTouchingTheCard) {
  CV_ASSERT_OK_AND_ASSIGN(card, harness().NewCardWithKey("alpha"));
  CV_ASSERT_OK_AND_ASSIGN(backend, harness().OpenBackend());
  CountingPin pin(harness().Pin(true));
  CV_ASSERT_OK_AND_ASSIGN(
      identity, backend->OpenIdentity({card.selector, {}, KeyIdOf(card.spki), pin.Source()}));
  const SoftwareRsaKey other = NewSoftwareRsaKey();
  const Stanza foreign = WrapTo(other.spki, NewFileKey());
  auto result = UnwrapOne(*identity, foreign);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kNotFound) << result.status().ToString();
  EXPECT_EQ(result.status().reason(), "no_matching_stanza") << result.status().ToString();
  EXPECT_EQ(identity->private_key_operations(), 0u);
  EXPECT_EQ(pin.calls(), 0);

  // Among several stanzas, the one for this key is used, and only it reaches the card.
  const SecretData file_key = NewFileKey();
  const std::vector<Stanza> stanzas = {foreign, WrapTo(card.spki, file_key)};
  auto unwrapped = identity->Unwrap(stanzas);
  ASSERT_TRUE(unwrapped.ok()) << unwrapped.status().ToString();
  EXPECT_TRUE(unwrapped->Equals(file_key));
  EXPECT_EQ(identity->private_key_operations(), 1u);
}

TEST_P(CardBackendContractTest, OpenIdentityWithAKeyIdTouchesNothingAndAnAbsentCardIsUnavailable) {
  CV_ASSERT_OK_AND_ASSIGN(card, harness().NewCardWithKey("alpha"));
  ASSERT_TRUE(harness().RemoveCard(card).ok());
  CV_ASSERT_OK_AND_ASSIGN(backend, harness().OpenBackend());
  CV_ASSERT_OK_AND_ASSIGN(listing, backend->List());
  EXPECT_EQ(FindCard(listing, card.selector), nullptr) << "a removed card is listed";

  // Opening needs no card when the key id is known: the card is reached on the first
  // matching Unwrap only.
  CountingPin pin(harness().Pin(true));
  CV_ASSERT_OK_AND_ASSIGN(
      identity, backend->OpenIdentity({card.selector, {}, KeyIdOf(card.spki), pin.Source()}));
  auto foreign = UnwrapOne(*identity, WrapTo(NewSoftwareRsaKey().spki, NewFileKey()));
  EXPECT_EQ(foreign.status().reason(), "no_matching_stanza") << foreign.status().ToString();
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto result = UnwrapOne(*identity, WrapTo(card.spki, NewFileKey()));
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), StatusCode::kUnavailable) << result.status().ToString();
    EXPECT_EQ(result.status().reason(), kReasonCardAbsent) << result.status().ToString();
  }
  EXPECT_EQ(pin.calls(), 0);
  EXPECT_EQ(identity->private_key_operations(), 0u);

  // Without a key id the card must be read: absent.
  auto unknown = backend->OpenIdentity({card.selector, {}, {}, pin.Source()});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().reason(), kReasonCardAbsent) << unknown.status().ToString();
}

TEST_P(CardBackendContractTest, WrongCardNamesTheKeyIdAndAsksNoPin) {
  CV_ASSERT_OK_AND_ASSIGN(alpha, harness().NewCardWithKey("alpha"));
  CV_ASSERT_OK_AND_ASSIGN(beta, harness().NewCardWithKey("beta"));
  CV_ASSERT_OK_AND_ASSIGN(backend, harness().OpenBackend());
  CountingPin pin(harness().Pin(true));
  const Bytes alpha_id = KeyIdOf(alpha.spki);
  // Beta is asked for alpha's key.
  CV_ASSERT_OK_AND_ASSIGN(wrong,
                          backend->OpenIdentity({beta.selector, {}, alpha_id, pin.Source()}));
  auto result = UnwrapOne(*wrong, WrapTo(alpha.spki, NewFileKey()));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kPermissionDenied) << result.status().ToString();
  EXPECT_EQ(result.status().reason(), kReasonWrongCard) << result.status().ToString();
  EXPECT_NE(result.status().message().find(HexEncode(alpha_id)), std::string::npos)
      << result.status().ToString();
  EXPECT_EQ(pin.calls(), 0);
  EXPECT_EQ(wrong->private_key_operations(), 0u);

  // With no card named, every card is searched for the key id.
  const SecretData file_key = NewFileKey();
  CV_ASSERT_OK_AND_ASSIGN(any, backend->OpenIdentity({{}, {}, alpha_id, pin.Source()}));
  auto unwrapped = UnwrapOne(*any, WrapTo(alpha.spki, file_key));
  ASSERT_TRUE(unwrapped.ok()) << unwrapped.status().ToString();
  EXPECT_TRUE(unwrapped->Equals(file_key));

  // A key no card holds: wrong_card, naming it.
  const SoftwareRsaKey missing = NewSoftwareRsaKey();
  CV_ASSERT_OK_AND_ASSIGN(nowhere,
                          backend->OpenIdentity({{}, {}, KeyIdOf(missing.spki), pin.Source()}));
  auto none = UnwrapOne(*nowhere, WrapTo(missing.spki, NewFileKey()));
  EXPECT_EQ(none.status().reason(), kReasonWrongCard) << none.status().ToString();
  EXPECT_NE(none.status().message().find(HexEncode(KeyIdOf(missing.spki))), std::string::npos)
      << none.status().ToString();
}

TEST_P(CardBackendContractTest, CardWithoutAKeyIsNoKeyOnCard) {
  if (!harness().features().empty_card) GTEST_SKIP() << "the harness cannot make an empty card";
  CV_ASSERT_OK_AND_ASSIGN(empty, harness().NewEmptyCard("empty"));
  CV_ASSERT_OK_AND_ASSIGN(backend, harness().OpenBackend());
  CV_ASSERT_OK_AND_ASSIGN(listing, backend->List());
  const CardInfo* info = FindCard(listing, empty.selector);
  ASSERT_NE(info, nullptr);
  EXPECT_TRUE(info->keys.empty());
  EXPECT_EQ(info->default_key, -1);

  CountingPin pin(harness().Pin(true));
  auto unknown = backend->OpenIdentity({empty.selector, {}, {}, pin.Source()});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().reason(), kReasonNoKeyOnCard) << unknown.status().ToString();

  const SoftwareRsaKey software = NewSoftwareRsaKey();
  CV_ASSERT_OK_AND_ASSIGN(
      identity, backend->OpenIdentity({empty.selector, {}, KeyIdOf(software.spki), pin.Source()}));
  auto result = UnwrapOne(*identity, WrapTo(software.spki, NewFileKey()));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().reason(), kReasonNoKeyOnCard) << result.status().ToString();
  EXPECT_EQ(pin.calls(), 0);
}

TEST_P(CardBackendContractTest, WrongPinIsAskedOnceAndSticks) {
  if (!harness().features().pin) GTEST_SKIP() << "the backend asks for no PIN";
  CV_ASSERT_OK_AND_ASSIGN(card, harness().NewCardWithKey("alpha"));
  CV_ASSERT_OK_AND_ASSIGN(backend, harness().OpenBackend());
  CountingPin pin(harness().Pin(false));
  CV_ASSERT_OK_AND_ASSIGN(
      identity, backend->OpenIdentity({card.selector, {}, KeyIdOf(card.spki), pin.Source()}));
  const Stanza stanza = WrapTo(card.spki, NewFileKey());
  for (int i = 0; i < 3; ++i) {  // a batch of three files
    auto result = UnwrapOne(*identity, stanza);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), StatusCode::kPermissionDenied) << result.status().ToString();
    EXPECT_EQ(result.status().reason(), kReasonPinIncorrect) << result.status().ToString();
    EXPECT_TRUE(IsLoginFailure(result.status()));
  }
  EXPECT_EQ(pin.calls(), 1);
  EXPECT_EQ(identity->private_key_operations(), 0u);

  // A new identity with the right PIN works: the wrong one did not lock the card.
  CountingPin right(harness().Pin(true));
  CV_ASSERT_OK_AND_ASSIGN(
      again, backend->OpenIdentity({card.selector, {}, KeyIdOf(card.spki), right.Source()}));
  EXPECT_TRUE(UnwrapOne(*again, stanza).ok());
}

TEST_P(CardBackendContractTest, CreateKeyOnlyWhenCalledAndRefusesAnExistingLabel) {
  if (!harness().features().empty_card || !harness().features().create_key) {
    GTEST_SKIP() << "the harness cannot make an empty card or create a key on it";
  }
  CV_ASSERT_OK_AND_ASSIGN(empty, harness().NewEmptyCard("fresh"));
  CV_ASSERT_OK_AND_ASSIGN(backend, harness().OpenBackend());
  // Listing and opening create nothing.
  CV_ASSERT_OK_AND_ASSIGN(before, backend->List());
  const CardInfo* info = FindCard(before, empty.selector);
  ASSERT_NE(info, nullptr);
  EXPECT_TRUE(info->keys.empty());
  EXPECT_FALSE(backend->OpenIdentity({empty.selector, {}, {}, harness().Pin(true)}).ok());
  CV_ASSERT_OK_AND_ASSIGN(still, backend->List());
  ASSERT_NE(FindCard(still, empty.selector), nullptr);
  EXPECT_TRUE(FindCard(still, empty.selector)->keys.empty());

  CountingPin pin(harness().Pin(true));
  NewCardKeyRequest request;
  request.card = empty.selector;
  request.algorithm = CardKeyAlgorithm::kRsa2048;
  request.label = empty.key_label;
  request.pin_source = pin.Source();
  CV_ASSERT_OK_AND_ASSIGN(created, backend->CreateKey(request));
  ASSERT_TRUE(created.key.public_key.has_value());
  EXPECT_EQ(created.key.public_key->bits(), 2048);
  EXPECT_EQ(created.key.label, empty.key_label);
  if (harness().features().pin) {
    EXPECT_EQ(pin.calls(), 1);
  }

  CV_ASSERT_OK_AND_ASSIGN(after, backend->List());
  info = FindCard(after, empty.selector);
  ASSERT_NE(info, nullptr);
  ASSERT_EQ(info->keys.size(), 1u);
  ASSERT_TRUE(info->keys[0].public_key.has_value());
  EXPECT_EQ(info->keys[0].public_key->key_id(), created.key.public_key->key_id());

  // The new key unwraps what its recipient wrapped.
  const SecretData file_key = NewFileKey();
  CV_ASSERT_OK_AND_ASSIGN(identity,
                          backend->OpenIdentity({empty.selector, {}, {}, harness().Pin(true)}));
  EXPECT_EQ(identity->key_id(), created.key.public_key->key_id());
  auto unwrapped = UnwrapOne(*identity, WrapTo(created.key.public_key->spki(), file_key));
  ASSERT_TRUE(unwrapped.ok()) << unwrapped.status().ToString();
  EXPECT_TRUE(unwrapped->Equals(file_key));

  // The label is taken now: refused, nothing added.
  auto again = backend->CreateKey(request);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists) << again.status().ToString();
  EXPECT_EQ(again.status().reason(), kReasonKeyExists) << again.status().ToString();
  CV_ASSERT_OK_AND_ASSIGN(last, backend->List());
  ASSERT_NE(FindCard(last, empty.selector), nullptr);
  EXPECT_EQ(FindCard(last, empty.selector)->keys.size(), 1u);
}

TEST_P(CardBackendContractTest, CreateKeyRefusesTheLabelOfAKeyAlreadyOnTheCard) {
  if (!harness().features().create_key) GTEST_SKIP() << "the backend cannot create keys here";
  CV_ASSERT_OK_AND_ASSIGN(card, harness().NewCardWithKey("alpha"));
  CV_ASSERT_OK_AND_ASSIGN(backend, harness().OpenBackend());
  NewCardKeyRequest request;
  request.card = card.selector;
  request.algorithm = CardKeyAlgorithm::kRsa2048;
  request.label = card.key_label;
  request.pin_source = harness().Pin(true);
  auto result = backend->CreateKey(request);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().reason(), kReasonKeyExists) << result.status().ToString();
  CV_ASSERT_OK_AND_ASSIGN(listing, backend->List());
  const CardInfo* info = FindCard(listing, card.selector);
  ASSERT_NE(info, nullptr);
  ASSERT_EQ(info->keys.size(), 1u);
  EXPECT_EQ(info->keys[0].public_key->spki(), card.spki);
}

}  // namespace cardvault
