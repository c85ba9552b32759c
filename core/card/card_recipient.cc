// CardRecipient implementation: RSA-OAEP-SHA1 and ephemeral-static ECDH P-256 in OpenSSL.
#include "core/card/card_recipient.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <cctype>
#include <optional>
#include <utility>

#include "core/card/card_stanza.h"
#include "core/crypto.h"

namespace cardvault {
namespace {

using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

}  // namespace

StatusOr<std::unique_ptr<CardRecipient>> CardRecipient::New(CardPublicKey public_key) {
  return std::unique_ptr<CardRecipient>(new CardRecipient(std::move(public_key)));
}

StatusOr<std::unique_ptr<CardRecipient>> CardRecipient::Parse(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  constexpr std::string_view kPrefix = kCardRecipientPrefix;
  const std::string expected =
      "a card recipient looks like cv-p11-<hex of the key's DER SubjectPublicKeyInfo>, as "
      "printed by `cardvault card init` or `cardvault card list`";
  if (text.substr(0, kPrefix.size()) != kPrefix) {
    return InvalidArgumentError(expected, "recipient_invalid");
  }
  std::optional<Bytes> der = HexDecode(text.substr(kPrefix.size()));
  if (!der || der->empty() || der->front() != 0x30) {
    return InvalidArgumentError(expected, "recipient_invalid");
  }
  StatusOr<CardPublicKey> key = CardPublicKey::FromSpki(*der);
  if (!key.ok()) {
    return InvalidArgumentError(
        "the card recipient's public key is unusable: " + key.status().message(),
        "recipient_invalid");
  }
  if (key->spki() != *der) {
    return InvalidArgumentError(
        "the card recipient's public key is not in canonical DER form (minimal lengths, an "
        "uncompressed EC point): copy it as `cardvault card list` prints it",
        "recipient_invalid");
  }
  return New(std::move(key).value());
}

std::string CardRecipient::ToString() const {
  return kCardRecipientPrefix + HexEncode(public_key_.spki());
}

StatusOr<std::vector<Stanza>> CardRecipient::Wrap(const SecretData& file_key) {
  if (file_key.size() != kCardFileKeySize) {
    return InvalidArgumentError("a file key must be 32 bytes");
  }
  StatusOr<Stanza> stanza =
      public_key_.type() == CardKeyType::kRsa ? WrapRsa(file_key) : WrapEcdh(file_key);
  if (!stanza.ok()) return std::move(stanza).status();
  std::vector<Stanza> out;
  out.push_back(std::move(stanza).value());
  return out;
}

StatusOr<Stanza> CardRecipient::WrapRsa(const SecretData& file_key) const {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, public_key_.pkey(), nullptr),
                 EVP_PKEY_CTX_free);
  size_t out_len = 0;
  if (!ctx || EVP_PKEY_encrypt_init(ctx.get()) <= 0 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) <= 0 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), EVP_sha1()) <= 0 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), EVP_sha1()) <= 0 ||
      EVP_PKEY_encrypt(ctx.get(), nullptr, &out_len, file_key.data(), file_key.size()) <= 0) {
    return InternalError("RSA-OAEP encryption setup failed in OpenSSL");
  }
  Stanza stanza;
  stanza.type = kStanzaTypeRsaOaepSha1;
  stanza.key_id = public_key_.key_id();
  stanza.body.resize(out_len);
  if (EVP_PKEY_encrypt(ctx.get(), stanza.body.data(), &out_len, file_key.data(), file_key.size()) <=
      0) {
    return InternalError("RSA-OAEP encryption failed in OpenSSL");
  }
  stanza.body.resize(out_len);
  return stanza;
}

StatusOr<Stanza> CardRecipient::WrapEcdh(const SecretData& file_key) const {
  PkeyPtr ephemeral(EVP_EC_gen("P-256"), EVP_PKEY_free);
  if (!ephemeral) return InternalError("could not generate an ephemeral P-256 key");
  Bytes ephemeral_point(kP256PointBytes);
  size_t point_len = 0;
  if (EVP_PKEY_get_octet_string_param(ephemeral.get(), OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                      ephemeral_point.data(), ephemeral_point.size(),
                                      &point_len) != 1 ||
      point_len != kP256PointBytes) {
    return InternalError("could not encode the ephemeral P-256 point");
  }
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, ephemeral.get(), nullptr), EVP_PKEY_CTX_free);
  SecretData shared(kP256SharedBytes);
  size_t shared_len = shared.size();
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) <= 0 ||
      EVP_PKEY_derive_set_peer(ctx.get(), public_key_.pkey()) <= 0 ||
      EVP_PKEY_derive(ctx.get(), shared.data(), &shared_len) <= 0 ||
      shared_len != kP256SharedBytes) {
    return InternalError("ECDH P-256 failed in OpenSSL");
  }
  CV_ASSIGN_OR_RETURN(SecretData wrap_key,
                      DeriveEcdhWrapKey(shared, ephemeral_point, public_key_.ec_point()));
  Stanza stanza;
  stanza.type = kStanzaTypeEcdhP256;
  stanza.key_id = public_key_.key_id();
  CV_ASSIGN_OR_RETURN(stanza.body, AesKeyWrap(wrap_key, file_key));
  stanza.args.push_back(std::move(ephemeral_point));
  return stanza;
}

}  // namespace cardvault
