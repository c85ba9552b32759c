// Pkcs11Backend: listing slots, tokens and keys; creating a key on a card; opening identities.
#include "core/pkcs11/pkcs11_backend.h"

#include <utility>
#include <vector>

#include "core/pkcs11/card_key.h"
#include "core/pkcs11/card_key_generator.h"
#include "core/pkcs11/card_slot.h"
#include "core/pkcs11/pkcs11_identity.h"
#include "core/pkcs11/pkcs11_session.h"
#include "core/pkcs11/pkcs11_status.h"

namespace cardvault {
namespace {

const char* YesNo(bool b) { return b ? "yes" : "no"; }

constexpr CardKeyAlgorithm kAlgorithms[] = {CardKeyAlgorithm::kEcP256, CardKeyAlgorithm::kRsa2048,
                                            CardKeyAlgorithm::kRsa3072};

// What the private key may do, or that the card hides it until login.
std::string Usages(const CardKey& key) {
  if (!key.private_visible) return "private key shown only after PIN login";
  return std::string("private key \"") + key.private_label + "\": decrypt " +
         YesNo(key.can_decrypt) + ", derive " + YesNo(key.can_derive) + ", sign " +
         YesNo(key.can_sign) + (key.Usable() ? "" : " (cardvault cannot unwrap with it)");
}

CardKeyInfo KeyInfo(CardKey key) {
  CardKeyInfo info;
  info.label = key.label;
  info.backend_id = key.id;
  info.public_key = key.public_key;
  info.unsupported = key.unsupported;
  info.from_certificate = key.from_certificate;
  info.usable = key.Usable();
  if (!key.certificate_label.empty() && !key.from_certificate) {
    info.details.push_back("certificate \"" + key.certificate_label + "\"");
  }
  info.details.push_back(Usages(key));
  return info;
}

CardPinState PinState(const CardToken& token) {
  CardPinState pin;
  pin.known = true;
  pin.initialized = (token.flags & CKF_USER_PIN_INITIALIZED) != 0;
  pin.count_low = token.pin_count_low();
  pin.final_try = token.pin_final_try();
  pin.locked = token.pin_locked();
  pin.pin_pad = token.protected_authentication_path();
  return pin;
}

void FillToken(const CardToken& token, CardInfo& info) {
  info.initialized = token.initialized();
  info.label = token.label;
  info.serial = token.serial;
  info.manufacturer = token.manufacturer;
  info.model = token.model;
  info.pin = PinState(token);
}

}  // namespace

StatusOr<std::unique_ptr<CardBackend>> Pkcs11Backend::New(const std::string& module_path) {
  CV_ASSIGN_OR_RETURN(std::shared_ptr<Pkcs11Module> module, Pkcs11Module::Open(module_path));
  return std::unique_ptr<CardBackend>(new Pkcs11Backend(std::move(module)));
}

std::string Pkcs11Backend::Describe() const { return "PKCS#11 module " + module_->path(); }

CardInfo Pkcs11Backend::ReadCard(const CardToken& token) const {
  CardInfo info;
  FillToken(token, info);
  if (!token.initialized()) return info;
  for (CardKeyAlgorithm algorithm : kAlgorithms) {
    StatusOr<bool> can = CardKeyGenerator::CanGenerate(*module_, token.slot, algorithm);
    if (can.ok() && *can) info.can_generate.push_back(algorithm);
  }
  StatusOr<std::unique_ptr<Pkcs11Session>> session = Pkcs11Session::Open(module_, token.slot);
  if (!session.ok()) {
    info.keys_status = session.status();
    return info;
  }
  StatusOr<std::vector<CardKey>> keys = CardKey::List(**session);
  if (!keys.ok()) {
    info.keys_status = keys.status();
    return info;
  }
  std::string why;
  const int chosen = CardKey::Choose(*keys, KeySelector{}, &why);
  if (chosen >= 0) {
    info.default_key = chosen;
    info.default_key_note = (*keys)[chosen].Describe() + ", " + why;
  } else {
    info.default_key_note = "none: " + why;
  }
  for (CardKey& key : *keys) info.keys.push_back(KeyInfo(std::move(key)));
  return info;
}

StatusOr<CardListing> Pkcs11Backend::List() {
  CV_ASSIGN_OR_RETURN(std::vector<CardSlot> slots, CardSlot::List(*module_));
  CardListing listing;
  listing.source = "module " + module_->path();
  for (const CardSlot& slot : slots) {
    CardInfo info;
    if (slot.token_present()) {
      StatusOr<CardToken> token = CardToken::Read(*module_, slot.id);
      if (token.ok()) {
        info = ReadCard(*token);
      } else {
        info.status = token.status();
      }
    }
    info.reader_id = std::to_string(slot.id);
    info.reader = slot.description;
    info.present = slot.token_present();
    listing.cards.push_back(std::move(info));
  }
  return listing;
}

Status Pkcs11Backend::CannotGenerate(const CardToken& token, CardKeyAlgorithm algorithm,
                                     const std::string& detail) const {
  std::string other;
  for (auto [type, alternative] : {std::pair{"p256", CardKeyAlgorithm::kEcP256},
                                   std::pair{"rsa2048", CardKeyAlgorithm::kRsa2048}}) {
    if (alternative == algorithm) continue;
    StatusOr<bool> can = CardKeyGenerator::CanGenerate(*module_, token.slot, alternative);
    if (can.ok() && *can) other = std::string(" It can generate with --type ") + type + ".";
  }
  return UnsupportedError(
      "the " + token.Name() + " cannot generate " + CardKeyAlgorithmName(algorithm) +
          " keys: its module " + module_->path() + " offers no " +
          (algorithm == CardKeyAlgorithm::kEcP256 ? "CKM_EC_KEY_PAIR_GEN"
                                                  : "CKM_RSA_PKCS_KEY_PAIR_GEN") +
          detail + "; nothing was created." + other +
          " If the card came with a key (e.g. set up by your IT department), use that one: "
          "`cardvault card list` shows its keys and recipients; encrypt to its recipient and "
          "pick it with --key-label (its label, CKA_ID or key id) when decrypting",
      kReasonMechanismUnsupported);
}

StatusOr<NewCardKey> Pkcs11Backend::CreateKey(const NewCardKeyRequest& request) {
  if (request.label.empty()) return InvalidArgumentError("a new card key needs a label");
  CV_ASSIGN_OR_RETURN(
      CardToken token,
      CardToken::Find(*module_, TokenSelector{request.card.label, request.card.serial}));
  // Before any session or PIN: can this card make such a key at all?
  CV_ASSIGN_OR_RETURN(bool can_generate,
                      CardKeyGenerator::CanGenerate(*module_, token.slot, request.algorithm));
  if (!can_generate) return CannotGenerate(token, request.algorithm, "");
  CV_ASSIGN_OR_RETURN(std::unique_ptr<Pkcs11Session> session,
                      Pkcs11Session::Open(module_, token.slot, Pkcs11Session::Mode::kReadWrite));
  CV_ASSIGN_OR_RETURN(std::vector<CardKey> keys, CardKey::List(*session));
  for (const CardKey& key : keys) {
    if (key.label != request.label) continue;
    return AlreadyExistsError("the card \"" + token.label + "\" already holds a key labelled \"" +
                                  request.label + "\" (" + key.Describe() +
                                  "); nothing was created. Use it, or choose another --key-label",
                              kReasonKeyExists);
  }
  if (token.protected_authentication_path()) {
    if (request.notice) request.notice("enter the PIN on the reader's PIN pad");
    CV_RETURN_IF_ERROR(session->Login(nullptr));
  } else {
    if (request.pin_source == nullptr) return InvalidArgumentError("no PIN source for the card");
    PinRequest pin_request{token.label, token.serial, token.pin_count_low(), token.pin_final_try()};
    CV_ASSIGN_OR_RETURN(SecretData pin, request.pin_source->GetPin(pin_request));
    CV_RETURN_IF_ERROR(session->Login(&pin));
  }
  CardKeySpec spec;
  spec.algorithm = request.algorithm;
  spec.label = request.label;
  StatusOr<CardKey> generated = CardKeyGenerator::Generate(*session, spec);
  if (generated.status().reason() == kReasonMechanismUnsupported) {
    return CannotGenerate(token, request.algorithm, " (" + generated.status().message() + ")");
  }
  CV_ASSIGN_OR_RETURN(CardKey key, std::move(generated));
  if (!key.public_key.has_value()) return InternalError("the new key's public half is unreadable");
  NewCardKey created;
  FillToken(token, created.card);
  created.card.reader_id = std::to_string(token.slot);
  created.card.present = true;
  created.key = KeyInfo(std::move(key));
  return created;
}

StatusOr<std::unique_ptr<CardIdentity>> Pkcs11Backend::OpenIdentity(CardIdentityRequest request) {
  Pkcs11IdentityOptions options;
  options.module = module_;
  options.token = TokenSelector{std::move(request.card.label), std::move(request.card.serial)};
  options.key.label = std::move(request.key.label);
  options.key_id = std::move(request.key_id);
  options.pin_source = std::move(request.pin_source);
  options.idle_timeout = request.idle_timeout;
  CV_ASSIGN_OR_RETURN(std::unique_ptr<Pkcs11Identity> identity,
                      Pkcs11Identity::New(std::move(options)));
  return std::unique_ptr<CardIdentity>(std::move(identity));
}

}  // namespace cardvault
