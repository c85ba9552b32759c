// `cardvault card list` (what the PKCS#11 module sees, no PIN) and `cardvault card init`
// (creates a key pair on the card, only when asked).
#include "agent/cli/card_commands.h"

#include <cstdlib>
#include <iostream>
#include <utility>

#include "agent/card/pinentry_pin_source.h"
#include "agent/cli/cli_errors.h"
#include "core/card/card_recipient.h"
#include "core/pkcs11/card_key.h"
#include "core/pkcs11/card_key_generator.h"
#include "core/pkcs11/card_slot.h"
#include "core/pkcs11/card_token.h"
#include "core/pkcs11/pkcs11_session.h"
#include "core/pkcs11/pkcs11_status.h"

namespace cardvault {
namespace {

const char* YesNo(bool b) { return b ? "yes" : "no"; }

std::string KeyTypeName(const CardPublicKey& key) {
  return key.type() == CardKeyType::kRsa ? "RSA-" + std::to_string(key.bits())
                                         : std::string("EC P-256");
}

std::string RecipientOf(const CardPublicKey& key) {
  StatusOr<std::unique_ptr<CardRecipient>> recipient = CardRecipient::New(key);
  return recipient.ok() ? (*recipient)->ToString() : std::string();
}

// What the private key may do, or that the card hides it until login.
std::string Usages(const CardKey& key) {
  if (!key.private_visible) return "private key shown only after PIN login";
  return std::string("private key \"") + key.private_label + "\": decrypt " +
         YesNo(key.can_decrypt) + ", derive " + YesNo(key.can_derive) + ", sign " +
         YesNo(key.can_sign) + (key.Usable() ? "" : " (cardvault cannot unwrap with it)");
}

void PrintKey(const CardKey& key) {
  std::cout << "    key \"" << key.label << "\" CKA_ID " << HexEncode(key.id);
  if (!key.public_key.has_value()) {
    std::cout << " unsupported: " << key.unsupported.message() << "\n";
    return;
  }
  std::cout << " " << KeyTypeName(*key.public_key) << " key id "
            << HexEncode(key.public_key->key_id())
            << (key.from_certificate ? " (from certificate)" : "") << "\n";
  if (!key.certificate_label.empty() && !key.from_certificate) {
    std::cout << "      certificate \"" << key.certificate_label << "\"\n";
  }
  std::cout << "      " << Usages(key) << "\n"
            << "      recipient " << RecipientOf(*key.public_key) << "\n";
}

// Prints one token's state and keys (public objects only: no login).
void PrintToken(const std::shared_ptr<Pkcs11Module>& module, const CardToken& token) {
  if (!token.initialized()) {
    std::cout << "  token: not initialized\n";
    return;
  }
  std::cout << "  token \"" << token.label << "\" serial " << token.serial << " ("
            << token.manufacturer << ", " << token.model << ")\n"
            << "    PIN: initialized " << YesNo((token.flags & CKF_USER_PIN_INITIALIZED) != 0)
            << ", count low " << YesNo(token.pin_count_low()) << ", final try "
            << YesNo(token.pin_final_try()) << ", locked " << YesNo(token.pin_locked())
            << ", PIN pad " << YesNo(token.protected_authentication_path()) << "\n";
  StatusOr<std::unique_ptr<Pkcs11Session>> session = Pkcs11Session::Open(module, token.slot);
  if (!session.ok()) {
    std::cout << "    keys: unreadable (" << session.status().message() << ")\n";
    return;
  }
  StatusOr<std::vector<CardKey>> keys = CardKey::List(**session);
  if (!keys.ok()) {
    std::cout << "    keys: unreadable (" << keys.status().message() << ")\n";
    return;
  }
  if (keys->empty()) {
    StatusOr<bool> can_generate =
        CardKeyGenerator::CanGenerate(*module, token.slot, CardKeyAlgorithm::kRsa2048);
    StatusOr<bool> can_generate_ec =
        CardKeyGenerator::CanGenerate(*module, token.slot, CardKeyAlgorithm::kEcP256);
    const bool can =
        (can_generate.ok() && *can_generate) || (can_generate_ec.ok() && *can_generate_ec);
    std::cout << "    keys: none"
              << (can ? " (for a new vault, create one with: cardvault card init --token \"" +
                            token.label + "\")"
                      : std::string(" (this card cannot generate keys)"))
              << "; a card its driver is still reading can show no keys yet: list again in a "
                 "few seconds\n";
  }
  for (const CardKey& key : *keys) PrintKey(key);
  if (keys->size() > 1) {
    std::string why;
    const int chosen = CardKey::Choose(*keys, KeySelector{}, &why);
    std::cout << "    default key (without --key-label): "
              << (chosen >= 0 ? (*keys)[chosen].Describe() + ", " : std::string("none: ")) << why
              << "\n";
  }
}

Status ListCards(const std::string& module_path) {
  CV_ASSIGN_OR_RETURN(std::shared_ptr<Pkcs11Module> module, Pkcs11Module::Open(module_path));
  CV_ASSIGN_OR_RETURN(std::vector<CardSlot> slots, CardSlot::List(*module));
  std::cout << "module " << module->path() << ": " << slots.size() << " slot"
            << (slots.size() == 1 ? "" : "s") << "\n";
  for (const CardSlot& slot : slots) {
    std::cout << "slot " << slot.id << " \"" << slot.description << "\"";
    if (!slot.token_present()) {
      std::cout << ": empty\n";
      continue;
    }
    std::cout << "\n";
    StatusOr<CardToken> token = CardToken::Read(*module, slot.id);
    if (!token.ok()) {
      std::cout << "  token: unreadable (" << token.status().message() << ")\n";
      continue;
    }
    PrintToken(module, *token);
  }
  return Status::Ok();
}

struct InitArgs {
  std::string module, token_label, token_serial, key_label = "cardvault", type = "p256", pin_file;
};

// mechanism_unsupported for `card init`: names the card, and points at the key a card set
// up by an IT department already holds.
Status CannotGenerate(const Pkcs11Module& module, const CardToken& token,
                      CardKeyAlgorithm algorithm, const std::string& detail) {
  std::string other;
  for (auto [type, alternative] : {std::pair{"p256", CardKeyAlgorithm::kEcP256},
                                   std::pair{"rsa2048", CardKeyAlgorithm::kRsa2048}}) {
    if (alternative == algorithm) continue;
    StatusOr<bool> can = CardKeyGenerator::CanGenerate(module, token.slot, alternative);
    if (can.ok() && *can) other = std::string(" It can generate with --type ") + type + ".";
  }
  return UnsupportedError(
      "the " + token.Name() + " cannot generate " + CardKeyAlgorithmName(algorithm) +
          " keys: its module " + module.path() + " offers no " +
          (algorithm == CardKeyAlgorithm::kEcP256 ? "CKM_EC_KEY_PAIR_GEN"
                                                  : "CKM_RSA_PKCS_KEY_PAIR_GEN") +
          detail + "; nothing was created." + other +
          " If the card came with a key (e.g. set up by your IT department), use that one: "
          "`cardvault card list` shows its keys and recipients; encrypt to its recipient and "
          "pick it with --key-label (its label, CKA_ID or key id) when decrypting",
      kReasonMechanismUnsupported);
}

Status InitCard(const InitArgs& args) {
  CardKeyAlgorithm algorithm = args.type == "rsa2048"   ? CardKeyAlgorithm::kRsa2048
                               : args.type == "rsa3072" ? CardKeyAlgorithm::kRsa3072
                                                        : CardKeyAlgorithm::kEcP256;
  CV_ASSIGN_OR_RETURN(std::shared_ptr<Pkcs11Module> module, Pkcs11Module::Open(args.module));
  CV_ASSIGN_OR_RETURN(CardToken token,
                      CardToken::Find(*module, TokenSelector{args.token_label, args.token_serial}));
  // Before any session or PIN: can this card make such a key at all?
  CV_ASSIGN_OR_RETURN(bool can_generate,
                      CardKeyGenerator::CanGenerate(*module, token.slot, algorithm));
  if (!can_generate) return CannotGenerate(*module, token, algorithm, "");
  CV_ASSIGN_OR_RETURN(std::unique_ptr<Pkcs11Session> session,
                      Pkcs11Session::Open(module, token.slot, Pkcs11Session::Mode::kReadWrite));
  CV_ASSIGN_OR_RETURN(std::vector<CardKey> keys, CardKey::List(*session));
  for (const CardKey& key : keys) {
    if (key.label != args.key_label) continue;
    if (key.public_key.has_value()) std::cout << RecipientOf(*key.public_key) << "\n";
    return AlreadyExistsError("the card \"" + token.label + "\" already holds a key labelled \"" +
                                  args.key_label +
                                  "\" (its recipient is printed above); nothing was created. "
                                  "Use it, or choose another --key-label",
                              "key_exists");
  }
  if (token.protected_authentication_path()) {
    std::cerr << "cardvault: enter the PIN on the reader's PIN pad\n";
    CV_RETURN_IF_ERROR(session->Login(nullptr));
  } else {
    std::shared_ptr<PinSource> pins = ChoosePinSource(args.pin_file);
    PinRequest request{token.label, token.serial, token.pin_count_low(), token.pin_final_try()};
    CV_ASSIGN_OR_RETURN(SecretData pin, pins->GetPin(request));
    CV_RETURN_IF_ERROR(session->Login(&pin));
  }
  CardKeySpec spec;
  spec.algorithm = algorithm;
  spec.label = args.key_label;
  StatusOr<CardKey> generated = CardKeyGenerator::Generate(*session, spec);
  if (generated.status().reason() == kReasonMechanismUnsupported) {
    return CannotGenerate(*module, token, algorithm, " (" + generated.status().message() + ")");
  }
  CV_ASSIGN_OR_RETURN(CardKey key, std::move(generated));
  if (!key.public_key.has_value()) return InternalError("the new key's public half is unreadable");
  std::string recipient = RecipientOf(*key.public_key);
  std::cout << recipient << "\n";
  std::cerr << "cardvault: created " << KeyTypeName(*key.public_key) << " key \"" << key.label
            << "\" (key id " << HexEncode(key.public_key->key_id()) << ") on the card \""
            << token.label << "\"; the line above is its recipient. Encrypt to it (no card "
            << "needed) with:\n  cardvault encrypt -r " << recipient.substr(0, 20)
            << "... -o FILE.cvb FILE\n";
  return Status::Ok();
}

}  // namespace

std::shared_ptr<PinSource> ChoosePinSource(const std::string& pin_file) {
  if (!pin_file.empty()) return PinSource::FromFile(pin_file);
  const char* env = std::getenv("CARDVAULT_PIN_FILE");
  if (env != nullptr && *env != '\0') return PinSource::FromFile(env);
  return std::make_shared<PinentryPinSource>();
}

void AddCardCommands(CLI::App& app, int& exit_code) {
  auto* card = app.add_subcommand("card", "Smartcards (PKCS#11): list them, create a key on one.");
  card->require_subcommand(1);
  card->footer(
      "Examples:\n  cardvault card list\n  cardvault card init --token \"My card\"\n"
      "The default module is p11-kit's proxy (" +
      std::string(kDefaultPkcs11Module) + "), which reaches every registered card driver.");

  auto module_for_list = std::make_shared<std::string>();
  auto* list = card->add_subcommand(
      "list",
      "Show the slots, cards (label, serial, PIN state) and keys (with their recipient "
      "strings) a PKCS#11 module sees. Never asks for a PIN.");
  list->add_option("--module", *module_for_list, "PKCS#11 module (default: p11-kit's proxy)");
  list->footer(
      "Example:\n  cardvault card list --module /usr/lib/x86_64-linux-gnu/opensc-pkcs11.so\n"
      "Copy a key's \"recipient cv-p11-...\" into `cardvault encrypt -r` or `cardvault "
      "recipients add`.");
  list->callback([&exit_code, module_for_list] {
    Status s = ListCards(*module_for_list);
    exit_code = s.ok() ? 0 : ReportError(s);
  });

  auto ia = std::make_shared<InitArgs>();
  auto* init = card->add_subcommand(
      "init",
      "Create a key pair ON the card (the private key never leaves it) and print its "
      "recipient string. Refuses if a key with that label exists.");
  init->add_option("--module", ia->module, "PKCS#11 module (default: p11-kit's proxy)");
  auto* token_opt = init->add_option("--token", ia->token_label, "Card (token) label");
  init->add_option("--serial", ia->token_serial, "Card (token) serial number")->excludes(token_opt);
  init->add_option("--key-label", ia->key_label, "Label of the new key")->capture_default_str();
  init->add_option("--type", ia->type, "Key type")
      ->check(CLI::IsMember({"rsa2048", "rsa3072", "p256"}))
      ->capture_default_str();
  init->add_option("--pin-file", ia->pin_file,
                   "File holding the user PIN (mode 0600); default: $CARDVAULT_PIN_FILE, "
                   "else a pinentry prompt. Never give a PIN on the command line.");
  init->footer(
      "Example:\n  cardvault card init --token \"My card\" --type p256\n"
      "prints cv-p11-... ; then: cardvault recipients add cv-p11-...\n"
      "P-256 is fastest on most cards; use rsa2048 for cards without EC support.");
  init->callback([&exit_code, ia] {
    Status s = InitCard(*ia);
    exit_code = s.ok() ? 0 : ReportError(s);
  });
}

}  // namespace cardvault
