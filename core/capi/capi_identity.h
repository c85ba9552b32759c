// CapiIdentity: a CardIdentity whose RSA private key lives in a CryptoAPI key container (a
// smart card through the Base Smart Card CSP). Windows only (core/capi/); free of <windows.h>.
#ifndef CARDVAULT_CORE_CAPI_CAPI_IDENTITY_H_
#define CARDVAULT_CORE_CAPI_CAPI_IDENTITY_H_

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>

#include "core/capi/capi_context.h"
#include "core/card/card_backend.h"
#include "core/card/card_identity.h"
#include "core/card/idle_closer.h"

namespace cardvault {

// Implements CardIdentity (core/card/card_identity.h) with CryptoAPI:
// - Stanzas are matched by type ("p11-rsa-oaep-sha1") and key id FIRST; when none matches,
//   Unwrap returns NotFound "no_matching_stanza" and no provider is called.
// - The first matching Unwrap finds the container (the selected one, else the one whose
//   AT_KEYEXCHANGE key has this key id), opened with CRYPT_SILENT, and keeps that ONE context
//   for the identity's lifetime, so a batch of Unwraps logs in once. A container whose key
//   has another key id is "wrong_card"; none is card_absent / no_key_on_card, saying what to
//   insert or create.
// - PIN: with a PinSource, it is asked once, at that first matching Unwrap, and handed to the
//   provider with PP_KEYEXCHANGE_PIN. The silent context is used first; only a pin_needed
//   answer (NTE_SILENT_CONTEXT) while no PIN was handed over (no PinSource, or a provider that
//   takes no PIN that way) reopens the container without CRYPT_SILENT, once, so the provider
//   shows its own PIN dialog.
// - A failed login (pin_incorrect, pin_locked, pin_cancelled, pin_empty) is sticky: later
//   Unwraps return it without asking again. A rejected PIN is never retried.
// - A card absent, pulled or failing is kUnavailable and drops the context (a later Unwrap
//   reopens); only NTE_BAD_DATA (bad OAEP padding) is kCorrupt "stanza_unwrap_failed".
// - After `idle_timeout` without an Unwrap a background thread releases the context (zero:
//   after every Unwrap), so an unattended process does not keep the card unlocked.
// Thread-safe (calls are serialized).
class CapiIdentity : public CardIdentity {
 public:
  // `request.key_id` given: nothing is touched until a stanza matches. Empty: the container
  // is found now (silently, public key only) and its key id read.
  // `opener` opens the containers (empty: CapiContext::Open); tests wrap it to inject faults.
  static StatusOr<std::unique_ptr<CapiIdentity>> New(CapiProvider provider,
                                                     CardIdentityRequest request,
                                                     CapiOpener opener = {});
  ~CapiIdentity() override;

  StatusOr<SecretData> Unwrap(std::span<const Stanza> stanzas) override;
  const Bytes& key_id() const override { return key_id_; }
  uint64_t private_key_operations() const override { return private_key_operations_.load(); }

 private:
  struct Connection {
    std::unique_ptr<CapiContext> context;
    CardPublicKey public_key;
    bool interactive = false;
    bool pin_given = false;  // the provider took the PinSource's PIN (PP_KEYEXCHANGE_PIN)
  };
  CapiIdentity(CapiProvider provider, CardIdentityRequest request, CapiOpener opener);

  // Opens the container holding the key (silently) and checks its key id.
  StatusOr<Connection> Discover() const;
  // The container `name`; its key id MUST be `wanted` (hex) if given, else wrong_card.
  StatusOr<Connection> OpenNamed(const std::string& name, const std::string& wanted) const;
  // The container whose key id is `wanted` (hex), or the only one with a usable key.
  StatusOr<Connection> FindContainer(const std::string& wanted) const;
  StatusOr<Connection> OpenContainer(const std::string& name, CapiOpenMode mode) const;
  // The PIN from the PinSource, handed to the provider; failures are sticky.
  Status Login(Connection& connection);
  StatusOr<SecretData> UnwrapRsa(const Stanza& stanza);

  const CapiProvider provider_;
  const CardIdentityRequest request_;
  const CapiOpener opener_;
  Bytes key_id_;
  std::mutex mu_;
  std::optional<Connection> connection_;  // guarded by mu_
  std::optional<Status> login_failure_;   // guarded by mu_; sticky
  std::atomic<uint64_t> private_key_operations_{0};
  // Releases the context after request_.idle_timeout; declared last, so it stops before
  // connection_ goes.
  IdleCloser idle_;
};

}  // namespace cardvault

#endif  // CARDVAULT_CORE_CAPI_CAPI_IDENTITY_H_
