// CardPublicKey implementation: building OpenSSL keys from PKCS#11 attributes.
#include "core/card/card_public_key.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <utility>

#include "core/crypto.h"

namespace cardvault {
namespace {

constexpr size_t kP256PointSize = 65;
// DER of OBJECT IDENTIFIER 1.2.840.10045.3.1.7 (prime256v1 / secp256r1 / P-256).
constexpr uint8_t kP256Oid[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};

using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, decltype(&OSSL_PARAM_free)>;
using BnPtr = std::unique_ptr<BIGNUM, decltype(&BN_free)>;

StatusOr<EVP_PKEY*> PkeyFromData(const char* type, OSSL_PARAM_BLD* bld) {
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld), OSSL_PARAM_free);
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr), EVP_PKEY_CTX_free);
  EVP_PKEY* pkey = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
      EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0) {
    return CorruptError(std::string("the card's ") + type + " public key is malformed",
                        "bad_public_key");
  }
  return pkey;
}

}  // namespace

StatusOr<CardPublicKey> CardPublicKey::FromRsa(ByteView modulus, ByteView public_exponent) {
  BnPtr n(BN_bin2bn(modulus.data(), static_cast<int>(modulus.size()), nullptr), BN_free);
  BnPtr e(BN_bin2bn(public_exponent.data(), static_cast<int>(public_exponent.size()), nullptr),
          BN_free);
  ParamBldPtr bld(OSSL_PARAM_BLD_new(), OSSL_PARAM_BLD_free);
  if (!n || !e || !bld || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get())) {
    return InternalError("OpenSSL could not hold the RSA public key");
  }
  CV_ASSIGN_OR_RETURN(EVP_PKEY * pkey, PkeyFromData("RSA", bld.get()));
  return FromPkey(pkey);
}

StatusOr<CardPublicKey> CardPublicKey::FromEcAttributes(ByteView ec_params, ByteView ec_point) {
  if (!std::equal(ec_params.begin(), ec_params.end(), std::begin(kP256Oid), std::end(kP256Oid))) {
    return UnsupportedError(
        "the card's EC key is not on P-256 (CKA_EC_PARAMS " + HexEncode(ec_params) + ")",
        "unsupported_key");
  }
  // PKCS#11 says CKA_EC_POINT is DER OCTET STRING; some modules store the raw point.
  if (ec_point.size() == kP256PointSize + 2 && ec_point[0] == 0x04 &&
      ec_point[1] == kP256PointSize) {
    ec_point = ec_point.subspan(2);
  }
  return FromEcP256Point(ec_point);
}

StatusOr<CardPublicKey> CardPublicKey::FromEcP256Point(ByteView point) {
  if (point.size() != kP256PointSize || point[0] != 0x04) {
    return CorruptError("a P-256 public point must be 65 bytes, uncompressed", "bad_public_key");
  }
  ParamBldPtr bld(OSSL_PARAM_BLD_new(), OSSL_PARAM_BLD_free);
  if (!bld ||
      !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
      !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                        point.size())) {
    return InternalError("OpenSSL could not hold the EC public key");
  }
  // EVP_PKEY_fromdata decodes the point with EC_POINT_oct2point, which rejects points that
  // are not on the curve.
  CV_ASSIGN_OR_RETURN(EVP_PKEY * pkey, PkeyFromData("EC", bld.get()));
  return FromPkey(pkey);
}

StatusOr<CardPublicKey> CardPublicKey::FromSpki(ByteView der_or_pem) {
  EVP_PKEY* pkey = nullptr;
  std::string_view text = AsStringView(der_or_pem);
  if (text.find("-----BEGIN PUBLIC KEY-----") != std::string_view::npos) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(
        BIO_new_mem_buf(text.data(), static_cast<int>(text.size())), BIO_free);
    if (bio) pkey = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  } else {
    const uint8_t* p = der_or_pem.data();
    pkey = d2i_PUBKEY(nullptr, &p, static_cast<long>(der_or_pem.size()));
    if (pkey != nullptr && p != der_or_pem.data() + der_or_pem.size()) {
      EVP_PKEY_free(pkey);
      pkey = nullptr;
    }
  }
  if (pkey == nullptr) {
    return CorruptError("not a DER or PEM SubjectPublicKeyInfo", "bad_public_key");
  }
  return FromPkey(pkey);
}

StatusOr<CardPublicKey> CardPublicKey::FromCertificate(ByteView der) {
  const uint8_t* p = der.data();
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      d2i_X509(nullptr, &p, static_cast<long>(der.size())), X509_free);
  EVP_PKEY* pkey = cert ? X509_get_pubkey(cert.get()) : nullptr;  // a new reference
  if (pkey == nullptr) {
    return CorruptError("the card's certificate is not a readable X.509 certificate",
                        "bad_public_key");
  }
  return FromPkey(pkey);
}

StatusOr<CardPublicKey> CardPublicKey::FromPkey(EVP_PKEY* raw) {
  CardPublicKey key;
  key.pkey_ = std::shared_ptr<EVP_PKEY>(raw, EVP_PKEY_free);
  if (EVP_PKEY_is_a(raw, "RSA")) {
    key.type_ = CardKeyType::kRsa;
    key.bits_ = EVP_PKEY_get_bits(raw);
    if (key.bits_ < 2048) {
      return UnsupportedError("RSA keys shorter than 2048 bits are refused", "unsupported_key");
    }
  } else if (EVP_PKEY_is_a(raw, "EC")) {
    char group[64] = {};
    size_t group_len = 0;
    if (EVP_PKEY_get_utf8_string_param(raw, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       &group_len) != 1 ||
        std::string_view(group) != "prime256v1") {
      return UnsupportedError("only EC keys on P-256 are supported", "unsupported_key");
    }
    key.type_ = CardKeyType::kEcP256;
    key.bits_ = 256;
    // The key id hashes the SPKI, so it MUST have one encoding per key (docs/format.md):
    // the named curve and the uncompressed point, as a card's attributes give them. OpenSSL
    // would otherwise keep the form it decoded, and a recipient string with a compressed
    // point or explicit curve parameters would name a key id no card matches.
    if (EVP_PKEY_set_utf8_string_param(raw, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                       OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED) != 1 ||
        EVP_PKEY_set_utf8_string_param(raw, OSSL_PKEY_PARAM_EC_ENCODING,
                                       OSSL_PKEY_EC_ENCODING_GROUP) != 1) {
      return InternalError("OpenSSL could not set the EC key's encoding");
    }
    key.ec_point_.resize(kP256PointSize);
    size_t len = 0;
    if (EVP_PKEY_get_octet_string_param(raw, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                        key.ec_point_.data(), key.ec_point_.size(), &len) != 1 ||
        len != kP256PointSize) {
      return InternalError("OpenSSL could not encode the EC point");
    }
  } else {
    return UnsupportedError("only RSA and EC P-256 keys are supported", "unsupported_key");
  }
  int len = i2d_PUBKEY(raw, nullptr);
  if (len <= 0) return InternalError("OpenSSL could not encode the public key");
  key.spki_.resize(static_cast<size_t>(len));
  uint8_t* p = key.spki_.data();
  i2d_PUBKEY(raw, &p);
  key.key_id_ = KeyIdFromSpki(key.spki_);
  return key;
}

std::string CardPublicKey::ToPem() const {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), pkey_.get()) != 1) return {};
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace cardvault
