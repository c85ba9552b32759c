// CardIdentitySet: tries each card key a blob names, stopping at the first PIN failure.
#include "agent/card/card_identity_set.h"

#include <optional>
#include <utility>

#include "core/card/card_reasons.h"
#include "core/crypto.h"

namespace cardvault {

StatusOr<std::unique_ptr<CardIdentitySet>> CardIdentitySet::New(
    std::shared_ptr<CardBackend> backend, const CardIdentityRequest& base,
    const std::vector<Bytes>& key_ids) {
  if (backend == nullptr) return InvalidArgumentError("no card backend to decrypt with");
  if (key_ids.empty()) return InvalidArgumentError("no card key id to decrypt with");
  std::unique_ptr<CardIdentitySet> set(new CardIdentitySet());
  set->backend_ = std::move(backend);
  for (const Bytes& key_id : key_ids) {
    if (key_id.size() != kKeyIdSize) return InvalidArgumentError("a card key id is 8 bytes");
    CardIdentityRequest request = base;
    request.key_id = key_id;
    CV_ASSIGN_OR_RETURN(std::unique_ptr<CardIdentity> identity,
                        set->backend_->OpenIdentity(std::move(request)));
    set->identities_.push_back(std::move(identity));
  }
  return set;
}

StatusOr<SecretData> CardIdentitySet::Unwrap(std::span<const Stanza> stanzas) {
  std::optional<Status> first_miss;
  for (const std::unique_ptr<CardIdentity>& identity : identities_) {
    StatusOr<SecretData> key = identity->Unwrap(stanzas);
    if (key.ok()) return key;
    const std::string& reason = key.status().reason();
    const bool elsewhere = reason == kReasonWrongCard || reason == kReasonNoKeyOnCard ||
                           reason == kReasonCardAbsent || reason == "no_matching_stanza";
    if (!elsewhere) return key;
    // Prefer the most telling miss: a wrong card over an absent one.
    if (!first_miss.has_value() ||
        (reason == kReasonWrongCard && first_miss->reason() != kReasonWrongCard)) {
      first_miss = key.status();
    }
  }
  return *first_miss;
}

uint64_t CardIdentitySet::private_key_operations() const {
  uint64_t total = 0;
  for (const std::unique_ptr<CardIdentity>& identity : identities_) {
    total += identity->private_key_operations();
  }
  return total;
}

}  // namespace cardvault
