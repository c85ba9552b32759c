// ServerTlsContext: the server's TLS settings with its certificate and key, replaceable while
// it serves (SIGHUP: a renewed certificate without dropping open connections).
#ifndef CARDVAULT_API_SERVER_TLS_CONTEXT_H_
#define CARDVAULT_API_SERVER_TLS_CONTEXT_H_

#include <openssl/ssl.h>

#include <memory>
#include <mutex>
#include <string>

#include "core/status_or.h"

namespace cardvault {

// Holds one SSL_CTX at a time: TLS 1.2+ (1.3 preferred), ECDHE + AEAD suites only, the
// certificate chain and private key read from their files. Reload() builds a new context from
// the files and swaps it in only when it is whole (chain, key, key matching the certificate);
// connections already open keep the context they started with, as every SSL holds a
// reference to its own. Thread-safe: Current() and Reload() may race.
class ServerTlsContext {
 public:
  struct CtxFree {
    void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
  };
  using CtxRef = std::unique_ptr<SSL_CTX, CtxFree>;

  // Reads `cert_file` (PEM chain) and `key_file` (PEM key); kFailedPrecondition
  // ("tls_setup_failed") naming the file that cannot be used.
  static StatusOr<std::unique_ptr<ServerTlsContext>> Load(std::string cert_file,
                                                          std::string key_file);

  // Reads the files again. On success new connections get the new certificate and the
  // fingerprint is returned; on failure the current context stays and the status says which
  // file is wrong.
  StatusOr<std::string> Reload();
  // The context for a new connection, referenced: it stays valid after a Reload() until the
  // returned reference is released.
  CtxRef Current() const;
  // SHA-256 fingerprint of the current certificate (what clients pin).
  std::string fingerprint() const;

 private:
  ServerTlsContext(std::string cert_file, std::string key_file)
      : cert_file_(std::move(cert_file)), key_file_(std::move(key_file)) {}
  // A new context from the files, with its certificate's fingerprint.
  StatusOr<std::pair<CtxRef, std::string>> Build() const;

  const std::string cert_file_;
  const std::string key_file_;
  mutable std::mutex mu_;
  CtxRef ctx_;               // guarded by mu_
  std::string fingerprint_;  // guarded by mu_
};

}  // namespace cardvault

#endif  // CARDVAULT_API_SERVER_TLS_CONTEXT_H_
