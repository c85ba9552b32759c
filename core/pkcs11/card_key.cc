// CardKey implementation: finding key objects and reading public keys without login.
#include "core/pkcs11/card_key.h"

#include <cctype>
#include <utility>

#include "core/pkcs11/pkcs11_status.h"

namespace cardvault {
namespace {

StatusOr<CardPublicKey> ReadPublicKey(Pkcs11Session& session, CK_OBJECT_HANDLE handle) {
  CV_ASSIGN_OR_RETURN(CK_ULONG key_type, session.GetUlongAttribute(handle, CKA_KEY_TYPE));
  if (key_type == CKK_RSA) {
    CV_ASSIGN_OR_RETURN(Bytes modulus, session.GetAttribute(handle, CKA_MODULUS));
    CV_ASSIGN_OR_RETURN(Bytes exponent, session.GetAttribute(handle, CKA_PUBLIC_EXPONENT));
    return CardPublicKey::FromRsa(modulus, exponent);
  }
  if (key_type == CKK_EC) {
    CV_ASSIGN_OR_RETURN(Bytes params, session.GetAttribute(handle, CKA_EC_PARAMS));
    CV_ASSIGN_OR_RETURN(Bytes point, session.GetAttribute(handle, CKA_EC_POINT));
    return CardPublicKey::FromEcAttributes(params, point);
  }
  return UnsupportedError("key type " + std::to_string(key_type) + " is not RSA or EC",
                          "unsupported_key");
}

StatusOr<CardPublicKey> ReadCertificateKey(Pkcs11Session& session, CK_OBJECT_HANDLE handle) {
  CV_ASSIGN_OR_RETURN(Bytes der, session.GetAttribute(handle, CKA_VALUE));
  return CardPublicKey::FromCertificate(der);
}

Status NoKey(std::string what) {
  return FailedPreconditionError("the card holds no " + what, kReasonNoKeyOnCard);
}

bool HexEquals(const std::string& text, ByteView bytes) {
  if (text.empty() || bytes.empty() || text.size() != 2 * bytes.size()) return false;
  const std::string hex = HexEncode(bytes);
  for (size_t i = 0; i < hex.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != hex[i]) return false;
  }
  return true;
}

std::string Text(const StatusOr<Bytes>& value) {
  return value.ok() ? std::string(value->begin(), value->end()) : std::string();
}

bool Flag(Pkcs11Session& session, CK_OBJECT_HANDLE handle, CK_ATTRIBUTE_TYPE type) {
  StatusOr<bool> value = session.GetBoolAttribute(handle, type);
  return value.ok() && *value;
}

// Finds objects of `klass` (X.509 certificates only for CKO_CERTIFICATE).
StatusOr<std::vector<CK_OBJECT_HANDLE>> FindClass(Pkcs11Session& session, CK_OBJECT_CLASS klass) {
  CK_CERTIFICATE_TYPE cert_type = CKC_X_509;
  CK_ATTRIBUTE query[] = {{CKA_CLASS, &klass, sizeof(klass)},
                          {CKA_CERTIFICATE_TYPE, &cert_type, sizeof(cert_type)}};
  return session.FindObjects(std::span<CK_ATTRIBUTE>(query, klass == CKO_CERTIFICATE ? 2 : 1));
}

}  // namespace

bool KeySelector::Matches(const CardKey& key) const {
  if (!id.empty() && key.id != id) return false;
  if (label.empty()) return true;
  return label == key.label || label == key.certificate_label ||
         (key.private_visible && label == key.private_label) || HexEquals(label, key.id) ||
         (key.public_key.has_value() && HexEquals(label, key.public_key->key_id()));
}

std::string KeySelector::Describe() const {
  std::string out;
  if (!label.empty()) out += " labelled (or with id) \"" + label + "\"";
  if (!id.empty()) out += " with CKA_ID " + HexEncode(id);
  return out;
}

bool CardKey::Usable() const {
  if (!public_key.has_value()) return false;
  if (!private_visible) return true;  // cannot tell before login: assume so
  return public_key->type() == CardKeyType::kRsa ? can_decrypt : can_derive;
}

std::string CardKey::Describe() const {
  std::string out = public_key.has_value() ? "key id " + HexEncode(public_key->key_id())
                                           : std::string("unsupported key");
  out += " (label \"" + label + "\"";
  if (!certificate_label.empty() && certificate_label != label) {
    out += ", certificate \"" + certificate_label + "\"";
  }
  if (private_visible && private_label != label) out += ", private key \"" + private_label + "\"";
  return out + ", CKA_ID " + HexEncode(id) + ")";
}

StatusOr<std::vector<CardKey>> CardKey::List(Pkcs11Session& session) {
  CV_ASSIGN_OR_RETURN(std::vector<CK_OBJECT_HANDLE> public_handles,
                      FindClass(session, CKO_PUBLIC_KEY));
  CV_ASSIGN_OR_RETURN(std::vector<CK_OBJECT_HANDLE> cert_handles,
                      FindClass(session, CKO_CERTIFICATE));
  CV_ASSIGN_OR_RETURN(std::vector<CK_OBJECT_HANDLE> private_handles,
                      FindClass(session, CKO_PRIVATE_KEY));

  std::vector<CardKey> keys;
  auto add = [&](CK_OBJECT_HANDLE handle, bool certificate) -> Status {
    CardKey key;
    key.public_handle = handle;
    key.from_certificate = certificate;
    key.label = Text(session.GetAttribute(handle, CKA_LABEL));
    if (StatusOr<Bytes> id = session.GetAttribute(handle, CKA_ID); id.ok()) key.id = *id;
    if (certificate) {
      for (CardKey& other : keys) {
        if (!other.from_certificate && other.id == key.id) {
          other.certificate_label = key.label;
          return Status::Ok();
        }
      }
      key.certificate_label = key.label;
    }
    StatusOr<CardPublicKey> public_key =
        certificate ? ReadCertificateKey(session, handle) : ReadPublicKey(session, handle);
    if (public_key.ok()) {
      key.public_key = std::move(public_key).value();
    } else if (public_key.status().reason() == kReasonCardAbsent) {
      return std::move(public_key).status();
    } else {
      key.unsupported = std::move(public_key).status();
    }
    keys.push_back(std::move(key));
    return Status::Ok();
  };
  for (CK_OBJECT_HANDLE handle : public_handles) CV_RETURN_IF_ERROR(add(handle, false));
  for (CK_OBJECT_HANDLE handle : cert_handles) CV_RETURN_IF_ERROR(add(handle, true));
  for (CK_OBJECT_HANDLE handle : private_handles) {
    StatusOr<Bytes> id = session.GetAttribute(handle, CKA_ID);
    if (!id.ok()) continue;
    for (CardKey& key : keys) {
      if (key.id != *id || key.private_visible) continue;
      key.private_visible = true;
      key.private_label = Text(session.GetAttribute(handle, CKA_LABEL));
      key.can_decrypt = Flag(session, handle, CKA_DECRYPT);
      key.can_derive = Flag(session, handle, CKA_DERIVE);
      key.can_sign = Flag(session, handle, CKA_SIGN);
    }
  }
  return keys;
}

int CardKey::Choose(const std::vector<CardKey>& keys, const KeySelector& selector,
                    std::string* why) {
  std::vector<int> matching, usable, encryption_only;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!keys[i].public_key.has_value() || !selector.Matches(keys[i])) continue;
    matching.push_back(static_cast<int>(i));
    if (!keys[i].Usable()) continue;
    usable.push_back(static_cast<int>(i));
    if (keys[i].private_visible && !keys[i].can_sign) {
      encryption_only.push_back(static_cast<int>(i));
    }
  }
  const bool named = !selector.label.empty() || !selector.id.empty();
  if (matching.size() == 1 && named) {
    *why = "the only key matching the selection";
    return matching.front();
  }
  if (usable.size() == 1) {
    *why = matching.size() == 1 ? "the only supported key on the card"
                                : "the only key that can decrypt (RSA) or derive (EC)";
    return usable.front();
  }
  if (encryption_only.size() == 1) {
    *why =
        "the only key that can decrypt or derive but not sign (an encryption key, such as "
        "the key management key of a PIV or CAC card)";
    return encryption_only.front();
  }
  if (matching.empty() || usable.empty()) {
    *why = matching.empty() ? "no supported (RSA >= 2048 or EC P-256) key matches"
                            : "no matching key may decrypt or derive";
    return kNoneMatches;
  }
  *why = std::to_string(usable.size()) +
         " keys can decrypt or derive; choose one with --key-label (a label, CKA_ID or key id)";
  return kSeveralMatch;
}

StatusOr<CardKey> CardKey::Find(Pkcs11Session& session, const KeySelector& selector) {
  CV_ASSIGN_OR_RETURN(std::vector<CardKey> keys, List(session));
  const std::string described = selector.Describe();
  std::vector<const CardKey*> named;
  for (const CardKey& key : keys) {
    if (selector.Matches(key)) named.push_back(&key);
  }
  // Unsupported keys only matter when the caller named them.
  if (named.size() == 1 && !named.front()->public_key.has_value()) {
    return named.front()->unsupported;
  }
  std::string why;
  const int chosen = Choose(keys, selector, &why);
  if (chosen == kSeveralMatch) {
    return InvalidArgumentError(
        std::to_string(named.size()) + " keys on the card match" +
            (described.empty() ? std::string(" (none was named)") : described) + ": " + why,
        "ambiguous_key");
  }
  if (chosen == kNoneMatches) {
    std::string seen;
    for (const CardKey& key : keys) seen += (seen.empty() ? "" : "; ") + key.Describe();
    return NoKey("usable key" + described + " (" + why + "; the card shows " +
                 (seen.empty() ? std::string("no key") : seen) + ")");
  }
  return std::move(keys[chosen]);
}

StatusOr<CK_OBJECT_HANDLE> CardKey::FindPrivateHandle(Pkcs11Session& session, ByteView id) {
  CK_OBJECT_CLASS klass = CKO_PRIVATE_KEY;
  Bytes id_copy(id.begin(), id.end());
  CK_ATTRIBUTE query[] = {{CKA_CLASS, &klass, sizeof(klass)},
                          {CKA_ID, id_copy.data(), id_copy.size()}};
  CV_ASSIGN_OR_RETURN(std::vector<CK_OBJECT_HANDLE> handles, session.FindObjects(query, 2));
  if (handles.empty()) return NoKey("private key with CKA_ID " + HexEncode(id));
  if (handles.size() > 1) {
    return InvalidArgumentError("several private keys on the card have CKA_ID " + HexEncode(id),
                                "ambiguous_key");
  }
  return handles.front();
}

}  // namespace cardvault
