// X25519 software recipient and identity: a key pair held in a file, for tests,
// development and epoch keys. It is NOT card-protected: the private key is in memory.
#ifndef CARDVAULT_CORE_X25519_RECIPIENT_H_
#define CARDVAULT_CORE_X25519_RECIPIENT_H_

#include <openssl/types.h>

#include <array>
#include <memory>
#include <string>
#include <string_view>

#include "core/identity.h"
#include "core/recipient.h"

namespace cardvault {

// Stanza "X25519" (docs/format.md): args[0] = ephemeral public key (32 bytes); body =
// AES-256 key wrap of the file key under HKDF-SHA-256(ikm = X25519(ephemeral, recipient),
// salt = ephemeral_pub || recipient_pub, info = "cardvault/v1 X25519").
inline constexpr char kX25519StanzaType[] = "X25519";

using X25519PublicKey = std::array<uint8_t, 32>;

// Security property: anyone may wrap; only the holder of the private key unwraps.
class X25519Recipient final : public Recipient {
 public:
  static StatusOr<X25519Recipient> New(const X25519PublicKey& public_key);
  // Parses "cv-x25519-<64 hex digits>".
  static StatusOr<X25519Recipient> Parse(std::string_view text);

  StatusOr<std::vector<Stanza>> Wrap(const SecretData& file_key) override;

  const X25519PublicKey& public_key() const { return public_key_; }
  const Bytes& key_id() const { return key_id_; }
  std::string ToString() const;

 private:
  friend class X25519Identity;
  X25519Recipient(const X25519PublicKey& pub, Bytes key_id) : public_key_(pub), key_id_(key_id) {}
  X25519PublicKey public_key_;
  Bytes key_id_;
};

class X25519Identity final : public Identity {
 public:
  static StatusOr<X25519Identity> Generate();
  // `private_key` MUST be 32 bytes.
  static StatusOr<X25519Identity> FromPrivateKey(SecretData private_key);
  // Parses an identity file: comment lines start with '#', one line
  // "CV-X25519-SECRET-<64 hex digits>".
  static StatusOr<X25519Identity> Parse(std::string_view text);

  StatusOr<SecretData> Unwrap(std::span<const Stanza> stanzas) override;

  X25519Recipient recipient() const;
  const SecretData& private_key() const { return private_key_; }
  // The identity file's text (contains the private key: write it with mode 0600).
  SecretData Serialize() const;

 private:
  X25519Identity(SecretData priv, std::shared_ptr<EVP_PKEY> pkey, const X25519PublicKey& pub,
                 Bytes key_id)
      : private_key_(std::move(priv)),
        pkey_(std::move(pkey)),
        public_key_(pub),
        key_id_(std::move(key_id)) {}
  SecretData private_key_;
  // OpenSSL's form of the key, built once: building it derives the public key, which
  // would double the cost of every unwrap. Read-only after construction, so shareable.
  std::shared_ptr<EVP_PKEY> pkey_;
  X25519PublicKey public_key_;
  Bytes key_id_;
};

}  // namespace cardvault

#endif  // CARDVAULT_CORE_X25519_RECIPIENT_H_
