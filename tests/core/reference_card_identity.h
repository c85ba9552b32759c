// ReferenceCardIdentity: the card stanza types of docs/format.md unwrapped in software from a
// PEM private key, written from the spec alone (not core/pkcs11), to check the vectors.
#ifndef CARDVAULT_TESTS_CORE_REFERENCE_CARD_IDENTITY_H_
#define CARDVAULT_TESTS_CORE_REFERENCE_CARD_IDENTITY_H_

#include <memory>
#include <string>

#include "core/identity.h"

namespace cardvault {

class ReferenceCardIdentity final : public Identity {
 public:
  // Reads an RSA or P-256 private key (PEM).
  static StatusOr<std::unique_ptr<ReferenceCardIdentity>> FromPem(ByteView pem);
  ~ReferenceCardIdentity() override;
  StatusOr<SecretData> Unwrap(std::span<const Stanza> stanzas) override;

 private:
  ReferenceCardIdentity() = default;
  struct Key;
  std::unique_ptr<Key> key_;
};

}  // namespace cardvault

#endif  // CARDVAULT_TESTS_CORE_REFERENCE_CARD_IDENTITY_H_
