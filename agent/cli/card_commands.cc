// `cardvault card list` (what the card backend sees, no PIN) and `cardvault card init`
// (creates a key pair on the card, only when asked); through CardBackend only.
#include "agent/cli/card_commands.h"

#include <cstdlib>
#include <iostream>
#include <utility>

#include "agent/card/card_backends.h"
#include "agent/cli/card_backend_flags.h"
#include "agent/cli/cli_errors.h"
#include "core/card/card_reasons.h"
#include "core/card/card_recipient.h"

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

void PrintKey(const CardKeyInfo& key) {
  std::cout << "    key \"" << key.label << "\"";
  if (!key.backend_id.empty()) std::cout << " CKA_ID " << HexEncode(key.backend_id);
  if (!key.public_key.has_value()) {
    std::cout << " unsupported: " << key.unsupported.message() << "\n";
    return;
  }
  std::cout << " " << KeyTypeName(*key.public_key) << " key id "
            << HexEncode(key.public_key->key_id())
            << (key.from_certificate ? " (from certificate)" : "") << "\n";
  for (const std::string& line : key.details) std::cout << "      " << line << "\n";
  std::cout << "      recipient " << RecipientOf(*key.public_key) << "\n";
}

void PrintPin(const CardPinState& pin) {
  if (!pin.known) return;
  std::cout << "    PIN: initialized " << YesNo(pin.initialized) << ", count low "
            << YesNo(pin.count_low) << ", final try " << YesNo(pin.final_try) << ", locked "
            << YesNo(pin.locked) << ", PIN pad " << YesNo(pin.pin_pad) << "\n";
}

// Prints one card's state and keys (what it shows without a PIN).
void PrintCard(const CardInfo& card) {
  if (!card.status.ok()) {
    std::cout << "  token: unreadable (" << card.status.message() << ")\n";
    return;
  }
  if (!card.initialized) {
    std::cout << "  token: not initialized\n";
    return;
  }
  std::cout << "  token \"" << card.label << "\" serial " << card.serial << " ("
            << card.manufacturer << ", " << card.model << ")\n";
  PrintPin(card.pin);
  if (!card.keys_status.ok()) {
    std::cout << "    keys: unreadable (" << card.keys_status.message() << ")\n";
    return;
  }
  if (card.keys.empty()) {
    std::cout << "    keys: none"
              << (!card.can_generate.empty()
                      ? " (for a new vault, create one with: cardvault card init --token \"" +
                            card.label + "\")"
                      : std::string(" (this card cannot generate keys)"))
              << "; a card its driver is still reading can show no keys yet: list again in a "
                 "few seconds\n";
  }
  for (const CardKeyInfo& key : card.keys) PrintKey(key);
  if (card.keys.size() > 1) {
    std::cout << "    default key (without --key-label): " << card.default_key_note << "\n";
  }
}

Status ListCards(const CardBackendOptions& options) {
  CV_ASSIGN_OR_RETURN(std::unique_ptr<CardBackend> backend, OpenCardBackend(options));
  CV_ASSIGN_OR_RETURN(CardListing listing, backend->List());
  std::cout << listing.source << ": " << listing.cards.size() << " slot"
            << (listing.cards.size() == 1 ? "" : "s") << "\n";
  for (const CardInfo& card : listing.cards) {
    std::cout << "slot " << card.reader_id << " \"" << card.reader << "\"";
    if (!card.present) {
      std::cout << ": empty\n";
      continue;
    }
    std::cout << "\n";
    PrintCard(card);
  }
  return Status::Ok();
}

struct InitArgs {
  CardBackendOptions backend;
  std::string token_label, token_serial, key_label = "cardvault", type = "p256", pin_file;
};

// After key_exists: prints the recipient of the key already holding the label (stdout), so
// it can be used at once. Lists the cards again (no PIN); prints nothing if it cannot.
void PrintExistingRecipient(CardBackend& backend, const NewCardKeyRequest& request) {
  StatusOr<CardListing> listing = backend.List();
  if (!listing.ok()) return;
  for (const CardInfo& card : listing->cards) {
    if (!card.present || !card.initialized) continue;
    if (!request.card.label.empty() && card.label != request.card.label) continue;
    if (!request.card.serial.empty() && card.serial != request.card.serial) continue;
    for (const CardKeyInfo& key : card.keys) {
      if (key.label == request.label && key.public_key.has_value()) {
        std::cout << RecipientOf(*key.public_key) << "\n";
        return;
      }
    }
  }
}

Status InitCard(const InitArgs& args) {
  NewCardKeyRequest request;
  request.algorithm = args.type == "rsa2048"   ? CardKeyAlgorithm::kRsa2048
                      : args.type == "rsa3072" ? CardKeyAlgorithm::kRsa3072
                                               : CardKeyAlgorithm::kEcP256;
  request.card = CardSelector{args.token_label, args.token_serial};
  request.label = args.key_label;
  request.pin_source = ChoosePinSource(args.pin_file);
  request.notice = [](const std::string& what) { std::cerr << "cardvault: " << what << "\n"; };
  CV_ASSIGN_OR_RETURN(std::unique_ptr<CardBackend> backend, OpenCardBackend(args.backend));
  StatusOr<NewCardKey> created = backend->CreateKey(request);
  if (created.status().reason() == kReasonKeyExists) {
    PrintExistingRecipient(*backend, request);
    return Status(created.status().code(),
                  created.status().message() + " (its recipient is printed above)",
                  created.status().reason());
  }
  CV_RETURN_IF_ERROR(created.status());
  const CardKeyInfo& key = created->key;
  if (!key.public_key.has_value()) return InternalError("the new key's public half is unreadable");
  std::string recipient = RecipientOf(*key.public_key);
  std::cout << recipient << "\n";
  std::cerr << "cardvault: created " << KeyTypeName(*key.public_key) << " key \"" << key.label
            << "\" (key id " << HexEncode(key.public_key->key_id()) << ") on the card \""
            << created->card.label << "\"; the line above is its recipient. Encrypt to it (no "
            << "card needed) with:\n  cardvault encrypt -r " << recipient.substr(0, 20)
            << "... -o FILE.cvb FILE\n";
  return Status::Ok();
}

}  // namespace

std::shared_ptr<PinSource> ChoosePinSource(const std::string& pin_file) {
  if (!pin_file.empty()) return PinSource::FromFile(pin_file);
  const char* env = std::getenv("CARDVAULT_PIN_FILE");
  if (env != nullptr && *env != '\0') return PinSource::FromFile(env);
  return InteractivePinSource();
}

void AddCardCommands(CLI::App& app, int& exit_code) {
  auto* card = app.add_subcommand("card", "Smartcards (PKCS#11): list them, create a key on one.");
  card->require_subcommand(1);
  card->footer("Examples:\n  cardvault card list\n  cardvault card init --token \"My card\"\n" +
               DefaultCardBackendHelp());

  auto backend_for_list = std::make_shared<CardBackendOptions>();
  auto* list = card->add_subcommand(
      "list",
      "Show the slots, cards (label, serial, PIN state) and keys (with their recipient "
      "strings) a PKCS#11 module sees. Never asks for a PIN.");
  AddCardBackendFlags(*list, *backend_for_list);
  list->footer(
      "Example:\n  cardvault card list --module /usr/lib/x86_64-linux-gnu/opensc-pkcs11.so\n"
      "Copy a key's \"recipient cv-p11-...\" into `cardvault encrypt -r` or `cardvault "
      "recipients add`.");
  list->callback([&exit_code, backend_for_list] {
    Status s = ListCards(*backend_for_list);
    exit_code = s.ok() ? 0 : ReportError(s);
  });

  auto ia = std::make_shared<InitArgs>();
  auto* init = card->add_subcommand(
      "init",
      "Create a key pair ON the card (the private key never leaves it) and print its "
      "recipient string. Refuses if a key with that label exists.");
  AddCardBackendFlags(*init, ia->backend);
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
