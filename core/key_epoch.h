// Key epochs: files are wrapped to a software epoch key whose private half is itself
// wrapped to every card recipient in a small key object, so that decrypting files of E
// epochs costs at most E card operations and recipients change without touching files.
#ifndef CARDVAULT_CORE_KEY_EPOCH_H_
#define CARDVAULT_CORE_KEY_EPOCH_H_

#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/env.h"
#include "core/identity.h"
#include "core/recipient.h"
#include "core/x25519_recipient.h"

namespace cardvault {

// A new epoch, as the agent holds it: the public key to wrap file keys to, and the key
// object to upload before any file of the epoch. Security property: nothing in it decrypts
// anything; the epoch private key was wiped after being wrapped to the recipients.
struct NewEpoch {
  X25519Recipient recipient;  // wrap file keys to this (stanza type X25519)
  Bytes epoch_id;             // the recipient's key id; names the key object
  Bytes key_object;           // a format v1 blob of kind kKeyObject
};

// Generates an epoch key pair, wraps its private half to every one of `recipients` (cards,
// backup cards, a recovery key) into a key object, and wipes the private half. `created_ns`
// is stored as the key object's mtime.
StatusOr<NewEpoch> CreateEpoch(std::span<Recipient* const> recipients, int64_t created_ns,
                               Env* env = nullptr);

// Replaces the stanzas of a key object with stanzas for `recipients` (adding or removing a
// card): the card `opener` unwraps the key object once; the payload bytes stay the same.
StatusOr<Bytes> RewrapKeyObject(ByteView key_object, Identity& opener,
                                std::span<Recipient* const> recipients);

// The restore side: an Identity over file stanzas addressed to epoch keys. It holds key
// objects unopened; when a file needs an epoch whose key is not open yet, it opens that
// epoch's key object with `card` (one card private-key operation) and keeps the epoch key
// in memory for the following files. So decrypting files of E epochs costs at most E card
// operations. Lifetime: `card` MUST outlive the keyring. Not thread-safe.
class EpochKeyring final : public Identity {
 public:
  explicit EpochKeyring(Identity* card) : card_(card) {}

  // Registers a key object. `epoch_id_hint` (the epoch's key id, e.g. from the object's
  // name on the server) lets the keyring open exactly the key object a file needs; the hint
  // is checked against the key actually found inside. Without a hint the object is opened
  // only when a file names an epoch no opened or hinted key object holds.
  // kCorrupt if `key_object` does not even parse as a blob header.
  Status AddKeyObject(ByteView key_object, ByteView epoch_id_hint = {});

  // Contract of Identity. NotFound ("no_matching_stanza") names the epoch ids wanted when
  // no key object holds them; card errors (absent, wrong PIN) pass through unchanged and
  // leave the key object unopened, so a later call may try again.
  StatusOr<SecretData> Unwrap(std::span<const Stanza> stanzas) override;

  // As Unwrap, but only with epochs already opened: it never opens a key object or touches
  // the card, so several threads MAY call it at once while no non-const method runs.
  // NotFound ("no_matching_stanza") when no opened epoch matches.
  StatusOr<SecretData> UnwrapWithOpenedEpochs(std::span<const Stanza> stanzas) const;

  // Opens the i-th unopened key object now (one card operation), e.g. to learn before any
  // file is fetched whether the card holds a key of this vault. On success the object
  // leaves the unopened list (the next one moves to index i). Errors as for Unwrap; on a
  // card error the object stays unopened, on kCorrupt it is dropped.
  Status OpenKeyObjectAt(size_t i) { return Open(i).status(); }

  size_t unopened_key_objects() const { return unopened_.size(); }
  // The epoch id hint the i-th unopened key object was added with (empty without one).
  ByteView unopened_hint(size_t i) const { return unopened_[i].hint; }
  size_t opened_epochs() const { return opened_.size(); }
  // Wipes every opened epoch key (e.g. after an idle timeout).
  void Forget() { opened_.clear(); }

 private:
  struct KeyObject {
    Bytes hint;
    Bytes blob;
  };
  // Opens unopened_[i] with the card and files it under its real epoch id.
  StatusOr<X25519Identity*> Open(size_t i);

  Identity* card_;
  std::vector<KeyObject> unopened_;
  std::map<Bytes, std::unique_ptr<X25519Identity>> opened_;  // epoch id -> epoch key
};

}  // namespace cardvault

#endif  // CARDVAULT_CORE_KEY_EPOCH_H_
