// TLS helpers implementation over OpenSSL 3: key and certificate generation, fingerprints.
#include "api/tls_identity.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

#include "core/crypto.h"
#include "storage/object_id.h"

namespace cardvault {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

Status OpenSslError(std::string_view what) {
  return InternalError("OpenSSL: " + std::string(what) + " failed", "openssl_error");
}

Bytes BioContents(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  return Bytes(data, data + size);
}

}  // namespace

std::string CertificateFingerprintFromDer(ByteView der) { return HexEncode(Sha256(der)); }

StatusOr<std::string> CertificateFingerprintFromPemFile(const std::string& cert_path) {
  BioPtr bio(BIO_new_file(cert_path.c_str(), "r"));
  if (!bio) return NotFoundError("cannot read certificate " + cert_path, "no_certificate");
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return CorruptError("no PEM certificate in " + cert_path, "bad_certificate");
  unsigned char* der = nullptr;
  int len = i2d_X509(cert.get(), &der);
  if (len <= 0) return OpenSslError("i2d_X509");
  std::string fingerprint = CertificateFingerprintFromDer(ByteView(der, static_cast<size_t>(len)));
  OPENSSL_free(der);
  return fingerprint;
}

StatusOr<std::string> NormalizeFingerprint(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == ':') continue;
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    out.push_back(c);
  }
  if (!IsValidSha256Hex(out)) {
    return InvalidArgumentError("a certificate fingerprint is 32 hex bytes (SHA-256)",
                                "bad_fingerprint");
  }
  return out;
}

StatusOr<std::string> GenerateSelfSignedCertificate(Env& env, const std::string& cert_path,
                                                    const std::string& key_path,
                                                    const std::vector<std::string>& dns_names,
                                                    const std::vector<std::string>& ip_addresses,
                                                    int days) {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return OpenSslError("EVP_EC_gen");
  X509Ptr cert(X509_new());
  if (!cert) return OpenSslError("X509_new");
  X509_set_version(cert.get(), 2);
  uint8_t serial_bytes[16];
  CV_RETURN_IF_ERROR(env.RandomBytes(serial_bytes));
  serial_bytes[0] &= 0x7f;  // positive
  BIGNUM* serial_bn = BN_bin2bn(serial_bytes, sizeof(serial_bytes), nullptr);
  if (serial_bn == nullptr) return OpenSslError("BN_bin2bn");
  BN_to_ASN1_INTEGER(serial_bn, X509_get_serialNumber(cert.get()));
  BN_free(serial_bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(days) * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  const std::string cn = dns_names.empty() ? "cardvault-server" : dns_names.front();
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);

  std::string san;
  for (const auto& dns : dns_names) san += (san.empty() ? "" : ",") + ("DNS:" + dns);
  for (const auto& ip : ip_addresses) san += (san.empty() ? "" : ",") + ("IP:" + ip);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  const std::pair<int, std::string> extensions[] = {
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_key_usage, "critical,digitalSignature"},
      {NID_ext_key_usage, "serverAuth"},
      {NID_subject_alt_name, san},
  };
  for (const auto& [nid, value] : extensions) {
    if (value.empty()) continue;
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    if (ext == nullptr) return OpenSslError("X509V3_EXT_conf_nid");
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) return OpenSslError("X509_sign");

  BioPtr key_pem(BIO_new(BIO_s_mem()));
  BioPtr cert_pem(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_PrivateKey(key_pem.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) ||
      !PEM_write_bio_X509(cert_pem.get(), cert.get())) {
    return OpenSslError("PEM_write");
  }
  Bytes key_bytes = BioContents(key_pem.get());
  Status written = WriteFileAtomically(env, key_path, key_bytes, 0600);
  OPENSSL_cleanse(key_bytes.data(), key_bytes.size());
  CV_RETURN_IF_ERROR(written);
  CV_RETURN_IF_ERROR(WriteFileAtomically(env, cert_path, BioContents(cert_pem.get()), 0644));

  unsigned char* der = nullptr;
  int len = i2d_X509(cert.get(), &der);
  if (len <= 0) return OpenSslError("i2d_X509");
  std::string fingerprint = CertificateFingerprintFromDer(ByteView(der, static_cast<size_t>(len)));
  OPENSSL_free(der);
  return fingerprint;
}

}  // namespace cardvault
