// Stanza: one recipient's wrapped copy of a file key, as stored in a blob's header.
#ifndef CARDVAULT_CORE_STANZA_H_
#define CARDVAULT_CORE_STANZA_H_

#include <string>
#include <vector>

#include "core/bytes.h"

namespace cardvault {

// The format's limits on a stanza (docs/format.md, "Stanzas").
inline constexpr size_t kMaxStanzaTypeLength = 64;
inline constexpr size_t kMaxKeyIdLength = 32;
inline constexpr size_t kMaxStanzaArgs = 8;
inline constexpr size_t kMaxStanzaArgLength = 1024;
inline constexpr size_t kMaxStanzaBodyLength = 4096;

struct Stanza {
  // Printable ASCII naming the wrapping scheme, e.g. "X25519" or "p11-rsa-oaep-sha1".
  std::string type;
  // Identifies the key the file key is wrapped to: the first 8 bytes of SHA-256 of the
  // key's DER SubjectPublicKeyInfo (KeyIdFromSpki), so the right key or card is chosen
  // before any PIN is asked.
  Bytes key_id;
  // Scheme-specific public arguments (e.g. an ephemeral public key).
  std::vector<Bytes> args;
  // The wrapped file key.
  Bytes body;

  bool operator==(const Stanza&) const = default;
};

}  // namespace cardvault

#endif  // CARDVAULT_CORE_STANZA_H_
