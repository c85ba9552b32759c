// CardBackend: one way of reaching smartcards. PKCS#11 (core/pkcs11/, Linux) and CryptoAPI
// (core/capi/, Windows) implement it; the CLI and the agent use only this interface.
#ifndef CARDVAULT_CORE_CARD_CARD_BACKEND_H_
#define CARDVAULT_CORE_CARD_CARD_BACKEND_H_

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/card/card_identity.h"
#include "core/card/card_public_key.h"
#include "core/card/pin_source.h"
#include "core/status_or.h"

namespace cardvault {

enum class CardKeyAlgorithm { kRsa2048, kRsa3072, kEcP256 };

// Which card. Empty fields match anything; with both empty, exactly one card must be
// present (or, when opening an identity with a key id, any card holding that key).
// PKCS#11: the token label and serial. CryptoAPI: the key container name is the label.
struct CardSelector {
  std::string label;
  std::string serial;
};

// Which key on the card. Matches any label the key shows (PKCS#11: its public key, private
// key or certificate label; CryptoAPI: the container name), its backend id in hex (CKA_ID)
// or its cardvault key id in hex; hex case ignored. Empty: the card's one usable key.
struct CardKeySelector {
  std::string label;
};

// The PIN state a card reports; `known` is false where the backend cannot tell
// (CryptoAPI), and then every other field is false.
struct CardPinState {
  bool known = false;
  bool initialized = false;
  bool count_low = false;  // a wrong PIN was entered before
  bool final_try = false;  // one more wrong PIN locks the card
  bool locked = false;
  bool pin_pad = false;  // the reader has a PIN pad (or the provider asks itself)
};

// A key a card shows, read without a PIN.
struct CardKeyInfo {
  std::string label;  // what `--key-label` selects it by (PKCS#11 label; container name)
  Bytes backend_id;   // PKCS#11 CKA_ID; empty for CryptoAPI
  // Absent if the key's type or size is unsupported; `unsupported` then says why.
  std::optional<CardPublicKey> public_key;
  Status unsupported;
  bool from_certificate = false;  // the public key was read from a certificate
  bool usable = false;            // cardvault can unwrap with it
  // Backend-specific lines for `card list` (usages, a certificate's label, a note that the
  // private key shows only after login), in order.
  std::vector<std::string> details;
};

// A reader or card slot and, if a card is present, what it shows without a PIN.
struct CardInfo {
  std::string reader_id;  // PKCS#11: the slot id; CryptoAPI: empty
  std::string reader;     // slot description, or the CryptoAPI provider
  bool present = false;
  // Not OK: a card is present but could not be read (nothing below is filled).
  Status status;
  bool initialized = false;
  std::string label, serial, manufacturer, model;
  CardPinState pin;
  Status keys_status;  // not OK: the keys could not be read (and `keys` is empty)
  std::vector<CardKeyInfo> keys;
  int default_key = -1;  // index into keys chosen with an empty selector, or -1
  // For `card list` after "default key (without --key-label): ": the key chosen and why,
  // or "none: " and why.
  std::string default_key_note;
  std::vector<CardKeyAlgorithm> can_generate;  // what `card init` could create on it
};

struct CardListing {
  std::string source;  // what `card list` prints first: "module PATH", "provider NAME"
  std::vector<CardInfo> cards;
};

struct NewCardKeyRequest {
  CardSelector card;
  CardKeyAlgorithm algorithm = CardKeyAlgorithm::kEcP256;
  std::string label;                      // MUST be non-empty
  std::shared_ptr<PinSource> pin_source;  // may be null where the card asks itself
  // Told when the user must act on the reader itself (enter the PIN on its PIN pad), before
  // the backend waits for it. May be empty.
  std::function<void(const std::string& what_to_do)> notice;
};

struct NewCardKey {
  CardInfo card;    // the card it was created on (without its key list)
  CardKeyInfo key;  // with its public key
};

struct CardIdentityRequest {
  CardSelector card;
  CardKeySelector key;
  // The expected key id (8 bytes), as recorded by `card init` or read from a blob's
  // stanza. If given, the card is not touched until a stanza carries this id; if empty,
  // OpenIdentity reads it from the card (public key, no PIN).
  Bytes key_id;
  // Asked at most once per login; may be null where the card or provider asks itself.
  std::shared_ptr<PinSource> pin_source;
  // Log out (close the session) after this long without an Unwrap. Zero: after every one.
  std::chrono::seconds idle_timeout{300};
};

// Contract, checked for every backend by one conformance suite
// (tests/core/card/card_backend_contract.h):
// - List MUST NOT ask for a PIN, show UI, log in or create anything, and MUST show each
//   usable RSA key with the public key whose KeyIdFromSpki is the key id every other
//   backend gives the same key (so the `cv-p11-...` recipient is the same on every OS).
// - CreateKey creates a key pair ON the card, only when called (`cardvault card init`):
//   the private key is not exportable. It MUST check that the card can generate the
//   algorithm before asking for a PIN (kUnsupported "mechanism_unsupported", nothing
//   created), and MUST refuse a label already in use (kAlreadyExists "key_exists").
// - OpenIdentity MUST NOT ask for a PIN or show UI when `key_id` is given; without it, it
//   reads the public key only. Errors use the reasons of core/card/card_reasons.h.
// - No call ever retries a rejected PIN.
class CardBackend {
 public:
  virtual ~CardBackend() = default;

  // "PKCS#11 module PATH" or "CryptoAPI provider NAME", for messages.
  virtual std::string Describe() const = 0;
  virtual StatusOr<CardListing> List() = 0;
  virtual StatusOr<NewCardKey> CreateKey(const NewCardKeyRequest& request) = 0;
  virtual StatusOr<std::unique_ptr<CardIdentity>> OpenIdentity(CardIdentityRequest request) = 0;
};

// "P-256", "RSA-2048", "RSA-3072".
std::string CardKeyAlgorithmName(CardKeyAlgorithm algorithm);

}  // namespace cardvault

#endif  // CARDVAULT_CORE_CARD_CARD_BACKEND_H_
