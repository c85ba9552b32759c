// ServerTlsContext over OpenSSL 3: a whole new SSL_CTX per load, swapped under a mutex.
#include "api/server_tls_context.h"

#include <openssl/err.h>
#include <openssl/x509.h>

#include "api/tls_identity.h"

namespace cardvault {
namespace {

constexpr char kTls12Ciphers[] =
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256";
constexpr char kTls13Suites[] =
    "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256";

Status SetupFailed(std::string message) {
  ERR_clear_error();  // the reason is in the message; the queue is this thread's
  return FailedPreconditionError(std::move(message), "tls_setup_failed");
}

}  // namespace

StatusOr<std::unique_ptr<ServerTlsContext>> ServerTlsContext::Load(std::string cert_file,
                                                                   std::string key_file) {
  std::unique_ptr<ServerTlsContext> context(
      new ServerTlsContext(std::move(cert_file), std::move(key_file)));
  CV_RETURN_IF_ERROR(context->Reload().status());
  return context;
}

StatusOr<std::pair<ServerTlsContext::CtxRef, std::string>> ServerTlsContext::Build() const {
  CtxRef ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) return SetupFailed("cannot create a TLS context (OpenSSL)");
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_options(
      ctx.get(), SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_set_cipher_list(ctx.get(), kTls12Ciphers) != 1 ||
      SSL_CTX_set_ciphersuites(ctx.get(), kTls13Suites) != 1 ||
      SSL_CTX_set1_groups_list(ctx.get(), "X25519:P-256:P-384") != 1) {
    return SetupFailed("cannot configure TLS parameters");
  }
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert_file_.c_str()) != 1) {
    return SetupFailed("cannot load certificate " + cert_file_ +
                       " (a PEM certificate chain, readable by the server)");
  }
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), key_file_.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx.get()) != 1) {
    return SetupFailed("cannot load private key " + key_file_ + " (or it does not match " +
                       cert_file_ + ")");
  }
  unsigned char* der = nullptr;
  const int len = i2d_X509(SSL_CTX_get0_certificate(ctx.get()), &der);
  if (len <= 0) return SetupFailed("cannot encode certificate " + cert_file_);
  std::string fingerprint = CertificateFingerprintFromDer(ByteView(der, static_cast<size_t>(len)));
  OPENSSL_free(der);
  return std::make_pair(std::move(ctx), std::move(fingerprint));
}

StatusOr<std::string> ServerTlsContext::Reload() {
  CV_ASSIGN_OR_RETURN(auto built, Build());
  std::lock_guard lock(mu_);
  ctx_ = std::move(built.first);
  fingerprint_ = std::move(built.second);
  return fingerprint_;
}

ServerTlsContext::CtxRef ServerTlsContext::Current() const {
  std::lock_guard lock(mu_);
  SSL_CTX_up_ref(ctx_.get());
  return CtxRef(ctx_.get());
}

std::string ServerTlsContext::fingerprint() const {
  std::lock_guard lock(mu_);
  return fingerprint_;
}

}  // namespace cardvault
