// CapiBackend: listing, creating and opening CryptoAPI key containers.
#include "core/capi/capi_backend.h"

#include <utility>

#include "core/capi/capi_identity.h"
#include "core/card/card_reasons.h"

namespace cardvault {
namespace {

constexpr uint32_t kNteBadKeyset = 0x80090016;  // NTE_BAD_KEYSET: the container does not exist

StatusOr<int> RsaBits(CardKeyAlgorithm algorithm) {
  switch (algorithm) {
    case CardKeyAlgorithm::kRsa2048:
      return 2048;
    case CardKeyAlgorithm::kRsa3072:
      return 3072;
    case CardKeyAlgorithm::kEcP256:
      break;
  }
  return UnsupportedError(
      "CryptoAPI keeps RSA keys only: a P-256 key on a smart card needs CNG's Smart Card Key "
      "Storage Provider, which cardvault does not use on Windows yet (docs/windows.md); create "
      "an RSA key (--type rsa2048). Encrypting to an existing P-256 recipient works without it",
      kReasonMechanismUnsupported);
}

}  // namespace

StatusOr<std::unique_ptr<CapiBackend>> CapiBackend::New(std::string provider,
                                                        uint32_t provider_type) {
  CapiProvider p{std::move(provider), provider_type};
  if (!CapiContext::IsInstalled(p)) {
    return NotFoundError(
        "the CryptoAPI provider \"" + p.name + "\" (type " + std::to_string(p.type) +
            ") is not installed: install the card's driver (minidriver), or name an installed "
            "provider with --provider",
        kReasonModuleMissing);
  }
  return std::unique_ptr<CapiBackend>(new CapiBackend(std::move(p)));
}

std::string CapiBackend::Describe() const { return "CryptoAPI provider " + provider_.name; }

CardInfo CapiBackend::DescribeContainer(const std::string& name) const {
  CardInfo card;
  card.reader = provider_.name;
  card.present = true;
  card.initialized = true;
  card.label = name;
  card.can_generate = {CardKeyAlgorithm::kRsa2048, CardKeyAlgorithm::kRsa3072};
  StatusOr<std::unique_ptr<CapiContext>> context =
      CapiContext::Open(provider_, name, CapiOpenMode::kSilent);
  if (!context.ok()) {
    card.status = std::move(context).status();
    return card;
  }
  StatusOr<CardPublicKey> public_key = (*context)->ExchangePublicKey();
  if (!public_key.ok() && public_key.status().reason() == kReasonNoKeyOnCard) {
    card.default_key_note = "none: the container holds no key exchange key";
    return card;  // an empty container: `card init` can make its key
  }
  CardKeyInfo key;
  key.label = name;
  key.details.push_back("key exchange key (AT_KEYEXCHANGE)");
  if (public_key.ok()) {
    key.public_key = std::move(public_key).value();
    key.usable = key.public_key->type() == CardKeyType::kRsa;
  } else {
    key.unsupported = std::move(public_key).status();
  }
  card.keys.push_back(std::move(key));
  if (card.keys.front().usable) {
    card.default_key = 0;
    card.default_key_note = "\"" + name + "\", the container's key exchange key";
  } else {
    card.default_key_note = "none: the container's key is not a usable RSA key";
  }
  return card;
}

StatusOr<CardListing> CapiBackend::List() {
  CardListing listing;
  listing.source = "provider " + provider_.name;
  StatusOr<std::unique_ptr<CapiContext>> context =
      CapiContext::Open(provider_, "", CapiOpenMode::kEnumerate);
  if (!context.ok() && context.status().reason() == kReasonCardAbsent) {
    CardInfo empty;  // no card in the reader: a reader without a card, as PKCS#11 shows a slot
    empty.reader = provider_.name;
    listing.cards.push_back(std::move(empty));
    return listing;
  }
  CV_RETURN_IF_ERROR(context.status());
  CV_ASSIGN_OR_RETURN(std::vector<std::string> names, (*context)->ListContainers());
  for (const std::string& name : names) listing.cards.push_back(DescribeContainer(name));
  return listing;
}

StatusOr<NewCardKey> CapiBackend::CreateKey(const NewCardKeyRequest& request) {
  CV_ASSIGN_OR_RETURN(int bits, RsaBits(request.algorithm));
  if (request.label.empty()) return InvalidArgumentError("a new card key needs a label");
  if (!request.card.label.empty() && request.card.label != request.label) {
    return InvalidArgumentError(
        "with CryptoAPI the key container is both the card and the key: "
        "give one name (the key label \"" +
        request.label + "\" or the card label \"" + request.card.label + "\"), not two");
  }
  const std::string& name = request.label;
  CV_ASSIGN_OR_RETURN(std::unique_ptr<CapiContext> context, OpenForNewKey(name, request));
  Status made = Status::Ok();
  if (request.pin_source != nullptr) {
    StatusOr<SecretData> pin = request.pin_source->GetPin(PinRequest{name, "", false, false});
    // A provider that takes no PIN this way asks itself (or needs none).
    made = pin.ok() ? context->SetKeyExchangePin(*pin).status() : pin.status();
  }
  if (made.ok()) made = context->GenerateExchangeKey(bits);
  StatusOr<CardPublicKey> public_key =
      made.ok() ? context->ExchangePublicKey() : StatusOr<CardPublicKey>(made);
  if (!public_key.ok()) return std::move(public_key).status();
  NewCardKey created;
  created.card.reader = provider_.name;
  created.card.present = true;
  created.card.initialized = true;
  created.card.label = name;
  created.card.can_generate = {CardKeyAlgorithm::kRsa2048, CardKeyAlgorithm::kRsa3072};
  created.key.label = name;
  created.key.public_key = std::move(public_key).value();
  created.key.usable = true;
  created.key.details.push_back("key exchange key (AT_KEYEXCHANGE), not exportable");
  return created;
}

StatusOr<std::unique_ptr<CapiContext>> CapiBackend::OpenForNewKey(
    const std::string& name, const NewCardKeyRequest& request) const {
  // With a PinSource the PIN goes in through PP_KEYEXCHANGE_PIN; without, the provider asks.
  const bool silent = request.pin_source != nullptr;
  // Silently first: a container holding a key is refused before any PIN is asked.
  uint32_t error = 0;
  StatusOr<std::unique_ptr<CapiContext>> existing =
      CapiContext::Open(provider_, name, CapiOpenMode::kSilent, &error);
  if (existing.ok()) {
    StatusOr<CardPublicKey> key = (*existing)->ExchangePublicKey();
    if (key.ok() || key.status().reason() != kReasonNoKeyOnCard) {
      return AlreadyExistsError("the key container \"" + name + "\" of " + Describe() +
                                    " already holds a key: choose another label",
                                kReasonKeyExists);
    }
    // An empty container (made by another tool, or a `card init` that failed): its key goes
    // in there.
    if (silent) return existing;
    return CapiContext::Open(provider_, name, CapiOpenMode::kInteractive);
  }
  if (error != kNteBadKeyset) return std::move(existing).status();
  return CapiContext::Open(provider_, name,
                           silent ? CapiOpenMode::kCreateSilent : CapiOpenMode::kCreateInteractive);
}

StatusOr<std::unique_ptr<CardIdentity>> CapiBackend::OpenIdentity(CardIdentityRequest request) {
  CV_ASSIGN_OR_RETURN(std::unique_ptr<CapiIdentity> identity,
                      CapiIdentity::New(provider_, std::move(request)));
  return std::unique_ptr<CardIdentity>(std::move(identity));
}

}  // namespace cardvault
