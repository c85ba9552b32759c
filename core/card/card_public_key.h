// CardPublicKey: the public half of a card key (RSA or EC P-256), usable with no card.
#ifndef CARDVAULT_CORE_CARD_CARD_PUBLIC_KEY_H_
#define CARDVAULT_CORE_CARD_CARD_PUBLIC_KEY_H_

#include <openssl/types.h>

#include <memory>
#include <string>

#include "core/bytes.h"
#include "core/status_or.h"

namespace cardvault {

enum class CardKeyType { kRsa, kEcP256 };

// An OpenSSL public key plus its DER SubjectPublicKeyInfo and key id
// (KeyIdFromSpki(spki)). Immutable and cheap to copy (the EVP_PKEY is shared).
// Only RSA keys of at least 2048 bits and EC keys on P-256 can be built.
class CardPublicKey {
 public:
  // From a card's CKA_MODULUS and CKA_PUBLIC_EXPONENT (big-endian).
  static StatusOr<CardPublicKey> FromRsa(ByteView modulus, ByteView public_exponent);
  // From a card's CKA_EC_PARAMS (DER OID, must be P-256) and CKA_EC_POINT (a DER OCTET
  // STRING holding the point, or the raw uncompressed point).
  static StatusOr<CardPublicKey> FromEcAttributes(ByteView ec_params, ByteView ec_point);
  // From a raw uncompressed P-256 point (65 bytes, 0x04 || X || Y). The point MUST be on
  // the curve (checked).
  static StatusOr<CardPublicKey> FromEcP256Point(ByteView point);
  // From DER SubjectPublicKeyInfo or PEM "PUBLIC KEY".
  static StatusOr<CardPublicKey> FromSpki(ByteView der_or_pem);
  // From a DER X.509 certificate's subject public key (cards that store only a
  // certificate next to the private key). The certificate's signature is not checked: only
  // the key matters, and the key id pins it.
  static StatusOr<CardPublicKey> FromCertificate(ByteView der);

  CardKeyType type() const { return type_; }
  // Modulus size for RSA, 256 for P-256.
  int bits() const { return bits_; }
  const Bytes& spki() const { return spki_; }
  const Bytes& key_id() const { return key_id_; }
  // Uncompressed point (65 bytes) for EC keys; empty for RSA.
  const Bytes& ec_point() const { return ec_point_; }
  // Borrowed; valid while any copy of this object lives.
  EVP_PKEY* pkey() const { return pkey_.get(); }
  // PEM "PUBLIC KEY" text, as `openssl pkey -pubin` reads it.
  std::string ToPem() const;

 private:
  static StatusOr<CardPublicKey> FromPkey(EVP_PKEY* pkey);  // takes ownership

  CardKeyType type_ = CardKeyType::kRsa;
  int bits_ = 0;
  std::shared_ptr<EVP_PKEY> pkey_;
  Bytes spki_;
  Bytes key_id_;
  Bytes ec_point_;
};

}  // namespace cardvault

#endif  // CARDVAULT_CORE_CARD_CARD_PUBLIC_KEY_H_
