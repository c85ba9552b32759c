// Card stanza helpers: the ECDH wrap-key derivation.
#include "core/card/card_stanza.h"

#include "core/crypto.h"

namespace cardvault {

StatusOr<SecretData> DeriveEcdhWrapKey(const SecretData& shared_x, ByteView ephemeral_point,
                                       ByteView recipient_point) {
  if (shared_x.size() != kP256SharedBytes || ephemeral_point.size() != kP256PointBytes ||
      recipient_point.size() != kP256PointBytes) {
    return InvalidArgumentError("ECDH P-256 inputs have the wrong sizes");
  }
  Bytes salt;
  AppendBytes(salt, ephemeral_point);
  AppendBytes(salt, recipient_point);
  return HkdfSha256(shared_x.span(), salt, kEcdhP256Info, 32);
}

}  // namespace cardvault
