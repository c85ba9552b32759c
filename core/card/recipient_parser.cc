// ParseRecipient: dispatch on the recipient string's prefix.
#include "core/card/recipient_parser.h"

#include <cctype>
#include <string>

#include "core/card/card_recipient.h"
#include "core/x25519_recipient.h"

namespace cardvault {
namespace {

constexpr std::string_view kX25519Prefix = "cv-x25519-";

std::string_view TrimSpace(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

}  // namespace

StatusOr<std::unique_ptr<Recipient>> ParseRecipient(std::string_view text) {
  text = TrimSpace(text);
  if (text.substr(0, kX25519Prefix.size()) == kX25519Prefix) {
    StatusOr<X25519Recipient> recipient = X25519Recipient::Parse(text);
    if (!recipient.ok()) {
      return InvalidArgumentError(recipient.status().message(), "recipient_invalid");
    }
    return std::unique_ptr<Recipient>(new X25519Recipient(*recipient));
  }
  if (text.substr(0, std::string_view(kCardRecipientPrefix).size()) == kCardRecipientPrefix) {
    CV_ASSIGN_OR_RETURN(std::unique_ptr<CardRecipient> recipient, CardRecipient::Parse(text));
    return std::unique_ptr<Recipient>(std::move(recipient));
  }
  std::string shown(text.substr(0, 24));
  return InvalidArgumentError("\"" + shown + (text.size() > 24 ? "...\"" : "\"") +
                                  " is not a recipient: expected cv-x25519-<64 hex digits> (a "
                                  "software key) or cv-p11-<hex> (a card key, from `cardvault "
                                  "card list`)",
                              "recipient_invalid");
}

Bytes RecipientKeyId(std::string_view text, std::string* kind) {
  text = TrimSpace(text);
  if (text.substr(0, kX25519Prefix.size()) == kX25519Prefix) {
    StatusOr<X25519Recipient> recipient = X25519Recipient::Parse(text);
    if (!recipient.ok()) return {};
    if (kind != nullptr) *kind = "X25519 (software key)";
    return recipient->key_id();
  }
  StatusOr<std::unique_ptr<CardRecipient>> card = CardRecipient::Parse(text);
  if (!card.ok()) return {};
  const CardPublicKey& key = (*card)->public_key();
  if (kind != nullptr) {
    *kind = key.type() == CardKeyType::kRsa ? "card RSA-" + std::to_string(key.bits())
                                            : std::string("card P-256");
  }
  return key.key_id();
}

}  // namespace cardvault
