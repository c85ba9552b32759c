// CardIdentitySet: decrypts with whichever of several card keys a blob is addressed to.
#ifndef CARDVAULT_AGENT_CARD_CARD_IDENTITY_SET_H_
#define CARDVAULT_AGENT_CARD_CARD_IDENTITY_SET_H_

#include <memory>
#include <vector>

#include "core/card/card_backend.h"
#include "core/card/card_identity.h"

namespace cardvault {

// One CardIdentity per card key id (a blob may be wrapped to a main and a backup card),
// opened through one CardBackend with the card and key selectors and the PIN source of
// `base`.
//
// Unwrap asks them in order. A key whose card is not inserted (wrong_card,
// no_key_on_card, card_absent) or that has no stanza (no_matching_stanza) passes to the
// next; any other failure, notably every PIN failure (pin_incorrect, login_failed, ...)
// and a card pulled or failing mid-operation (card_removed, card_failed), stops at once, so
// the PIN is asked at most once per card and never retried. If all pass, the first "wrong card"
// class error is returned (it names the cards seen). Not thread-safe.
class CardIdentitySet : public Identity {
 public:
  // `key_ids` MUST be non-empty, 8 bytes each; base.key_id is ignored. Touches no card (the
  // backend's OpenIdentity with a key id). Keeps `backend` for as long as the set lives.
  static StatusOr<std::unique_ptr<CardIdentitySet>> New(std::shared_ptr<CardBackend> backend,
                                                        const CardIdentityRequest& base,
                                                        const std::vector<Bytes>& key_ids);

  StatusOr<SecretData> Unwrap(std::span<const Stanza> stanzas) override;

  // Card private-key operations made so far, summed over the keys.
  uint64_t private_key_operations() const;

 private:
  CardIdentitySet() = default;
  std::shared_ptr<CardBackend> backend_;
  std::vector<std::unique_ptr<CardIdentity>> identities_;
};

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_CARD_CARD_IDENTITY_SET_H_
