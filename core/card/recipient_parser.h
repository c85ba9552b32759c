// ParseRecipient: turns a recipient string (software X25519 or card key) into a Recipient.
#ifndef CARDVAULT_CORE_CARD_RECIPIENT_PARSER_H_
#define CARDVAULT_CORE_CARD_RECIPIENT_PARSER_H_

#include <memory>
#include <string_view>

#include "core/recipient.h"
#include "core/status_or.h"

namespace cardvault {

// Accepts "cv-x25519-<64 hex>" (X25519Recipient) and "cv-p11-<hex SPKI>" (CardRecipient,
// RSA or P-256 decided by the key). Surrounding whitespace is ignored. Uses only public
// keys: never loads a PKCS#11 module or needs a card. Anything else is kInvalidArgument
// "recipient_invalid", with a message naming both accepted forms.
StatusOr<std::unique_ptr<Recipient>> ParseRecipient(std::string_view text);

// The key id a recipient's stanzas carry (8 bytes), for listings; empty if unparsable.
// A short description such as "card RSA-2048" or "X25519 (software)" goes to `*kind`.
Bytes RecipientKeyId(std::string_view text, std::string* kind = nullptr);

}  // namespace cardvault

#endif  // CARDVAULT_CORE_CARD_RECIPIENT_PARSER_H_
