// Pkcs11Identity implementation: stanza matching, one login per identity, unwrapping on card.

// RSA_padding_check_PKCS1_OAEP_mgf1 is deprecated in OpenSSL 3 but is the only public
// OAEP unpadding for a raw RSA result computed elsewhere (here: on the card). We use it
// rather than checking padding by hand.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "core/pkcs11/pkcs11_identity.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <cstring>
#include <utility>
#include <vector>

#include "core/card/card_stanza.h"
#include "core/crypto.h"
#include "core/pkcs11/pkcs11_session.h"
#include "core/pkcs11/pkcs11_status.h"

namespace cardvault {
namespace {

Status UnwrapFailed(std::string message) {
  return CorruptError(std::move(message), "stanza_unwrap_failed");
}

bool IsCardStanzaType(const std::string& type) {
  return type == kStanzaTypeRsaOaepSha1 || type == kStanzaTypeEcdhP256;
}

// Destroys a session object (the derived ECDH secret) when it goes out of scope.
class ObjectGuard {
 public:
  ObjectGuard(Pkcs11Session& session, CK_OBJECT_HANDLE object)
      : session_(session), object_(object) {}
  ~ObjectGuard() { session_.DestroyObject(object_).IgnoreError(); }
  ObjectGuard(const ObjectGuard&) = delete;
  ObjectGuard& operator=(const ObjectGuard&) = delete;

 private:
  Pkcs11Session& session_;
  CK_OBJECT_HANDLE object_;
};

}  // namespace

struct Pkcs11Identity::Connection {
  std::unique_ptr<Pkcs11Session> session;
  CardToken token;
  CardKey key;  // public half; key.public_key is set
  CK_OBJECT_HANDLE private_handle = CK_INVALID_HANDLE;
  // The selector's label matched none of the key's visible labels: the private key's
  // label is checked after login.
  bool label_unverified = false;
};

Pkcs11Identity::Pkcs11Identity(Pkcs11IdentityOptions options)
    : options_(std::move(options)),
      idle_(
          mu_, options_.idle_timeout, [this] { return connection_ != nullptr; },
          // Logs out (the last session on the token) and closes.
          [this] { connection_.reset(); }) {}

Pkcs11Identity::~Pkcs11Identity() = default;

StatusOr<std::unique_ptr<Pkcs11Identity>> Pkcs11Identity::New(Pkcs11IdentityOptions options) {
  if (options.module == nullptr) return InvalidArgumentError("a card identity needs a module");
  if (!options.key_id.empty() && options.key_id.size() != kKeyIdSize) {
    return InvalidArgumentError("a card key id is 8 bytes");
  }
  std::unique_ptr<Pkcs11Identity> identity(new Pkcs11Identity(std::move(options)));
  if (identity->options_.key_id.empty()) {
    CV_ASSIGN_OR_RETURN(identity->connection_, identity->Connect(nullptr, /*login=*/false));
    identity->options_.key_id = identity->connection_->key.public_key->key_id();
  }
  return identity;
}

StatusOr<std::unique_ptr<Pkcs11Identity::Connection>> Pkcs11Identity::Discover() {
  // Candidate tokens: the selected one, or every initialized token (the default p11-kit
  // proxy also shows non-card tokens such as the system trust store).
  std::vector<CardToken> tokens;
  if (!options_.token.label.empty() || !options_.token.serial.empty()) {
    CV_ASSIGN_OR_RETURN(CardToken token, CardToken::Find(*options_.module, options_.token));
    tokens.push_back(std::move(token));
  } else {
    CV_ASSIGN_OR_RETURN(std::vector<CardToken> all, CardToken::List(*options_.module));
    for (CardToken& token : all) {
      if (token.initialized()) tokens.push_back(std::move(token));
    }
    if (tokens.empty()) {
      return UnavailableError(
          "no card is inserted (no initialized token seen through " + options_.module->path() + ")",
          kReasonCardAbsent);
    }
  }

  std::vector<std::unique_ptr<Connection>> found;
  std::string seen;      // what each card shows, for the wrong-card message
  bool any_key = false;  // some card shows a supported key
  for (CardToken& token : tokens) {
    auto connection = std::make_unique<Connection>();
    StatusOr<std::unique_ptr<Pkcs11Session>> session =
        Pkcs11Session::Open(options_.module, token.slot);
    if (!session.ok()) {
      if (tokens.size() == 1) return std::move(session).status();
      continue;  // a token pulled meanwhile or unusable: look at the others
    }
    connection->session = std::move(session).value();
    CV_ASSIGN_OR_RETURN(std::vector<CardKey> keys, CardKey::List(*connection->session));
    std::string shows;
    for (const CardKey& key : keys) {
      if (key.public_key.has_value()) shows += (shows.empty() ? "" : ", ") + key.Describe();
    }
    any_key = any_key || !shows.empty();
    seen += (seen.empty() ? "" : "; ") + token.Name() + " shows " +
            (shows.empty() ? std::string("no usable key") : shows);
    CV_ASSIGN_OR_RETURN(int chosen, ChooseKey(token, keys, &connection->label_unverified));
    if (chosen >= 0) {
      connection->key = std::move(keys[chosen]);
      connection->token = std::move(token);
      found.push_back(std::move(connection));
      // A known key id found once is enough (a second token with it is a copy).
      if (!options_.key_id.empty()) break;
    }
  }
  if (found.size() > 1) {
    return InvalidArgumentError(std::to_string(found.size()) +
                                    " cards hold a usable key; choose one by token label or "
                                    "serial",
                                "ambiguous_key");
  }
  if (found.empty()) return NotFoundHere(seen, any_key);
  return std::move(found.front());
}

StatusOr<int> Pkcs11Identity::ChooseKey(const CardToken& token, const std::vector<CardKey>& keys,
                                        bool* label_unverified) const {
  const KeySelector& selector = options_.key;
  *label_unverified = false;
  if (options_.key_id.empty()) {
    std::string why;
    const int chosen = CardKey::Choose(keys, selector, &why);
    if (chosen == CardKey::kSeveralMatch) {
      return InvalidArgumentError(
          "several keys on the " + token.Name() + " match" + selector.Describe() + ": " + why,
          "ambiguous_key");
    }
    return chosen;
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    const CardKey& key = keys[i];
    if (!key.public_key.has_value() || key.public_key->key_id() != options_.key_id) continue;
    if (selector.Matches(key)) return static_cast<int>(i);
    // The label may be the private key's, which this card shows only after login: check
    // it then (Connect).
    if (!key.private_visible && selector.id.empty()) {
      *label_unverified = true;
      return static_cast<int>(i);
    }
  }
  return CardKey::kNoneMatches;
}

Status Pkcs11Identity::NotFoundHere(const std::string& seen, bool any_key) const {
  if (options_.key_id.empty()) {
    return FailedPreconditionError("no inserted card holds a usable (RSA >= 2048 or EC P-256) key" +
                                       options_.key.Describe() + " (" + seen + ")",
                                   kReasonNoKeyOnCard);
  }
  const std::string message =
      "insert the card with key id " + HexEncode(options_.key_id) + options_.key.Describe() +
      ": no inserted card shows it (" + seen +
      "). A card its driver is still reading can show only some of its keys: if the right "
      "card is in, wait a few seconds and run again";
  return any_key ? PermissionDeniedError(message, kReasonWrongCard)
                 : FailedPreconditionError(message, kReasonNoKeyOnCard);
}

Status Pkcs11Identity::CheckPrivateLabel(Connection& connection) const {
  if (!connection.label_unverified) return Status::Ok();
  StatusOr<Bytes> label = connection.session->GetAttribute(connection.private_handle, CKA_LABEL);
  const std::string text = label.ok() ? std::string(label->begin(), label->end()) : "";
  if (text == options_.key.label) return Status::Ok();
  return FailedPreconditionError(
      "the key with key id " + HexEncode(options_.key_id) + " on the " + connection.token.Name() +
          " is not labelled \"" + options_.key.label + "\" (" + connection.key.Describe() +
          ", private key \"" + text + "\"); `cardvault card list` shows its labels and ids",
      kReasonNoKeyOnCard);
}

Status Pkcs11Identity::LoginFailure(const Status& failure, const CardToken& used) const {
  if (failure.reason() != kReasonPinIncorrect && failure.reason() != kReasonLoginFailed) {
    return failure;
  }
  // Only this slot's token info (one C_GetTokenInfo): the PIN counter flags, and the card
  // named. PKCS#11 reports no exact count, only "low" and "final try".
  StatusOr<CardToken> token = CardToken::Read(*options_.module, used.slot);
  if (!token.ok()) return failure;
  const std::string state =
      token->pin_locked()      ? "PIN locked"
      : token->pin_final_try() ? "one PIN try left, the next wrong PIN locks it"
      : token->pin_count_low() ? "few PIN tries left"
                               : "PIN tries left (the card reports no low count)";
  return Status(failure.code(),
                failure.message() + "; card \"" + token->label + "\": " + state + " (serial " +
                    token->serial + ")",
                failure.reason());
}

StatusOr<std::unique_ptr<Pkcs11Identity::Connection>> Pkcs11Identity::Connect(
    std::unique_ptr<Connection> existing, bool login) {
  std::unique_ptr<Connection> connection = std::move(existing);
  if (!connection) {
    CV_ASSIGN_OR_RETURN(connection, Discover());
  }
  if (!login || connection->session->logged_in()) return connection;

  // Fresh flags: a locked PIN is reported without spending a C_Login.
  CV_ASSIGN_OR_RETURN(CardToken token, CardToken::Read(*options_.module, connection->token.slot));
  if (token.pin_locked()) {
    return PermissionDeniedError(
        "the PIN of card \"" + token.label + "\" is locked; unblock it with the card's PUK",
        kReasonPinLocked);
  }
  Status login_status;
  if (connection->session->UserLoggedIn() || token.protected_authentication_path()) {
    // Logged in by another session of this process (no PIN needed), or a PIN pad.
    login_status = connection->session->Login(nullptr);
  } else {
    if (options_.pin_source == nullptr) {
      return FailedPreconditionError("the card needs a PIN and no PIN source was given",
                                     "no_pin_source");
    }
    PinRequest request{token.label, token.serial, token.pin_count_low(), token.pin_final_try()};
    CV_ASSIGN_OR_RETURN(SecretData pin, options_.pin_source->GetPin(request));
    login_status = connection->session->Login(&pin);
  }
  if (!login_status.ok()) {
    sticky_ = true;  // a C_Login was spent: never again with this identity
    return LoginFailure(login_status, connection->token);
  }
  CV_ASSIGN_OR_RETURN(connection->private_handle,
                      CardKey::FindPrivateHandle(*connection->session, connection->key.id));
  if (Status label = CheckPrivateLabel(*connection); !label.ok()) {
    sticky_ = true;  // the user's selection excludes this key: asking again would not help
    return label;
  }
  return connection;
}

StatusOr<SecretData> Pkcs11Identity::Unwrap(std::span<const Stanza> stanzas) {
  std::vector<const Stanza*> matching;
  for (const Stanza& stanza : stanzas) {
    if (IsCardStanzaType(stanza.type) && stanza.key_id == options_.key_id) {
      matching.push_back(&stanza);
    }
  }
  if (matching.empty()) {
    return NotFoundError("no stanza is addressed to card key " + HexEncode(options_.key_id),
                         "no_matching_stanza");
  }

  std::lock_guard<std::mutex> lock(mu_);
  // On every way out: note the use (log out now for "always ask", or arm the idle timer).
  struct AfterUse {
    IdleCloser& idle;
    ~AfterUse() { idle.Used(); }
  } after_use{idle_};
  if (login_failure_.has_value()) return *login_failure_;
  if (!connection_ || !connection_->session->logged_in()) {
    StatusOr<std::unique_ptr<Connection>> connected =
        Connect(std::move(connection_), /*login=*/true);
    if (!connected.ok()) {
      Status status = std::move(connected).status();
      if (sticky_ || IsLoginFailure(status)) login_failure_ = status;
      connection_.reset();
      return status;
    }
    connection_ = std::move(connected).value();
  }

  Status last_failure;
  for (const Stanza* stanza : matching) {
    const bool rsa_stanza = stanza->type == kStanzaTypeRsaOaepSha1;
    const bool rsa_key = connection_->key.public_key->type() == CardKeyType::kRsa;
    StatusOr<SecretData> key =
        rsa_stanza != rsa_key
            ? StatusOr<SecretData>(UnwrapFailed("the stanza type " + stanza->type +
                                                " does not fit the card key's type"))
        : rsa_stanza ? UnwrapRsa(*connection_, *stanza)
                     : UnwrapEcdh(*connection_, *stanza);
    if (key.ok()) return key;
    last_failure = std::move(key).status();
    if (last_failure.reason() == kReasonCardAbsent || last_failure.reason() == kReasonCardRemoved ||
        last_failure.reason() == kReasonCardFailed || last_failure.reason() == "not_logged_in") {
      // Card pulled or failed, or logged out under us (another session of the process logged
      // out): drop the session; a later Unwrap reconnects.
      connection_.reset();
      return last_failure;
    }
    if (last_failure.reason() == kReasonNoKeyOnCard) {
      // The key handle went stale: the card was removed or replaced, or the key deleted.
      // Drop the session (a later Unwrap reconnects) and say which.
      TokenSelector used{connection_->token.label, connection_->token.serial};
      connection_.reset();
      StatusOr<CardToken> token = CardToken::Find(*options_.module, used);
      if (!token.ok()) return std::move(token).status();
      return FailedPreconditionError("card key " + HexEncode(options_.key_id) +
                                         " vanished from the card \"" + token->label +
                                         "\" while in use (" + last_failure.message() + ")",
                                     kReasonNoKeyOnCard);
    }
    if (last_failure.code() != StatusCode::kCorrupt) return last_failure;
  }
  return UnwrapFailed("no stanza for card key " + HexEncode(options_.key_id) +
                      " could be unwrapped: " + last_failure.message());
}

StatusOr<SecretData> Pkcs11Identity::Decrypt(Connection& connection, CK_MECHANISM mechanism,
                                             ByteView input, size_t output_size) {
  CK_FUNCTION_LIST* f = connection.session->functions();
  CK_SESSION_HANDLE h = connection.session->handle();
  CK_RV init = f->C_DecryptInit(h, &mechanism, connection.private_handle);
  if (IsCardFailure(init)) {
    return connection.token.OperationFailure(*options_.module, init, "C_DecryptInit");
  }
  CV_RETURN_IF_ERROR(CkrToStatus(init, "C_DecryptInit"));
  Bytes in(input.begin(), input.end());
  SecretData out(output_size);
  CK_ULONG out_len = out.size();
  ++private_key_operations_;
  CK_RV rv = f->C_Decrypt(h, in.data(), in.size(), out.data(), &out_len);
  if (rv == CKR_BUFFER_TOO_SMALL) {
    // The operation is still active; finish it with the size the token asked for.
    out = SecretData(out_len);
    ++private_key_operations_;
    rv = f->C_Decrypt(h, in.data(), in.size(), out.data(), &out_len);
  }
  if (IsCardFailure(rv)) {
    // A card pulled or failing, or (SoftHSM2) bad OAEP padding: UnwrapRsa tells them apart.
    return connection.token.OperationFailure(*options_.module, rv, "C_Decrypt");
  }
  CV_RETURN_IF_ERROR(CkrToStatus(rv, "C_Decrypt"));
  out.Truncate(out_len);
  return out;
}

StatusOr<SecretData> Pkcs11Identity::UnwrapRsa(Connection& connection, const Stanza& stanza) {
  const size_t k = static_cast<size_t>((connection.key.public_key->bits() + 7) / 8);
  if (stanza.body.size() != k || !stanza.args.empty()) {
    return UnwrapFailed("an RSA stanza body must be as long as the modulus (" + std::to_string(k) +
                        " bytes)");
  }
  if (!raw_rsa_ && options_.rsa_mechanism == Pkcs11IdentityOptions::RsaMechanism::kAuto) {
    CK_RSA_PKCS_OAEP_PARAMS params{CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, nullptr, 0};
    StatusOr<SecretData> key = Decrypt(
        connection, CK_MECHANISM{CKM_RSA_PKCS_OAEP, &params, sizeof(params)}, stanza.body, k);
    if (key.ok()) {
      if (key->size() != kCardFileKeySize) return UnwrapFailed("the unwrapped key is not 32 bytes");
      return key;
    }
    if (key.status().reason() == kReasonCardFailed) {
      // Still inserted, yet C_Decrypt failed: a failing card, or a damaged stanza on a token
      // that reports bad OAEP padding as CKR_GENERAL_ERROR (SoftHSM2). Decrypt it raw and
      // check the padding here to tell which; the file is called damaged only then.
      StatusOr<SecretData> raw = UnwrapRawRsa(connection, stanza);
      if (raw.ok() || raw.status().code() == StatusCode::kCorrupt) return raw;
      if (raw.status().reason() == kReasonMechanismUnsupported) return std::move(key).status();
      return raw;
    }
    if (key.status().reason() != kReasonMechanismUnsupported) return std::move(key).status();
    raw_rsa_ = true;  // the token lacks OAEP: raw RSA from now on
  }
  return UnwrapRawRsa(connection, stanza);
}

StatusOr<SecretData> Pkcs11Identity::UnwrapRawRsa(Connection& connection, const Stanza& stanza) {
  const size_t k = stanza.body.size();
  CV_ASSIGN_OR_RETURN(SecretData raw,
                      Decrypt(connection, CK_MECHANISM{CKM_RSA_X_509, nullptr, 0}, stanza.body, k));
  if (raw.size() > k) return UnwrapFailed("the card returned an over-long RSA result");
  // Tokens may strip leading zero bytes of the raw result; restore the modulus length.
  SecretData em(k);
  std::memcpy(em.data() + (k - raw.size()), raw.data(), raw.size());
  SecretData key(k);
  int n = RSA_padding_check_PKCS1_OAEP_mgf1(key.data(), static_cast<int>(k), em.data(),
                                            static_cast<int>(k), static_cast<int>(k), nullptr, 0,
                                            EVP_sha1(), EVP_sha1());
  ERR_clear_error();
  if (n != static_cast<int>(kCardFileKeySize)) {
    return UnwrapFailed("the RSA-OAEP padding of the stanza is invalid");
  }
  key.Truncate(kCardFileKeySize);
  return key;
}

StatusOr<SecretData> Pkcs11Identity::UnwrapEcdh(Connection& connection, const Stanza& stanza) {
  if (stanza.args.size() != 1 || stanza.args[0].size() != kP256PointBytes ||
      stanza.body.size() != kCardFileKeySize + 8) {
    return UnwrapFailed("a p11-ecdh-p256 stanza needs one 65-byte point and a 40-byte body");
  }
  // Validate the ephemeral point in software: some cards do not check it is on the curve.
  if (!CardPublicKey::FromEcP256Point(stanza.args[0]).ok()) {
    return UnwrapFailed("the stanza's ephemeral point is not on P-256");
  }
  Bytes point = stanza.args[0];
  CK_ECDH1_DERIVE_PARAMS params{CKD_NULL, 0, nullptr, point.size(), point.data()};
  CK_MECHANISM mechanism{CKM_ECDH1_DERIVE, &params, sizeof(params)};
  CK_OBJECT_CLASS klass = CKO_SECRET_KEY;
  CK_KEY_TYPE key_type = CKK_GENERIC_SECRET;
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  CK_ULONG value_len = kP256SharedBytes;
  CK_ATTRIBUTE tmpl[] = {
      {CKA_CLASS, &klass, sizeof(klass)},   {CKA_KEY_TYPE, &key_type, sizeof(key_type)},
      {CKA_TOKEN, &no, sizeof(no)},         {CKA_SENSITIVE, &no, sizeof(no)},
      {CKA_EXTRACTABLE, &yes, sizeof(yes)}, {CKA_VALUE_LEN, &value_len, sizeof(value_len)},
  };
  CK_OBJECT_HANDLE derived = CK_INVALID_HANDLE;
  ++private_key_operations_;
  CK_RV rv = connection.session->functions()->C_DeriveKey(connection.session->handle(), &mechanism,
                                                          connection.private_handle, tmpl,
                                                          sizeof(tmpl) / sizeof(tmpl[0]), &derived);
  if (IsCardFailure(rv))
    return connection.token.OperationFailure(*options_.module, rv, "C_DeriveKey");
  CV_RETURN_IF_ERROR(CkrToStatus(rv, "C_DeriveKey"));
  ObjectGuard guard(*connection.session, derived);
  CV_ASSIGN_OR_RETURN(SecretData shared,
                      connection.session->GetSecretAttribute(derived, CKA_VALUE));
  if (shared.size() != kP256SharedBytes) {
    return InternalError("the card returned a " + std::to_string(shared.size()) +
                         "-byte ECDH secret, not 32");
  }
  CV_ASSIGN_OR_RETURN(
      SecretData wrap_key,
      DeriveEcdhWrapKey(shared, stanza.args[0], connection.key.public_key->ec_point()));
  StatusOr<SecretData> key = AesKeyUnwrap(wrap_key, stanza.body);
  if (!key.ok()) return UnwrapFailed("the stanza failed its key-wrap integrity check");
  if (key->size() != kCardFileKeySize) return UnwrapFailed("the unwrapped key is not 32 bytes");
  return key;
}

}  // namespace cardvault
