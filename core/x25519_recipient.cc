// X25519 recipient and identity over OpenSSL's EVP_PKEY X25519.
#include "core/x25519_recipient.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>

#include "core/crypto.h"

namespace cardvault {
namespace {

constexpr char kInfo[] = "cardvault/v1 X25519";
constexpr char kPublicPrefix[] = "cv-x25519-";
constexpr char kSecretPrefix[] = "CV-X25519-SECRET-";

using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

PkeyPtr PublicPkey(const X25519PublicKey& pub) {
  return PkeyPtr(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, pub.data(), pub.size()),
                 EVP_PKEY_free);
}

PkeyPtr PrivatePkey(const SecretData& priv) {
  return PkeyPtr(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, priv.data(), priv.size()),
                 EVP_PKEY_free);
}

StatusOr<Bytes> KeyIdOf(const X25519PublicKey& pub) {
  PkeyPtr pkey = PublicPkey(pub);
  if (!pkey) return InvalidArgumentError("invalid X25519 public key");
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(pkey.get(), &der);
  if (len <= 0) return InternalError("cannot encode an X25519 public key");
  Bytes id = KeyIdFromSpki({der, static_cast<size_t>(len)});
  OPENSSL_free(der);
  return id;
}

StatusOr<SecretData> Dh(EVP_PKEY* priv, EVP_PKEY* peer) {
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new(priv, nullptr),
                                                                  EVP_PKEY_CTX_free);
  SecretData shared(32);
  size_t len = shared.size();
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) <= 0 ||
      EVP_PKEY_derive_set_peer(ctx.get(), peer) <= 0 ||
      EVP_PKEY_derive(ctx.get(), shared.data(), &len) <= 0 || len != 32) {
    // OpenSSL refuses an all-zero shared secret (a low-order peer point) here too.
    return CorruptError("X25519 key agreement failed (invalid public key)", "stanza_unwrap_failed");
  }
  return shared;
}

StatusOr<SecretData> WrapKey(const SecretData& shared, ByteView eph_pub,
                             const X25519PublicKey& recipient_pub) {
  Bytes salt(eph_pub.begin(), eph_pub.end());
  AppendBytes(salt, recipient_pub);
  return HkdfSha256(shared.span(), salt, kInfo);
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

StatusOr<X25519Recipient> X25519Recipient::New(const X25519PublicKey& public_key) {
  CV_ASSIGN_OR_RETURN(Bytes id, KeyIdOf(public_key));
  return X25519Recipient(public_key, std::move(id));
}

StatusOr<X25519Recipient> X25519Recipient::Parse(std::string_view text) {
  text = Trim(text);
  if (text.substr(0, sizeof(kPublicPrefix) - 1) != kPublicPrefix) {
    return InvalidArgumentError("an X25519 recipient looks like cv-x25519-<64 hex digits>");
  }
  auto raw = HexDecode(text.substr(sizeof(kPublicPrefix) - 1));
  if (!raw || raw->size() != 32) {
    return InvalidArgumentError("an X25519 recipient looks like cv-x25519-<64 hex digits>");
  }
  X25519PublicKey pub;
  std::copy(raw->begin(), raw->end(), pub.begin());
  return New(pub);
}

std::string X25519Recipient::ToString() const { return kPublicPrefix + HexEncode(public_key_); }

StatusOr<std::vector<Stanza>> X25519Recipient::Wrap(const SecretData& file_key) {
  PkeyPtr eph(EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519"), EVP_PKEY_free);
  PkeyPtr peer = PublicPkey(public_key_);
  if (!eph || !peer) return InternalError("X25519 key generation failed");
  Bytes eph_pub(32);
  size_t len = eph_pub.size();
  if (EVP_PKEY_get_raw_public_key(eph.get(), eph_pub.data(), &len) != 1 || len != 32) {
    return InternalError("cannot read the ephemeral X25519 public key");
  }
  CV_ASSIGN_OR_RETURN(SecretData shared, Dh(eph.get(), peer.get()));
  CV_ASSIGN_OR_RETURN(SecretData kek, WrapKey(shared, eph_pub, public_key_));
  CV_ASSIGN_OR_RETURN(Bytes body, AesKeyWrap(kek, file_key));
  Stanza s;
  s.type = kX25519StanzaType;
  s.key_id = key_id_;
  s.args.push_back(std::move(eph_pub));
  s.body = std::move(body);
  return std::vector<Stanza>{std::move(s)};
}

StatusOr<X25519Identity> X25519Identity::Generate() {
  CV_ASSIGN_OR_RETURN(SecretData priv, RandomSecret(32));
  return FromPrivateKey(std::move(priv));
}

StatusOr<X25519Identity> X25519Identity::FromPrivateKey(SecretData private_key) {
  if (private_key.size() != 32) return InvalidArgumentError("an X25519 private key is 32 bytes");
  PkeyPtr pkey = PrivatePkey(private_key);
  if (!pkey) return InvalidArgumentError("invalid X25519 private key");
  X25519PublicKey pub;
  size_t len = pub.size();
  if (EVP_PKEY_get_raw_public_key(pkey.get(), pub.data(), &len) != 1 || len != 32) {
    return InternalError("cannot derive the X25519 public key");
  }
  CV_ASSIGN_OR_RETURN(Bytes id, KeyIdOf(pub));
  std::shared_ptr<EVP_PKEY> shared(pkey.release(), EVP_PKEY_free);
  return X25519Identity(std::move(private_key), std::move(shared), pub, std::move(id));
}

StatusOr<X25519Identity> X25519Identity::Parse(std::string_view text) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = Trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.empty() || line.front() == '#') continue;
    if (line.substr(0, sizeof(kSecretPrefix) - 1) != kSecretPrefix) break;
    auto raw = HexDecode(line.substr(sizeof(kSecretPrefix) - 1));
    if (!raw || raw->size() != 32) break;
    SecretData priv = SecretData::CopyFrom(*raw);
    std::fill(raw->begin(), raw->end(), 0);
    return FromPrivateKey(std::move(priv));
  }
  return InvalidArgumentError("not a cardvault X25519 identity file (expected a line " +
                              std::string(kSecretPrefix) + "<64 hex digits>)");
}

X25519Recipient X25519Identity::recipient() const { return X25519Recipient(public_key_, key_id_); }

SecretData X25519Identity::Serialize() const {
  std::string text =
      "# cardvault software identity: for tests and development only; this key is NOT on a "
      "card.\n# recipient: " +
      recipient().ToString() + "\n" + kSecretPrefix + HexEncode(private_key_.span()) + "\n";
  SecretData out = SecretData::CopyFrom(text);
  std::fill(text.begin(), text.end(), '\0');
  return out;
}

StatusOr<SecretData> X25519Identity::Unwrap(std::span<const Stanza> stanzas) {
  for (const Stanza& s : stanzas) {
    if (s.type != kX25519StanzaType || s.key_id != key_id_) continue;
    if (s.args.size() != 1 || s.args[0].size() != 32 || s.body.size() != 40) {
      return CorruptError("malformed X25519 stanza", "stanza_unwrap_failed");
    }
    X25519PublicKey eph;
    std::copy(s.args[0].begin(), s.args[0].end(), eph.begin());
    PkeyPtr peer = PublicPkey(eph);
    if (!peer) return CorruptError("invalid X25519 stanza key", "stanza_unwrap_failed");
    CV_ASSIGN_OR_RETURN(SecretData shared, Dh(pkey_.get(), peer.get()));
    CV_ASSIGN_OR_RETURN(SecretData kek, WrapKey(shared, s.args[0], public_key_));
    auto key = AesKeyUnwrap(kek, s.body);
    if (!key.ok()) {
      return CorruptError("the X25519 stanza for this key does not unwrap: it was tampered with",
                          "stanza_unwrap_failed");
    }
    return key;
  }
  return NotFoundError("no stanza is addressed to X25519 key " + HexEncode(key_id_),
                       "no_matching_stanza");
}

}  // namespace cardvault
