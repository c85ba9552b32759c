// CapiIdentity: stanza matching, one silent context per identity, CryptDecrypt on the card.
#include "core/capi/capi_identity.h"

#include <utility>
#include <vector>

#include "core/card/card_reasons.h"
#include "core/card/card_stanza.h"
#include "core/crypto.h"

namespace cardvault {
namespace {

Status UnwrapFailed(std::string message) {
  return CorruptError(std::move(message), "stanza_unwrap_failed");
}

// A key selector that is a cardvault key id (16 hex digits) rather than a container name.
std::optional<Bytes> SelectorKeyId(const std::string& label) {
  if (label.size() != 2 * kKeyIdSize) return std::nullopt;
  return HexDecode(label);
}

bool DropsConnection(const Status& status) {
  return status.reason() == kReasonCardAbsent || status.reason() == kReasonCardRemoved ||
         status.reason() == kReasonCardFailed;
}

}  // namespace

CapiIdentity::CapiIdentity(CapiProvider provider, CardIdentityRequest request, CapiOpener opener)
    : provider_(std::move(provider)),
      request_(std::move(request)),
      opener_(opener ? std::move(opener)
                     : [](const CapiProvider& p, const std::string& container,
                          CapiOpenMode mode) { return CapiContext::Open(p, container, mode); }),
      key_id_(request_.key_id),
      idle_(
          mu_, request_.idle_timeout, [this] { return connection_.has_value(); },
          // Releases the context: the provider forgets the PIN.
          [this] { connection_.reset(); }) {}

CapiIdentity::~CapiIdentity() = default;

StatusOr<std::unique_ptr<CapiIdentity>> CapiIdentity::New(CapiProvider provider,
                                                          CardIdentityRequest request,
                                                          CapiOpener opener) {
  if (!request.key_id.empty() && request.key_id.size() != kKeyIdSize) {
    return InvalidArgumentError("a card key id is 8 bytes");
  }
  std::unique_ptr<CapiIdentity> identity(
      new CapiIdentity(std::move(provider), std::move(request), std::move(opener)));
  if (identity->key_id_.empty()) {
    // No key id to wait for: find the container now (silently, public key only).
    CV_ASSIGN_OR_RETURN(Connection connection, identity->Discover());
    identity->key_id_ = connection.public_key.key_id();
  }
  return identity;
}

StatusOr<CapiIdentity::Connection> CapiIdentity::OpenContainer(const std::string& name,
                                                               CapiOpenMode mode) const {
  Connection connection;
  CV_ASSIGN_OR_RETURN(connection.context, opener_(provider_, name, mode));
  CV_ASSIGN_OR_RETURN(connection.public_key, connection.context->ExchangePublicKey());
  connection.interactive = mode == CapiOpenMode::kInteractive;
  return connection;
}

StatusOr<CapiIdentity::Connection> CapiIdentity::Discover() const {
  const std::optional<Bytes> selector_id = SelectorKeyId(request_.key.label);
  const std::string wanted = HexEncode(key_id_.empty() && selector_id ? *selector_id : key_id_);
  // The container named by the card label, or by a key label that is not a key id.
  std::string name = request_.card.label;
  if (name.empty() && !selector_id) name = request_.key.label;
  return name.empty() ? FindContainer(wanted) : OpenNamed(name, wanted);
}

StatusOr<CapiIdentity::Connection> CapiIdentity::OpenNamed(const std::string& name,
                                                           const std::string& wanted) const {
  CV_ASSIGN_OR_RETURN(Connection connection, OpenContainer(name, CapiOpenMode::kSilent));
  const std::string has = HexEncode(connection.public_key.key_id());
  const std::string& key_label = request_.key.label;
  if (!key_label.empty() && key_label != name &&
      SelectorKeyId(key_label) != connection.public_key.key_id()) {
    return FailedPreconditionError("the key of container \"" + name + "\" (key id " + has +
                                       ") is not \"" + key_label +
                                       "\": with CryptoAPI a key's label is its container's "
                                       "name; `cardvault card list` shows them",
                                   kReasonNoKeyOnCard);
  }
  if (!wanted.empty() && has != wanted) {
    return PermissionDeniedError("insert the card with key id " + wanted + ": key container \"" +
                                     name + "\" of CryptoAPI provider \"" + provider_.name +
                                     "\" holds key id " + has,
                                 kReasonWrongCard);
  }
  return connection;
}

StatusOr<CapiIdentity::Connection> CapiIdentity::FindContainer(const std::string& wanted) const {
  CV_ASSIGN_OR_RETURN(std::unique_ptr<CapiContext> listing,
                      CapiContext::Open(provider_, "", CapiOpenMode::kEnumerate));
  CV_ASSIGN_OR_RETURN(std::vector<std::string> names, listing->ListContainers());
  std::vector<Connection> found;
  std::string seen;      // what each container holds, for the messages
  bool any_key = false;  // some container holds a usable key
  for (const std::string& container : names) {
    StatusOr<Connection> connection = OpenContainer(container, CapiOpenMode::kSilent);
    seen += (seen.empty() ? "\"" : ", \"") + container + "\" " +
            (connection.ok() ? "key id " + HexEncode(connection->public_key.key_id())
                             : std::string("no usable key"));
    if (!connection.ok()) continue;
    any_key = true;
    if (!wanted.empty() && HexEncode(connection->public_key.key_id()) != wanted) continue;
    found.push_back(std::move(connection).value());
    if (!wanted.empty()) break;  // a known key id found once is enough
  }
  if (found.size() == 1) return std::move(found.front());
  const std::string where = "CryptoAPI provider \"" + provider_.name + "\"";
  if (found.size() > 1) {
    return InvalidArgumentError(std::to_string(found.size()) + " key containers of " + where +
                                    " hold a usable key (" + seen +
                                    "); choose one with --token (the container name)",
                                kReasonAmbiguousKey);
  }
  const std::string insert = wanted.empty() ? "" : "insert the card with key id " + wanted + ": ";
  if (names.empty()) {
    return UnavailableError(insert + "no key container in " + where +
                                (wanted.empty() ? ": insert the card, or create a key with "
                                                  "`cardvault card init`"
                                                : ""),
                            kReasonCardAbsent);
  }
  if (any_key && !wanted.empty()) {
    return PermissionDeniedError(insert + where + " shows " + seen, kReasonWrongCard);
  }
  return FailedPreconditionError(
      insert + "no key container of " + where + " holds a usable RSA key (" + seen + ")",
      kReasonNoKeyOnCard);
}

Status CapiIdentity::Login(Connection& connection) {
  if (request_.pin_source == nullptr) return Status::Ok();  // the provider asks, if it must
  PinRequest request{connection.context->container(), "", false, false};
  StatusOr<SecretData> pin = request_.pin_source->GetPin(request);
  if (!pin.ok()) return std::move(pin).status();
  if (pin->empty()) return InvalidArgumentError("the PIN source gave no PIN", kReasonPinEmpty);
  CV_ASSIGN_OR_RETURN(connection.pin_given, connection.context->SetKeyExchangePin(*pin));
  return Status::Ok();
}

StatusOr<SecretData> CapiIdentity::Unwrap(std::span<const Stanza> stanzas) {
  std::vector<const Stanza*> matching;
  for (const Stanza& stanza : stanzas) {
    if (stanza.type == kStanzaTypeRsaOaepSha1 && stanza.key_id == key_id_) {
      matching.push_back(&stanza);
    }
  }
  if (matching.empty()) {
    return NotFoundError("no stanza is addressed to card key " + HexEncode(key_id_),
                         "no_matching_stanza");
  }

  std::lock_guard<std::mutex> lock(mu_);
  // On every way out: note the use (release now for "always ask", or arm the idle timer).
  struct AfterUse {
    IdleCloser& idle;
    ~AfterUse() { idle.Used(); }
  } after_use{idle_};
  if (login_failure_.has_value()) return *login_failure_;
  if (!connection_) {
    StatusOr<Connection> connection = Discover();
    if (!connection.ok()) return std::move(connection).status();
    if (Status login = Login(*connection); !login.ok()) {
      if (IsLoginFailure(login)) login_failure_ = login;
      return login;
    }
    connection_ = std::move(connection).value();
  }

  Status last_failure;
  for (const Stanza* stanza : matching) {
    StatusOr<SecretData> key = UnwrapRsa(*stanza);
    if (key.ok()) return key;
    last_failure = std::move(key).status();
    if (IsLoginFailure(last_failure)) {
      login_failure_ = last_failure;  // the provider's dialog was answered wrongly or cancelled
      connection_.reset();
      return last_failure;
    }
    if (DropsConnection(last_failure)) {
      connection_.reset();  // a later Unwrap reopens the container
      return last_failure;
    }
    if (last_failure.code() != StatusCode::kCorrupt) return last_failure;
  }
  return UnwrapFailed("no stanza for card key " + HexEncode(key_id_) +
                      " could be unwrapped: " + last_failure.message());
}

StatusOr<SecretData> CapiIdentity::UnwrapRsa(const Stanza& stanza) {
  const size_t k = static_cast<size_t>((connection_->public_key.bits() + 7) / 8);
  if (stanza.body.size() != k || !stanza.args.empty()) {
    return UnwrapFailed("an RSA stanza body must be as long as the modulus (" + std::to_string(k) +
                        " bytes)");
  }
  ++private_key_operations_;
  StatusOr<SecretData> key = connection_->context->DecryptOaep(stanza.body);
  if (!key.ok() && key.status().reason() == kReasonPinNeeded && !connection_->interactive &&
      !connection_->pin_given) {
    // The key needs the PIN and the provider has none: reopen without CRYPT_SILENT so it
    // shows its own PIN dialog (once; its answer is final).
    StatusOr<Connection> interactive =
        OpenContainer(connection_->context->container(), CapiOpenMode::kInteractive);
    if (!interactive.ok()) return std::move(interactive).status();
    if (interactive->public_key.key_id() != key_id_) {
      return PermissionDeniedError("the card was replaced: key container \"" +
                                       interactive->context->container() + "\" now holds key id " +
                                       HexEncode(interactive->public_key.key_id()),
                                   kReasonWrongCard);
    }
    connection_ = std::move(interactive).value();
    ++private_key_operations_;
    key = connection_->context->DecryptOaep(stanza.body);
  }
  if (!key.ok()) return key;
  if (key->size() != kCardFileKeySize) return UnwrapFailed("the unwrapped key is not 32 bytes");
  return key;
}

}  // namespace cardvault
