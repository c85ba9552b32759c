// CardSlot implementation: C_GetSlotList (all slots) and C_GetSlotInfo.
#include "core/pkcs11/card_slot.h"

#include "core/pkcs11/pkcs11_status.h"

namespace cardvault {
namespace {

template <size_t N>
std::string Trim(const unsigned char (&field)[N]) {
  std::string s(reinterpret_cast<const char*>(field), N);
  size_t end = s.find_last_not_of(std::string(" \0", 2));
  return end == std::string::npos ? std::string() : s.substr(0, end + 1);
}

}  // namespace

StatusOr<std::vector<CardSlot>> CardSlot::List(const Pkcs11Module& module) {
  CK_FUNCTION_LIST* f = module.functions();
  std::vector<CK_SLOT_ID> ids;
  for (int attempt = 0;; ++attempt) {
    CK_ULONG count = 0;
    CK_RV rv = f->C_GetSlotList(CK_FALSE, nullptr, &count);
    if (rv != CKR_OK) return CkrToStatus(rv, "C_GetSlotList");
    ids.resize(count);
    if (count == 0) break;
    rv = f->C_GetSlotList(CK_FALSE, ids.data(), &count);
    if (rv == CKR_BUFFER_TOO_SMALL && attempt < 3) continue;
    if (rv != CKR_OK) return CkrToStatus(rv, "C_GetSlotList");
    ids.resize(count);
    break;
  }
  std::vector<CardSlot> slots;
  for (CK_SLOT_ID id : ids) {
    CK_SLOT_INFO info{};
    CK_RV rv = f->C_GetSlotInfo(id, &info);
    if (rv == CKR_SLOT_ID_INVALID) continue;  // a reader unplugged meanwhile
    if (rv != CKR_OK) return CkrToStatus(rv, "C_GetSlotInfo");
    slots.push_back({id, Trim(info.slotDescription), Trim(info.manufacturerID), info.flags});
  }
  return slots;
}

}  // namespace cardvault
