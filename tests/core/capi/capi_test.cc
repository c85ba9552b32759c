// CapiBackend and CapiIdentity under Wine, with Wine's software provider (MS_ENH_RSA_AES_PROV)
// standing in for the smart card CSP: silent opens, creation only on request, key ids equal
// to the Linux ones, unwrapping CardRecipient stanzas and the committed card vector.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/capi/capi_backend.h"
#include "core/capi/capi_identity.h"
#include "core/card/card_reasons.h"
#include "core/card/card_recipient.h"
#include "core/decryptor.h"
#include "core/memory_file.h"
#include "tests/core/capi/capi_test_support.h"
#include "tests/core/test_platform.h"

namespace cardvault {
namespace {

const std::string kVectors = std::string(CARDVAULT_SOURCE_DIR) + "/tests/vectors/";
// tests/vectors/keys.txt, "card_rsa2048".
constexpr char kVectorKeyId[] = "15ba472198fdfca1";

Bytes Load(const std::string& name) {
  return ReadFileToBytes(*Env::Default(), kVectors + name).value();
}

SecretData RandomFileKey() {
  SecretData key(32);
  EXPECT_TRUE(Env::Default()->RandomBytes(key.mutable_span()).ok());
  return key;
}

class CapiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StatusOr<std::unique_ptr<CapiBackend>> backend =
        CapiBackend::New(TestProvider().name, TestProvider().type);
    ASSERT_TRUE(backend.ok()) << backend.status().ToString();
    backend_ = std::move(backend).value();
  }

  // The listing entry of container `name`, or null.
  std::optional<CardInfo> Listed(const std::string& name) {
    StatusOr<CardListing> listing = backend_->List();
    EXPECT_TRUE(listing.ok()) << listing.status().ToString();
    if (!listing.ok()) return std::nullopt;
    for (CardInfo& card : listing->cards) {
      if (card.label == name) return std::move(card);
    }
    return std::nullopt;
  }

  NewCardKey Create(const std::string& name,
                    CardKeyAlgorithm algorithm = CardKeyAlgorithm::kRsa2048) {
    NewCardKeyRequest request;
    request.label = cleanup_.Add(name);
    request.algorithm = algorithm;
    StatusOr<NewCardKey> created = backend_->CreateKey(request);
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    return created.ok() ? std::move(created).value() : NewCardKey{};
  }

  // A container holding the committed card_rsa2048 key: quicker than CryptGenKey under Wine.
  NewCardKey ImportVectorKey(const std::string& name) {
    NewCardKey imported;
    Status status = ImportRsaKey(TestProvider(), cleanup_.Add(name), Load("card_rsa2048.pem"));
    EXPECT_TRUE(status.ok()) << status.ToString();
    imported.key.label = name;
    imported.key.public_key = CardPublicKey::FromSpki(Load("card_rsa2048.pub.pem")).value();
    return imported;
  }

  std::unique_ptr<CardIdentity> Open(CardIdentityRequest request) {
    StatusOr<std::unique_ptr<CardIdentity>> identity = backend_->OpenIdentity(std::move(request));
    EXPECT_TRUE(identity.ok()) << identity.status().ToString();
    return identity.ok() ? std::move(identity).value() : nullptr;
  }

  std::unique_ptr<CapiBackend> backend_;
  ContainerCleanup cleanup_{TestProvider()};
};

TEST_F(CapiTest, NewRefusesAProviderThatIsNotInstalled) {
  StatusOr<std::unique_ptr<CapiBackend>> backend =
      CapiBackend::New("Microsoft Base Smart Card Crypto Provider (not here)", 1);
  ASSERT_FALSE(backend.ok());
  EXPECT_EQ(backend.status().reason(), kReasonModuleMissing) << backend.status().ToString();
  EXPECT_NE(backend.status().message().find("--provider"), std::string::npos);
}

TEST_F(CapiTest, SilentOpenOfAMissingContainerIsCardAbsentAndCreatesNothing) {
  const std::string name = cleanup_.Add(NewContainerName());
  CardIdentityRequest request;
  request.card.label = name;
  StatusOr<std::unique_ptr<CardIdentity>> identity = backend_->OpenIdentity(request);
  ASSERT_FALSE(identity.ok());
  EXPECT_EQ(identity.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(identity.status().reason(), kReasonCardAbsent) << identity.status().ToString();
  EXPECT_NE(identity.status().message().find("no key container \"" + name + "\""),
            std::string::npos)
      << identity.status().message();
  EXPECT_NE(identity.status().message().find("cardvault card init"), std::string::npos);
  // Nothing was created: the listing does not show it, and it still cannot be opened.
  EXPECT_FALSE(Listed(name).has_value());
  uint32_t error = 0;
  EXPECT_FALSE(CapiContext::Open(TestProvider(), name, CapiOpenMode::kSilent, &error).ok());
  EXPECT_EQ(error, 0x80090016u);  // NTE_BAD_KEYSET
}

TEST_F(CapiTest, CreateKeyCreatesAndListShowsItsKeyIdAndRecipient) {
  const std::string name = NewContainerName();
  EXPECT_FALSE(Listed(name).has_value());
  NewCardKey created = Create(name);
  ASSERT_TRUE(created.key.public_key.has_value());
  EXPECT_EQ(created.key.public_key->type(), CardKeyType::kRsa);
  EXPECT_EQ(created.key.public_key->bits(), 2048);

  std::optional<CardInfo> card = Listed(name);
  ASSERT_TRUE(card.has_value());
  EXPECT_TRUE(card->present);
  EXPECT_FALSE(card->pin.known);  // CryptoAPI does not tell
  ASSERT_EQ(card->keys.size(), 1u);
  ASSERT_EQ(card->default_key, 0);
  const CardKeyInfo& key = card->keys[0];
  EXPECT_EQ(key.label, name);
  EXPECT_TRUE(key.usable);
  ASSERT_TRUE(key.public_key.has_value());
  // The key id is KeyIdFromSpki of the DER SubjectPublicKeyInfo, as on Linux.
  EXPECT_EQ(key.public_key->key_id(), created.key.public_key->key_id());
  EXPECT_EQ(key.public_key->key_id(), CardPublicKey::FromSpki(key.public_key->spki())->key_id());
  std::string recipient = CardRecipient::New(*key.public_key).value()->ToString();
  EXPECT_EQ(recipient.rfind("cv-p11-30820122", 0), 0u) << recipient;
}

TEST_F(CapiTest, CreateKeyMakesRsa3072) {
  NewCardKey created = Create(NewContainerName(), CardKeyAlgorithm::kRsa3072);
  ASSERT_TRUE(created.key.public_key.has_value());
  EXPECT_EQ(created.key.public_key->bits(), 3072);
}

TEST_F(CapiTest, CreateKeyRefusesAnExistingContainer) {
  const std::string name = NewContainerName();
  NewCardKey first = Create(name);
  NewCardKeyRequest again;
  again.label = name;
  again.algorithm = CardKeyAlgorithm::kRsa2048;
  StatusOr<NewCardKey> second = backend_->CreateKey(again);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().reason(), kReasonKeyExists) << second.status().ToString();
  // The first key is still there.
  std::optional<CardInfo> card = Listed(name);
  ASSERT_TRUE(card.has_value() && card->keys.size() == 1 && card->keys[0].public_key);
  EXPECT_EQ(card->keys[0].public_key->key_id(), first.key.public_key->key_id());
}

TEST_F(CapiTest, CreateKeyRefusesP256SayingWhyAndCreatesNothing) {
  NewCardKeyRequest request;
  request.label = cleanup_.Add(NewContainerName());
  request.algorithm = CardKeyAlgorithm::kEcP256;
  StatusOr<NewCardKey> created = backend_->CreateKey(request);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().code(), StatusCode::kUnsupported);
  EXPECT_EQ(created.status().reason(), kReasonMechanismUnsupported);
  EXPECT_NE(created.status().message().find("Smart Card Key Storage Provider"), std::string::npos);
  EXPECT_FALSE(Listed(request.label).has_value());
}

TEST_F(CapiTest, UnwrapsACardRecipientStanzaWithOneContext) {
  const std::string name = NewContainerName();
  NewCardKey created = Create(name);
  auto recipient = CardRecipient::New(*created.key.public_key).value();
  CardIdentityRequest request;
  request.card.label = name;
  request.key_id = created.key.public_key->key_id();
  std::unique_ptr<CardIdentity> identity = Open(request);
  ASSERT_NE(identity, nullptr);
  for (int i = 1; i <= 3; ++i) {
    SecretData file_key = RandomFileKey();
    std::vector<Stanza> stanzas = recipient->Wrap(file_key).value();
    ASSERT_EQ(stanzas[0].type, "p11-rsa-oaep-sha1");
    StatusOr<SecretData> unwrapped = identity->Unwrap(stanzas);
    ASSERT_TRUE(unwrapped.ok()) << unwrapped.status().ToString();
    EXPECT_TRUE(unwrapped->Equals(file_key));
    EXPECT_EQ(identity->private_key_operations(), static_cast<uint64_t>(i));
  }
}

TEST_F(CapiTest, WithoutSelectorsTheKeyIdFindsItsContainer) {
  NewCardKey other = ImportVectorKey(NewContainerName());
  NewCardKey created = Create(NewContainerName());
  CardIdentityRequest request;
  request.key_id = created.key.public_key->key_id();
  std::unique_ptr<CardIdentity> identity = Open(request);
  ASSERT_NE(identity, nullptr);
  SecretData file_key = RandomFileKey();
  auto stanzas = CardRecipient::New(*created.key.public_key).value()->Wrap(file_key).value();
  StatusOr<SecretData> unwrapped = identity->Unwrap(stanzas);
  ASSERT_TRUE(unwrapped.ok()) << unwrapped.status().ToString();
  EXPECT_TRUE(unwrapped->Equals(file_key));
}

TEST_F(CapiTest, AStanzaForAnotherKeyTouchesNothing) {
  // The container does not exist: any provider call would fail with card_absent.
  CardIdentityRequest request;
  request.card.label = cleanup_.Add(NewContainerName());
  request.key_id = HexDecode("0011223344556677").value();
  request.pin_source = PinSource::FromCallback([](const PinRequest&) -> StatusOr<SecretData> {
    ADD_FAILURE() << "no PIN may be asked";
    return SecretData::CopyFrom("1234");
  });
  std::unique_ptr<CardIdentity> identity = Open(request);
  ASSERT_NE(identity, nullptr);
  Stanza other{"p11-rsa-oaep-sha1", HexDecode("8899aabbccddeeff").value(), {}, Bytes(256, 1)};
  Stanza same_id_other_type{"X25519", request.key_id, {}, Bytes(32, 1)};
  StatusOr<SecretData> unwrapped = identity->Unwrap(std::vector<Stanza>{other, same_id_other_type});
  ASSERT_FALSE(unwrapped.ok());
  EXPECT_EQ(unwrapped.status().reason(), "no_matching_stanza") << unwrapped.status().ToString();
  EXPECT_EQ(identity->private_key_operations(), 0u);
}

TEST_F(CapiTest, AContainerWithAnotherKeyIsTheWrongCard) {
  const std::string name = NewContainerName();
  ImportVectorKey(name);
  NewCardKey elsewhere = Create(NewContainerName());
  CardIdentityRequest request;
  request.card.label = name;
  request.key_id = elsewhere.key.public_key->key_id();
  std::unique_ptr<CardIdentity> identity = Open(request);
  ASSERT_NE(identity, nullptr);
  auto stanzas =
      CardRecipient::New(*elsewhere.key.public_key).value()->Wrap(RandomFileKey()).value();
  StatusOr<SecretData> unwrapped = identity->Unwrap(stanzas);
  ASSERT_FALSE(unwrapped.ok());
  EXPECT_EQ(unwrapped.status().reason(), kReasonWrongCard) << unwrapped.status().ToString();
  EXPECT_NE(unwrapped.status().message().find(HexEncode(request.key_id)), std::string::npos);
  EXPECT_EQ(identity->private_key_operations(), 0u);
}

TEST_F(CapiTest, ThePinSourceIsAskedOncePerLogin) {
  const std::string name = NewContainerName();
  NewCardKey created = ImportVectorKey(name);
  int asked = 0;
  CardIdentityRequest request;
  request.card.label = name;
  request.key_id = created.key.public_key->key_id();
  request.pin_source = PinSource::FromCallback([&](const PinRequest& r) -> StatusOr<SecretData> {
    ++asked;
    EXPECT_EQ(r.token_label, name);
    return SecretData::CopyFrom("123456");
  });
  std::unique_ptr<CardIdentity> identity = Open(request);
  ASSERT_NE(identity, nullptr);
  auto recipient = CardRecipient::New(*created.key.public_key).value();
  for (int i = 0; i < 2; ++i) {
    SecretData file_key = RandomFileKey();
    StatusOr<SecretData> unwrapped = identity->Unwrap(recipient->Wrap(file_key).value());
    ASSERT_TRUE(unwrapped.ok()) << unwrapped.status().ToString();
    EXPECT_TRUE(unwrapped->Equals(file_key));
  }
  EXPECT_EQ(asked, 1);
}

TEST_F(CapiTest, AFailedLoginIsStickyAndNeverAskedAgain) {
  const std::string name = NewContainerName();
  NewCardKey created = ImportVectorKey(name);
  int asked = 0;
  CardIdentityRequest request;
  request.card.label = name;
  request.key_id = created.key.public_key->key_id();
  request.pin_source = PinSource::FromCallback([&](const PinRequest&) -> StatusOr<SecretData> {
    ++asked;
    return CancelledError("the PIN prompt was cancelled", kReasonPinCancelled);
  });
  std::unique_ptr<CardIdentity> identity = Open(request);
  ASSERT_NE(identity, nullptr);
  auto recipient = CardRecipient::New(*created.key.public_key).value();
  for (int i = 0; i < 3; ++i) {
    StatusOr<SecretData> unwrapped = identity->Unwrap(recipient->Wrap(RandomFileKey()).value());
    ASSERT_FALSE(unwrapped.ok());
    EXPECT_EQ(unwrapped.status().reason(), kReasonPinCancelled);
  }
  EXPECT_EQ(asked, 1);
  EXPECT_EQ(identity->private_key_operations(), 0u);
}

TEST_F(CapiTest, ZeroIdleTimeoutReleasesTheContextAfterEveryUnwrap) {
  const std::string name = NewContainerName();
  NewCardKey created = ImportVectorKey(name);
  int asked = 0;
  CardIdentityRequest request;
  request.card.label = name;
  request.key_id = created.key.public_key->key_id();
  request.idle_timeout = std::chrono::seconds(0);
  request.pin_source = PinSource::FromCallback([&](const PinRequest&) -> StatusOr<SecretData> {
    ++asked;
    return SecretData::CopyFrom("123456");
  });
  std::unique_ptr<CardIdentity> identity = Open(request);
  auto recipient = CardRecipient::New(*created.key.public_key).value();
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(identity->Unwrap(recipient->Wrap(RandomFileKey()).value()).ok());
  }
  EXPECT_EQ(asked, 2);  // logged in again each time
}

// What `--pin-file` hands to PP_KEYEXCHANGE_PIN on Windows: the first line, CRLF removed
// (core/card/pin_source.cc builds with MinGW; Windows keeps access in ACLs, not mode bits).
TEST(CapiPinFileTest, APinFileGivesItsFirstLineOnWindows) {
  const std::string dir = NewTempDir("cv-pin");
  const std::string path = dir + "/pin.txt";
  ASSERT_TRUE(WriteFileAtomically(*Env::Default(), path, AsBytes("123456\r\nsecond\r\n")).ok());
  StatusOr<SecretData> pin = PinSource::FromFile(path)->GetPin(PinRequest{});
  ASSERT_TRUE(pin.ok()) << pin.status().ToString();
  EXPECT_EQ(pin->AsStringView(), "123456");
  ASSERT_TRUE(WriteFileAtomically(*Env::Default(), path, AsBytes("\r\n")).ok());
  EXPECT_EQ(PinSource::FromFile(path)->GetPin(PinRequest{}).status().reason(), kReasonPinEmpty);
  Env::Default()->RemoveFile(path).IgnoreError();
  std::filesystem::remove(dir);
}

TEST_F(CapiTest, ImportedVectorKeyShowsTheLinuxKeyIdAndRecipient) {
  const std::string name = cleanup_.Add(NewContainerName());
  ASSERT_TRUE(ImportRsaKey(TestProvider(), name, Load("card_rsa2048.pem")).ok());
  std::optional<CardInfo> card = Listed(name);
  ASSERT_TRUE(card.has_value() && card->keys.size() == 1 && card->keys[0].public_key);
  EXPECT_EQ(HexEncode(card->keys[0].public_key->key_id()), kVectorKeyId);
  const Bytes pem = Load("card_rsa2048.pub.pem");
  EXPECT_EQ(card->keys[0].public_key->spki(), CardPublicKey::FromSpki(pem)->spki());
}

// Decrypts a committed blob with the key of card_rsa2048.pem imported into a container.
Status DecryptVector(CardBackend& backend, const std::string& container, const std::string& blob,
                     Bytes* plain) {
  CardIdentityRequest request;
  request.card.label = container;
  request.key_id = HexDecode(kVectorKeyId).value();
  CV_ASSIGN_OR_RETURN(std::unique_ptr<CardIdentity> identity, backend.OpenIdentity(request));
  Bytes data = Load(blob);
  MemorySequentialFile source(data);
  CV_ASSIGN_OR_RETURN(std::unique_ptr<Decryptor> decryptor, OpenBlob(&source, *identity));
  MemoryWritableFile sink(plain);
  return decryptor->DecryptTo(sink);
}

TEST_F(CapiTest, TheCommittedCardVectorDecrypts) {
  const std::string name = cleanup_.Add(NewContainerName());
  ASSERT_TRUE(ImportRsaKey(TestProvider(), name, Load("card_rsa2048.pem")).ok());
  Bytes plain;
  Status status = DecryptVector(*backend_, name, "ok_card_rsa2048.cvb", &plain);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(plain, Load("ok_card_rsa2048.plain"));
}

TEST_F(CapiTest, AFlippedStanzaBitIsCorrupt) {
  const std::string name = cleanup_.Add(NewContainerName());
  ASSERT_TRUE(ImportRsaKey(TestProvider(), name, Load("card_rsa2048.pem")).ok());
  Bytes plain;
  Status status = DecryptVector(*backend_, name, "stanza_unwrap_failed_card_rsa2048.cvb", &plain);
  EXPECT_EQ(status.code(), StatusCode::kCorrupt) << status.ToString();
  EXPECT_EQ(status.reason(), "stanza_unwrap_failed") << status.ToString();
  EXPECT_TRUE(plain.empty());
}

}  // namespace
}  // namespace cardvault
