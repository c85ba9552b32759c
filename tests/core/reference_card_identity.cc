// ReferenceCardIdentity implementation with OpenSSL's EVP interfaces.
#include "tests/core/reference_card_identity.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "core/crypto.h"

namespace cardvault {

struct ReferenceCardIdentity::Key {
  EVP_PKEY* pkey = nullptr;
  bool rsa = false;
  Bytes key_id;
  Bytes point;  // P-256: the uncompressed public point
  ~Key() { EVP_PKEY_free(pkey); }
};

ReferenceCardIdentity::~ReferenceCardIdentity() = default;

StatusOr<std::unique_ptr<ReferenceCardIdentity>> ReferenceCardIdentity::FromPem(ByteView pem) {
  auto key = std::make_unique<Key>();
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  key->pkey = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (key->pkey == nullptr) return InvalidArgumentError("not a PEM private key");
  key->rsa = EVP_PKEY_is_a(key->pkey, "RSA");
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(key->pkey, &der);
  key->key_id = KeyIdFromSpki({der, static_cast<size_t>(len)});
  OPENSSL_free(der);
  if (!key->rsa) {
    key->point.resize(65);
    size_t n = 0;
    EVP_PKEY_get_octet_string_param(key->pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                    key->point.data(), key->point.size(), &n);
    key->point.resize(n);
  }
  std::unique_ptr<ReferenceCardIdentity> id(new ReferenceCardIdentity());
  id->key_ = std::move(key);
  return id;
}

StatusOr<SecretData> ReferenceCardIdentity::Unwrap(std::span<const Stanza> stanzas) {
  auto failed = [] { return CorruptError("card stanza does not unwrap", "stanza_unwrap_failed"); };
  for (const Stanza& s : stanzas) {
    if (s.key_id != key_->key_id) continue;
    if (key_->rsa && s.type == "p11-rsa-oaep-sha1") {
      EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(key_->pkey, nullptr);
      SecretData out(512);
      size_t out_len = out.size();
      bool ok = EVP_PKEY_decrypt_init(ctx) > 0 &&
                EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) > 0 &&
                EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha1()) > 0 &&
                EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha1()) > 0 &&
                EVP_PKEY_decrypt(ctx, out.data(), &out_len, s.body.data(), s.body.size()) > 0;
      EVP_PKEY_CTX_free(ctx);
      if (!ok || out_len != 32) return failed();
      out.Truncate(out_len);
      return out;
    }
    if (!key_->rsa && s.type == "p11-ecdh-p256") {
      if (s.args.size() != 1 || s.args[0].size() != 65) return failed();
      EVP_PKEY* peer = nullptr;
      EVP_PKEY_CTX* pctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
      OSSL_PARAM params[] = {
          OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                           const_cast<char*>("prime256v1"), 0),
          OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                            const_cast<uint8_t*>(s.args[0].data()), 65),
          OSSL_PARAM_construct_end()};
      bool ok = EVP_PKEY_fromdata_init(pctx) > 0 &&
                EVP_PKEY_fromdata(pctx, &peer, EVP_PKEY_PUBLIC_KEY, params) > 0;
      EVP_PKEY_CTX_free(pctx);
      if (!ok) return failed();
      EVP_PKEY_CTX* dctx = EVP_PKEY_CTX_new(key_->pkey, nullptr);
      SecretData shared(32);
      size_t shared_len = shared.size();
      ok = EVP_PKEY_derive_init(dctx) > 0 && EVP_PKEY_derive_set_peer(dctx, peer) > 0 &&
           EVP_PKEY_derive(dctx, shared.data(), &shared_len) > 0 && shared_len == 32;
      EVP_PKEY_CTX_free(dctx);
      EVP_PKEY_free(peer);
      if (!ok) return failed();
      Bytes salt = s.args[0];
      AppendBytes(salt, key_->point);
      CV_ASSIGN_OR_RETURN(SecretData kek,
                          HkdfSha256(shared.span(), salt, "cardvault/v1 p11-ecdh-p256"));
      auto key = AesKeyUnwrap(kek, s.body);
      if (!key.ok()) return failed();
      return key;
    }
  }
  return NotFoundError("no stanza for this card key", "no_matching_stanza");
}

}  // namespace cardvault
