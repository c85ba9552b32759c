// ReportError: error lines and remedies for the cardvault CLI.
#include "agent/cli/cli_errors.h"

#include <algorithm>
#include <cctype>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "agent/cli/card_backend_flags.h"
#include "core/card/card_reasons.h"

namespace cardvault {
namespace {

// What the user should do about `reason`; empty if the message says enough.
std::string Remedy(const std::string& reason) {
  if (std::string backend = CardBackendRemedy(reason); !backend.empty()) return backend;
  if (reason == kReasonPinIncorrect) {
    return "the card rejected the PIN. cardvault never tries a PIN twice (every wrong PIN "
           "brings the card closer to locking): check the PIN (--pin-file, CARDVAULT_PIN_FILE "
           "or the prompt) and run again.";
  }
  if (reason == kReasonLoginFailed) {
    return "the card answered the PIN with a general error: a wrong PIN on some cards, or the "
           "card was pulled or failed. cardvault never tries a PIN twice: check the PIN and that "
           "the card is firmly inserted (`cardvault card list`), then run again.";
  }
  if (reason == kReasonCardRemoved) {
    return "the card was removed while in use; nothing is wrong with the files. Insert it, "
           "check that `cardvault card list` shows it, and run again.";
  }
  if (reason == kReasonCardFailed) {
    return "the card failed while in use; nothing is wrong with the files. Remove and "
           "reinsert it and run again; if it keeps failing, try another reader or the backup "
           "card.";
  }
  if (reason == kReasonWrongCard) {
    return "insert the card this file was encrypted to: `cardvault inspect FILE` shows the "
           "key ids it is for, `cardvault card list` those of the inserted cards.";
  }
  if (reason == kReasonAmbiguousToken || reason == kReasonAmbiguousKey) {
    return "choose with --token LABEL (or --serial) and --key-label; `cardvault card list` "
           "shows them.";
  }
  if (reason == "pin_file_insecure") return "run: chmod 600 on the PIN file.";
  if (reason == kReasonPinCancelled) return "nothing was changed.";
  return {};
}

// An option name, lowercased, without its dashes and "=value": "--PIN=1" -> "pin".
std::string OptionName(std::string_view arg) {
  if (arg.empty() || arg[0] != '-') return {};
  arg.remove_prefix(arg.find_first_not_of('-') == std::string_view::npos
                        ? arg.size()
                        : arg.find_first_not_of('-'));
  arg = arg.substr(0, arg.find('='));
  std::string name(arg);
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return name;
}

bool IsPinOption(std::string name) {
  std::erase_if(name, [](char c) { return c == '-' || c == '_'; });
  return name == "pin" || name == "pincode" || name == "userpin" || name == "sopin" ||
         name == "pinvalue" || name == "cardpin";
}

bool IsWordChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-' || c == '.' ||
         c == '/';
}

// Replaces each whole-word occurrence of `value` in `text`.
void ReplaceWord(std::string& text, std::string_view value) {
  const std::string_view mark = "<value>";
  for (size_t at = text.find(value); at != std::string::npos; at = text.find(value, at)) {
    const size_t end = at + value.size();
    const bool alone =
        (at == 0 || !IsWordChar(text[at - 1])) && (end == text.size() || !IsWordChar(text[end]));
    if (!alone) {
      ++at;
      continue;
    }
    text.replace(at, value.size(), mark);
    at += mark.size();
  }
}

}  // namespace

Status RefusePinArguments(std::span<const char* const> args) {
  for (const char* arg : args) {
    if (std::string_view(arg) == "--") break;
    const std::string name = OptionName(arg);
    if (name.empty() || !IsPinOption(name)) continue;
    return InvalidArgumentError(
        "a PIN is never taken on the command line (option --" + name +
            "): other users can read it (ps, /proc) and it stays in your shell history. Give "
            "it with --pin-file FILE (mode 0600) or $CARDVAULT_PIN_FILE, or leave both out to "
            "be asked by pinentry",
        "pin_on_command_line");
  }
  return Status::Ok();
}

std::string RedactArgumentValues(std::string message, std::span<const char* const> args) {
  std::vector<std::string_view> values;
  for (const char* a : args) {
    std::string_view arg(a);
    if (arg.empty()) continue;
    if (arg[0] != '-') {
      values.push_back(arg);
    } else if (const size_t eq = arg.find('='); eq != std::string_view::npos) {
      values.push_back(arg.substr(eq + 1));
    }
  }
  // Longest first, so that a value containing another is replaced whole.
  std::sort(values.begin(), values.end(),
            [](std::string_view a, std::string_view b) { return a.size() > b.size(); });
  for (std::string_view v : values) {
    if (!v.empty() && v != "<value>") ReplaceWord(message, v);
  }
  return message;
}

int ReportError(const Status& status) {
  std::cerr << "cardvault: error: " << status.message();
  if (!status.reason().empty()) std::cerr << " [" << status.reason() << "]";
  std::cerr << "\n";
  std::string remedy = Remedy(status.reason());
  if (!remedy.empty()) std::cerr << "cardvault: " << remedy << "\n";
  return 1;
}

}  // namespace cardvault
