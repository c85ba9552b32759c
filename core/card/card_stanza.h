// The card stanza formats shared by CardRecipient and every backend's CardIdentity: type names,
// sizes and the ECDH wrap-key derivation.
#ifndef CARDVAULT_CORE_CARD_CARD_STANZA_H_
#define CARDVAULT_CORE_CARD_CARD_STANZA_H_

#include "core/bytes.h"
#include "core/secret_data.h"
#include "core/status_or.h"

namespace cardvault {

// RSA: body = RSA-OAEP(SHA-1, MGF1-SHA-1, empty label) of the 32-byte file key, as long as
// the modulus; no args. SHA-1 because common tokens (SoftHSM2, many cards) offer OAEP with
// SHA-1 only; OAEP's security does not rest on SHA-1's collision resistance.
inline constexpr char kStanzaTypeRsaOaepSha1[] = "p11-rsa-oaep-sha1";
// EC: args[0] = ephemeral P-256 point (65 bytes, uncompressed); body = AES-256 key wrap
// (RFC 3394, 40 bytes) of the file key under DeriveEcdhWrapKey(...).
inline constexpr char kStanzaTypeEcdhP256[] = "p11-ecdh-p256";
inline constexpr char kEcdhP256Info[] = "cardvault/v1 p11-ecdh-p256";

inline constexpr size_t kCardFileKeySize = 32;
inline constexpr size_t kP256PointBytes = 65;
inline constexpr size_t kP256SharedBytes = 32;

// wrap key = HKDF-SHA-256(ikm = shared x-coordinate,
//                         salt = ephemeral_point || recipient_point (both uncompressed),
//                         info = kEcdhP256Info), 32 bytes.
StatusOr<SecretData> DeriveEcdhWrapKey(const SecretData& shared_x, ByteView ephemeral_point,
                                       ByteView recipient_point);

}  // namespace cardvault

#endif  // CARDVAULT_CORE_CARD_CARD_STANZA_H_
