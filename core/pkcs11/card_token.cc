// CardToken implementation: C_GetTokenInfo and token selection.
#include "core/pkcs11/card_token.h"

#include "core/pkcs11/pkcs11_status.h"

namespace cardvault {
namespace {

// PKCS#11 pads fixed-size text fields with spaces (some modules with NULs).
template <size_t N>
std::string Trim(const unsigned char (&field)[N]) {
  std::string s(reinterpret_cast<const char*>(field), N);
  size_t end = s.find_last_not_of(std::string(" \0", 2));
  return end == std::string::npos ? std::string() : s.substr(0, end + 1);
}

std::string Describe(const TokenSelector& selector) {
  std::string out;
  if (!selector.label.empty()) out += "label \"" + selector.label + "\"";
  if (!selector.serial.empty()) {
    out += (out.empty() ? "" : ", ") + std::string("serial ") + selector.serial;
  }
  return out.empty() ? "any card" : out;
}

}  // namespace

std::string CardToken::Name() const { return "card \"" + label + "\" (serial " + serial + ")"; }

Status CardToken::OperationFailure(const Pkcs11Module& module, CK_RV rv,
                                   std::string_view operation) const {
  const std::string what = std::string(operation) + " returned " + CkrName(rv);
  StatusOr<CardToken> now = Read(module, slot);
  const bool gone =
      rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_PRESENT || !now.ok() || now->serial != serial;
  if (gone) {
    return UnavailableError("the " + Name() + " was removed during " + std::string(operation) +
                                " (" + what +
                                "); the file is not at fault: insert the card "
                                "and run again",
                            kReasonCardRemoved);
  }
  return UnavailableError("the " + Name() + " failed during " + std::string(operation) + " (" +
                              what +
                              ") and is still inserted; the file is not at fault: "
                              "remove and reinsert the card and run again (if it keeps "
                              "failing, the card or its reader is faulty)",
                          kReasonCardFailed);
}

StatusOr<CardToken> CardToken::Read(const Pkcs11Module& module, CK_SLOT_ID slot) {
  CK_TOKEN_INFO info{};
  CK_RV rv = module.functions()->C_GetTokenInfo(slot, &info);
  if (rv != CKR_OK) return CkrToStatus(rv, "C_GetTokenInfo");
  CardToken token;
  token.slot = slot;
  token.label = Trim(info.label);
  token.serial = Trim(info.serialNumber);
  token.manufacturer = Trim(info.manufacturerID);
  token.model = Trim(info.model);
  token.flags = info.flags;
  return token;
}

namespace {

// Readable tokens, plus the first failure reading one (a card pulled or broken mid-read).
StatusOr<std::vector<CardToken>> ListTokens(const Pkcs11Module& module, Status* unreadable) {
  CV_ASSIGN_OR_RETURN(std::vector<CK_SLOT_ID> slots, module.SlotsWithToken());
  std::vector<CardToken> tokens;
  for (CK_SLOT_ID slot : slots) {
    StatusOr<CardToken> token = CardToken::Read(module, slot);
    if (!token.ok()) {
      if (unreadable->ok()) *unreadable = std::move(token).status();
      continue;
    }
    tokens.push_back(std::move(token).value());
  }
  return tokens;
}

}  // namespace

StatusOr<std::vector<CardToken>> CardToken::List(const Pkcs11Module& module) {
  Status unreadable;
  return ListTokens(module, &unreadable);
}

StatusOr<CardToken> CardToken::Find(const Pkcs11Module& module, const TokenSelector& selector) {
  Status unreadable;
  CV_ASSIGN_OR_RETURN(std::vector<CardToken> tokens, ListTokens(module, &unreadable));
  std::vector<CardToken> matches;
  for (CardToken& token : tokens) {
    if (!token.initialized()) continue;
    if (!selector.label.empty() && token.label != selector.label) continue;
    if (!selector.serial.empty() && token.serial != selector.serial) continue;
    matches.push_back(std::move(token));
  }
  if (matches.empty()) {
    return UnavailableError(
        "no card with " + Describe(selector) + " is inserted (" + std::to_string(tokens.size()) +
            " token(s) seen through " + module.path() +
            (unreadable.ok() ? std::string()
                             : "; a token could not be read: " + unreadable.message()) +
            ")",
        kReasonCardAbsent);
  }
  if (matches.size() > 1) {
    return InvalidArgumentError(std::to_string(matches.size()) + " cards match " +
                                    Describe(selector) + "; choose one by label or serial",
                                "ambiguous_token");
  }
  return std::move(matches.front());
}

}  // namespace cardvault
