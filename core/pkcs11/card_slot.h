// CardSlot: a reader (slot) a module offers, with or without a card in it.
#ifndef CARDVAULT_CORE_PKCS11_CARD_SLOT_H_
#define CARDVAULT_CORE_PKCS11_CARD_SLOT_H_

#include <p11-kit/pkcs11.h>

#include <string>
#include <vector>

#include "core/pkcs11/pkcs11_module.h"
#include "core/status_or.h"

namespace cardvault {

// A snapshot of CK_SLOT_INFO (padding trimmed), for `cardvault card list`.
struct CardSlot {
  CK_SLOT_ID id = 0;
  std::string description;
  std::string manufacturer;
  CK_FLAGS flags = 0;

  bool token_present() const { return (flags & CKF_TOKEN_PRESENT) != 0; }
  bool removable() const { return (flags & CKF_REMOVABLE_DEVICE) != 0; }
  bool hardware() const { return (flags & CKF_HW_SLOT) != 0; }

  // Every slot, including empty readers.
  static StatusOr<std::vector<CardSlot>> List(const Pkcs11Module& module);
};

}  // namespace cardvault

#endif  // CARDVAULT_CORE_PKCS11_CARD_SLOT_H_
