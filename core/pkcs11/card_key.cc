// CardKey implementation: finding key objects and reading public keys without login.
#include "core/pkcs11/card_key.h"

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
  return FailedPreconditionError(
      "the card holds no " + what +
          "; create one with `cardvault card init` (or check the key label and id)",
      kReasonNoKeyOnCard);
}

}  // namespace

StatusOr<std::vector<CardKey>> CardKey::List(Pkcs11Session& session) {
  CK_OBJECT_CLASS public_class = CKO_PUBLIC_KEY;
  CK_ATTRIBUTE public_query[] = {{CKA_CLASS, &public_class, sizeof(public_class)}};
  CV_ASSIGN_OR_RETURN(std::vector<CK_OBJECT_HANDLE> public_handles,
                      session.FindObjects(public_query));
  CK_OBJECT_CLASS cert_class = CKO_CERTIFICATE;
  CK_CERTIFICATE_TYPE cert_type = CKC_X_509;
  CK_ATTRIBUTE cert_query[] = {{CKA_CLASS, &cert_class, sizeof(cert_class)},
                               {CKA_CERTIFICATE_TYPE, &cert_type, sizeof(cert_type)}};
  CV_ASSIGN_OR_RETURN(std::vector<CK_OBJECT_HANDLE> cert_handles, session.FindObjects(cert_query));

  std::vector<CardKey> keys;
  auto add = [&](CK_OBJECT_HANDLE handle, bool certificate) -> Status {
    CardKey key;
    key.public_handle = handle;
    key.from_certificate = certificate;
    if (StatusOr<Bytes> label = session.GetAttribute(handle, CKA_LABEL); label.ok()) {
      key.label.assign(label->begin(), label->end());
    }
    if (StatusOr<Bytes> id = session.GetAttribute(handle, CKA_ID); id.ok()) key.id = *id;
    if (certificate) {
      for (const CardKey& other : keys) {
        if (!other.from_certificate && other.id == key.id) return Status::Ok();
      }
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
  return keys;
}

StatusOr<CardKey> CardKey::Find(Pkcs11Session& session, const KeySelector& selector) {
  CV_ASSIGN_OR_RETURN(std::vector<CardKey> keys, List(session));
  std::vector<CardKey> matches;
  for (CardKey& key : keys) {
    if (!selector.label.empty() && key.label != selector.label) continue;
    if (!selector.id.empty() && key.id != selector.id) continue;
    matches.push_back(std::move(key));
  }
  std::string described;
  if (!selector.label.empty()) described += " labelled \"" + selector.label + "\"";
  if (!selector.id.empty()) described += " with CKA_ID " + HexEncode(selector.id);
  if (matches.empty()) return NoKey("key" + described);
  if (matches.size() == 1 && !matches.front().public_key.has_value()) {
    return matches.front().unsupported;
  }
  // Unsupported keys only matter when the caller named them.
  std::erase_if(matches, [](const CardKey& k) { return !k.public_key.has_value(); });
  if (matches.empty()) return NoKey("supported (RSA >= 2048 or EC P-256) key" + described);
  if (matches.size() > 1) {
    return InvalidArgumentError(
        std::to_string(matches.size()) + " keys on the card match" +
            (described.empty() ? std::string(" (none was named)") : described) +
            "; choose one by label or id",
        "ambiguous_key");
  }
  return std::move(matches.front());
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
