// `cardvault recipients`: list, add and remove entries of the config's "recipients" array.
#include "agent/cli/recipients_commands.h"

#include <algorithm>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "agent/cli/cli_errors.h"
#include "agent/sync/config.h"
#include "core/card/recipient_parser.h"

namespace cardvault {
namespace {

using nlohmann::json;

// The config file as JSON, checked to be a valid AgentConfig.
StatusOr<json> LoadConfigJson(Env& env, const std::string& path) {
  CV_ASSIGN_OR_RETURN(AgentConfig config, AgentConfig::Load(env, path));
  (void)config;
  CV_ASSIGN_OR_RETURN(Bytes text, ReadFileToBytes(env, path));
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return InvalidArgumentError(path + ": not a JSON object", "config_invalid");
  }
  return doc;
}

std::vector<std::string> RecipientsOf(const json& doc) {
  std::vector<std::string> out;
  if (doc.contains("recipients")) {
    for (const json& r : doc.at("recipients")) out.push_back(r.get<std::string>());
  }
  return out;
}

// Writes `doc` with `recipients` back to `path` if it still parses as an AgentConfig.
Status StoreRecipients(Env& env, const std::string& path, json doc,
                       const std::vector<std::string>& recipients) {
  doc["recipients"] = recipients;
  std::string text = doc.dump(2) + "\n";
  CV_RETURN_IF_ERROR(AgentConfig::Parse(text, path).status());
  return WriteFileAtomically(env, path, AsBytes(text), 0600);
}

std::string Describe(const std::string& recipient) {
  std::string kind;
  Bytes key_id = RecipientKeyId(recipient, &kind);
  if (key_id.empty()) return "(invalid)";
  return kind + ", key id " + HexEncode(key_id);
}

Status List(const std::string& config_flag) {
  Env& env = *Env::Default();
  std::string path = ConfigPath(config_flag);
  CV_ASSIGN_OR_RETURN(json doc, LoadConfigJson(env, path));
  std::vector<std::string> recipients = RecipientsOf(doc);
  for (const std::string& r : recipients) std::cout << r << "\n";
  for (const std::string& r : recipients) std::cerr << "cardvault: " << Describe(r) << "\n";
  std::cerr << "cardvault: " << recipients.size() << " recipient"
            << (recipients.size() == 1 ? "" : "s") << " in " << path << "\n";
  return Status::Ok();
}

Status Add(const std::string& config_flag, const std::string& recipient) {
  Env& env = *Env::Default();
  std::string path = ConfigPath(config_flag);
  CV_RETURN_IF_ERROR(ParseRecipient(recipient).status());
  std::string text = recipient;
  text.erase(0, text.find_first_not_of(" \t\r\n"));
  text.erase(text.find_last_not_of(" \t\r\n") + 1);
  CV_ASSIGN_OR_RETURN(json doc, LoadConfigJson(env, path));
  std::vector<std::string> recipients = RecipientsOf(doc);
  if (std::find(recipients.begin(), recipients.end(), text) != recipients.end()) {
    std::cerr << "cardvault: " << path << " already lists this recipient; nothing changed\n";
    return Status::Ok();
  }
  recipients.push_back(text);
  CV_RETURN_IF_ERROR(StoreRecipients(env, path, doc, recipients));
  std::cerr << "cardvault: added " << Describe(text) << " to " << path << " (" << recipients.size()
            << " recipients); files encrypted from now on include it\n";
  return Status::Ok();
}

Status Remove(const std::string& config_flag, const std::string& recipient) {
  Env& env = *Env::Default();
  std::string path = ConfigPath(config_flag);
  CV_ASSIGN_OR_RETURN(json doc, LoadConfigJson(env, path));
  std::vector<std::string> recipients = RecipientsOf(doc);
  auto it = std::find(recipients.begin(), recipients.end(), recipient);
  if (it == recipients.end()) {
    return NotFoundError(path + " does not list that recipient; see `cardvault recipients list`",
                         "recipient_not_found");
  }
  if (recipients.size() == 1) {
    return FailedPreconditionError(
        "refusing to remove the last recipient of " + path +
            ": files could no longer be encrypted to anyone. Add its replacement first",
        "last_recipient");
  }
  recipients.erase(it);
  CV_RETURN_IF_ERROR(StoreRecipients(env, path, doc, recipients));
  std::cerr << "cardvault: removed it from " << path << " (" << recipients.size()
            << " left); files already encrypted to it stay readable by its key\n";
  return Status::Ok();
}

}  // namespace

void AddRecipientsCommands(CLI::App& app, const std::string& global_config, int& exit_code) {
  auto config = std::make_shared<std::string>();
  // The subcommand's own --config wins over the global one.
  auto path = [config, &global_config] { return config->empty() ? global_config : *config; };
  auto* rec =
      app.add_subcommand("recipients",
                         "List, add or remove the recipients in the agent config (backup cards, "
                         "recovery keys).");
  rec->require_subcommand(1);
  rec->fallthrough();  // --config may follow list/add/remove
  rec->add_option("--config", *config,
                  "Config file (default: $CARDVAULT_CONFIG, else " + DefaultConfigPathHelp() + ")");
  rec->footer(
      "Examples:\n  cardvault recipients list\n"
      "  cardvault recipients add cv-p11-3059...      # from `cardvault card init` or "
      "`card list`\n  cardvault recipients remove cv-x25519-...");

  auto* list = rec->add_subcommand("list", "Print each recipient (stdout) and its kind (stderr).");
  list->callback([&exit_code, path] {
    Status s = List(path());
    exit_code = s.ok() ? 0 : ReportError(s);
  });

  auto added = std::make_shared<std::string>();
  auto* add = rec->add_subcommand("add", "Add a recipient (validated) to the config.");
  add->add_option("recipient", *added, "cv-p11-... or cv-x25519-...")->required();
  add->footer("Example:\n  cardvault recipients add \"$(cardvault card init --token Backup)\"");
  add->callback([&exit_code, path, added] {
    Status s = Add(path(), *added);
    exit_code = s.ok() ? 0 : ReportError(s);
  });

  auto removed = std::make_shared<std::string>();
  auto* remove =
      rec->add_subcommand("remove", "Remove a recipient from the config (never the last one).");
  remove->add_option("recipient", *removed, "The exact string `recipients list` prints")
      ->required();
  remove->footer("Example:\n  cardvault recipients remove cv-x25519-4f1c...");
  remove->callback([&exit_code, path, removed] {
    Status s = Remove(path(), *removed);
    exit_code = s.ok() ? 0 : ReportError(s);
  });
}

}  // namespace cardvault
