// Tests for key epochs with software identities standing in for cards: the card-operation
// count, backup cards, rewrapping recipients without touching files, hints and errors.
#include "core/key_epoch.h"

#include <gtest/gtest.h>

#include "core/decryptor.h"
#include "core/encryptor.h"
#include "core/memory_file.h"

namespace cardvault {
namespace {

// Stands in for a card: counts private-key operations (successful unwraps), and can be
// told to fail like a card with a wrong PIN.
class CountingCard final : public Identity {
 public:
  CountingCard() : key_(X25519Identity::Generate().value()) {}
  StatusOr<SecretData> Unwrap(std::span<const Stanza> stanzas) override {
    if (fail_) return PermissionDeniedError("wrong PIN", "pin_incorrect");
    auto r = key_.Unwrap(stanzas);
    if (r.ok()) ++operations_;
    return r;
  }
  X25519Recipient recipient() const { return key_.recipient(); }
  int operations() const { return operations_; }
  void set_fail(bool f) { fail_ = f; }

 private:
  X25519Identity key_;
  int operations_ = 0;
  bool fail_ = false;
};

Bytes EncryptTo(Recipient& r, const std::string& content) {
  Recipient* rs[] = {&r};
  MemorySequentialFile src(AsBytes(content));
  Bytes blob;
  MemoryWritableFile sink(&blob);
  EXPECT_TRUE(EncryptStream(src, sink, rs, {}).ok());
  return blob;
}

StatusOr<std::string> DecryptWith(Identity& id, const Bytes& blob) {
  MemorySequentialFile src(blob);
  CV_ASSIGN_OR_RETURN(auto d, OpenBlob(&src, id));
  Bytes out;
  MemoryWritableFile sink(&out);
  CV_RETURN_IF_ERROR(d->DecryptTo(sink));
  return std::string(out.begin(), out.end());
}

TEST(KeyEpochTest, ThousandFilesOverThreeEpochsCostThreeCardOperations) {
  CountingCard card;
  X25519Recipient card_recipient = card.recipient();
  Recipient* cards[] = {&card_recipient};
  std::vector<NewEpoch> epochs;
  std::vector<Bytes> blobs;
  for (int e = 0; e < 3; ++e) {
    epochs.push_back(CreateEpoch(cards, 1000 + e).value());
    for (int i = 0; i < 334 - (e == 2 ? 2 : 0); ++i) {
      blobs.push_back(EncryptTo(epochs.back().recipient, "file " + std::to_string(blobs.size())));
    }
  }
  ASSERT_EQ(blobs.size(), 1000u);
  EXPECT_EQ(card.operations(), 0) << "encrypting needs no card";
  EpochKeyring keyring(&card);
  for (const NewEpoch& e : epochs) ASSERT_TRUE(keyring.AddKeyObject(e.key_object, e.epoch_id).ok());
  for (size_t i = 0; i < blobs.size(); ++i) {
    auto text = DecryptWith(keyring, blobs[i]);
    ASSERT_TRUE(text.ok()) << i << " " << text.status().ToString();
    EXPECT_EQ(*text, "file " + std::to_string(i));
  }
  EXPECT_EQ(card.operations(), 3);
  EXPECT_EQ(keyring.opened_epochs(), 3u);
  keyring.Forget();
  ASSERT_TRUE(DecryptWith(keyring, blobs[0]).status().code() == StatusCode::kNotFound);
}

TEST(KeyEpochTest, BackupCardAndOfflineDecryptionFromOneKeyObject) {
  CountingCard primary, backup;
  X25519Recipient r1 = primary.recipient(), r2 = backup.recipient();
  Recipient* cards[] = {&r1, &r2};
  NewEpoch epoch = CreateEpoch(cards, 0).value();
  Bytes blob = EncryptTo(epoch.recipient, "secret");
  // Only the blob, its key object and a card; no hint: opened on demand.
  EpochKeyring keyring(&backup);
  ASSERT_TRUE(keyring.AddKeyObject(epoch.key_object).ok());
  EXPECT_EQ(DecryptWith(keyring, blob).value(), "secret");
  EXPECT_EQ(backup.operations(), 1);
  EXPECT_EQ(primary.operations(), 0);
}

TEST(KeyEpochTest, RewrapChangesRecipientsNotFiles) {
  CountingCard old_card, new_card;
  X25519Recipient r_old = old_card.recipient(), r_new = new_card.recipient();
  Recipient* before[] = {&r_old};
  NewEpoch epoch = CreateEpoch(before, 0).value();
  Bytes blob = EncryptTo(epoch.recipient, "kept");
  const Bytes blob_before = blob;

  Recipient* after[] = {&r_new};
  auto rewrapped = RewrapKeyObject(epoch.key_object, old_card, after);
  ASSERT_TRUE(rewrapped.ok()) << rewrapped.status().ToString();
  // The key object's payload is unchanged; only its header differs.
  const size_t payload = format::PayloadCiphertextSize(32);
  EXPECT_TRUE(
      std::equal(rewrapped->end() - payload, rewrapped->end(), epoch.key_object.end() - payload));

  EpochKeyring with_new(&new_card);
  ASSERT_TRUE(with_new.AddKeyObject(*rewrapped, epoch.epoch_id).ok());
  EXPECT_EQ(DecryptWith(with_new, blob).value(), "kept");
  EXPECT_EQ(blob, blob_before) << "files are never touched";

  // The removed card can no longer open the rewrapped key object.
  EpochKeyring with_old(&old_card);
  ASSERT_TRUE(with_old.AddKeyObject(*rewrapped, epoch.epoch_id).ok());
  EXPECT_EQ(DecryptWith(with_old, blob).status().reason(), "no_matching_stanza");
}

TEST(KeyEpochTest, WrongHintIsDetected) {
  CountingCard card;
  X25519Recipient r = card.recipient();
  Recipient* cards[] = {&r};
  NewEpoch a = CreateEpoch(cards, 0).value(), b = CreateEpoch(cards, 0).value();
  Bytes blob = EncryptTo(a.recipient, "x");
  EpochKeyring keyring(&card);
  ASSERT_TRUE(keyring.AddKeyObject(b.key_object, a.epoch_id).ok());  // swapped by the server
  EXPECT_EQ(DecryptWith(keyring, blob).status().reason(), "key_object_mismatch");
}

TEST(KeyEpochTest, UnknownEpochAndCardErrors) {
  CountingCard card;
  X25519Recipient r = card.recipient();
  Recipient* cards[] = {&r};
  NewEpoch epoch = CreateEpoch(cards, 0).value();
  Bytes blob = EncryptTo(epoch.recipient, "x");

  EpochKeyring empty(&card);
  Status s = DecryptWith(empty, blob).status();
  EXPECT_EQ(s.reason(), "no_matching_stanza");
  EXPECT_NE(s.message().find(HexEncode(epoch.epoch_id)), std::string::npos) << s.message();

  EpochKeyring keyring(&card);
  ASSERT_TRUE(keyring.AddKeyObject(epoch.key_object, epoch.epoch_id).ok());
  card.set_fail(true);
  EXPECT_EQ(DecryptWith(keyring, blob).status().reason(), "pin_incorrect");
  EXPECT_EQ(keyring.unopened_key_objects(), 1u) << "a failed card operation opens nothing";
  card.set_fail(false);
  EXPECT_EQ(DecryptWith(keyring, blob).value(), "x");
  EXPECT_FALSE(keyring.AddKeyObject(AsBytes("not a blob")).ok());
}

}  // namespace
}  // namespace cardvault
