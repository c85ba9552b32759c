// CardKeyGenerator implementation: C_GenerateKeyPair templates for RSA and EC P-256.
#include "core/pkcs11/card_key_generator.h"

#include <algorithm>
#include <vector>

#include "core/crypto.h"
#include "core/pkcs11/pkcs11_status.h"

namespace cardvault {
namespace {

// DER of OBJECT IDENTIFIER prime256v1 for CKA_EC_PARAMS.
uint8_t kP256Params[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
uint8_t kRsaExponent[] = {0x01, 0x00, 0x01};

StatusOr<bool> AnyObjectWith(Pkcs11Session& session, CK_ATTRIBUTE_TYPE type, Bytes value) {
  CK_ATTRIBUTE query[] = {{type, value.data(), value.size()}};
  CV_ASSIGN_OR_RETURN(std::vector<CK_OBJECT_HANDLE> found, session.FindObjects(query, 1));
  return !found.empty();
}

}  // namespace

StatusOr<CardKey> CardKeyGenerator::Generate(Pkcs11Session& session, const CardKeySpec& spec) {
  if (spec.label.empty()) return InvalidArgumentError("a card key needs a label");
  Bytes label(spec.label.begin(), spec.label.end());
  Bytes id = spec.id;
  if (id.empty()) {
    CV_ASSIGN_OR_RETURN(SecretData random, RandomSecret(16));
    id.assign(random.span().begin(), random.span().end());
  }
  CV_ASSIGN_OR_RETURN(bool label_used, AnyObjectWith(session, CKA_LABEL, label));
  CV_ASSIGN_OR_RETURN(bool id_used, AnyObjectWith(session, CKA_ID, id));
  if (label_used || id_used) {
    return AlreadyExistsError("the card already holds a key labelled \"" + spec.label +
                                  "\" or with CKA_ID " + HexEncode(id),
                              "key_exists");
  }

  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  CK_ULONG bits = spec.algorithm == CardKeyAlgorithm::kRsa3072 ? 3072 : 2048;
  const bool rsa = spec.algorithm != CardKeyAlgorithm::kEcP256;
  CK_MECHANISM mechanism{rsa ? CKM_RSA_PKCS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN, nullptr, 0};

  // Only what cardvault uses (unwrapping on the card; wrapping is done in software).
  std::vector<CK_ATTRIBUTE> pub = {
      {CKA_TOKEN, &yes, sizeof(yes)},          {CKA_PRIVATE, &no, sizeof(no)},
      {CKA_LABEL, label.data(), label.size()}, {CKA_ID, id.data(), id.size()},
      {CKA_VERIFY, &no, sizeof(no)},           {CKA_WRAP, &no, sizeof(no)},
  };
  std::vector<CK_ATTRIBUTE> priv = {
      {CKA_TOKEN, &yes, sizeof(yes)},
      {CKA_PRIVATE, &yes, sizeof(yes)},
      {CKA_SENSITIVE, &yes, sizeof(yes)},
      {CKA_EXTRACTABLE, &no, sizeof(no)},
      {CKA_LABEL, label.data(), label.size()},
      {CKA_ID, id.data(), id.size()},
      {CKA_SIGN, &no, sizeof(no)},
      {CKA_UNWRAP, &no, sizeof(no)},
  };
  if (rsa) {
    pub.push_back({CKA_MODULUS_BITS, &bits, sizeof(bits)});
    pub.push_back({CKA_PUBLIC_EXPONENT, kRsaExponent, sizeof(kRsaExponent)});
    pub.push_back({CKA_ENCRYPT, &yes, sizeof(yes)});
    priv.push_back({CKA_DECRYPT, &yes, sizeof(yes)});
    priv.push_back({CKA_DERIVE, &no, sizeof(no)});
  } else {
    pub.push_back({CKA_EC_PARAMS, kP256Params, sizeof(kP256Params)});
    priv.push_back({CKA_DERIVE, &yes, sizeof(yes)});
    priv.push_back({CKA_DECRYPT, &no, sizeof(no)});
  }
  CK_OBJECT_HANDLE pub_handle = CK_INVALID_HANDLE, priv_handle = CK_INVALID_HANDLE;
  CK_RV rv =
      session.functions()->C_GenerateKeyPair(session.handle(), &mechanism, pub.data(), pub.size(),
                                             priv.data(), priv.size(), &pub_handle, &priv_handle);
  CV_RETURN_IF_ERROR(CkrToStatus(rv, "C_GenerateKeyPair"));
  return CardKey::Find(session, KeySelector{spec.label, id});
}

StatusOr<bool> CardKeyGenerator::CanGenerate(const Pkcs11Module& module, CK_SLOT_ID slot,
                                             CardKeyAlgorithm algorithm) {
  CK_FUNCTION_LIST* f = module.functions();
  CK_ULONG count = 0;
  CK_RV rv = f->C_GetMechanismList(slot, nullptr, &count);
  if (rv != CKR_OK) return CkrToStatus(rv, "C_GetMechanismList");
  std::vector<CK_MECHANISM_TYPE> mechanisms(count);
  rv = f->C_GetMechanismList(slot, mechanisms.data(), &count);
  if (rv != CKR_OK) return CkrToStatus(rv, "C_GetMechanismList");
  mechanisms.resize(count);
  const bool rsa = algorithm != CardKeyAlgorithm::kEcP256;
  const CK_MECHANISM_TYPE wanted = rsa ? CKM_RSA_PKCS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN;
  if (std::find(mechanisms.begin(), mechanisms.end(), wanted) == mechanisms.end()) return false;
  CK_MECHANISM_INFO info{};
  if (f->C_GetMechanismInfo(slot, wanted, &info) != CKR_OK) return true;  // listed: try it
  if ((info.flags & CKF_GENERATE_KEY_PAIR) == 0) return false;
  if (!rsa) return true;  // EC sizes are given in bits by some modules, bytes by others
  const CK_ULONG bits = algorithm == CardKeyAlgorithm::kRsa3072 ? 3072 : 2048;
  return info.ulMaxKeySize == 0 || (bits >= info.ulMinKeySize && bits <= info.ulMaxKeySize);
}

}  // namespace cardvault
