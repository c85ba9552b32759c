// AgentConfig parsing and validation over nlohmann/json (exceptions stay in this file).
#include "agent/sync/config.h"

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

namespace cardvault {
namespace {

using nlohmann::json;

// Reads optional typed fields, collecting the first error with the key's full name.
class Fields {
 public:
  Fields(const json& obj, std::string prefix, std::string origin)
      : obj_(obj), prefix_(std::move(prefix)), origin_(std::move(origin)) {}

  void String(const char* key, std::string& out) {
    if (!obj_.contains(key)) return;
    const json& v = obj_.at(key);
    if (!v.is_string()) return Fail(key, "a string");
    out = v.get<std::string>();
  }
  void Int(const char* key, int& out, int min, int max) {
    if (!obj_.contains(key)) return;
    const json& v = obj_.at(key);
    if (!v.is_number_integer() || v.get<int64_t>() < min || v.get<int64_t>() > max) {
      return Fail(key, "an integer from " + std::to_string(min) + " to " + std::to_string(max));
    }
    out = v.get<int>();
  }
  void Bool(const char* key, bool& out) {
    if (!obj_.contains(key)) return;
    const json& v = obj_.at(key);
    if (!v.is_boolean()) return Fail(key, "true or false");
    out = v.get<bool>();
  }
  void Strings(const char* key, std::vector<std::string>& out) {
    if (!obj_.contains(key)) return;
    const json& v = obj_.at(key);
    if (!v.is_array()) return Fail(key, "an array of strings");
    for (const json& e : v) {
      if (!e.is_string()) return Fail(key, "an array of strings");
      out.push_back(e.get<std::string>());
    }
  }
  void Fail(const std::string& key, const std::string& expected) {
    if (status_.ok()) {
      status_ = InvalidArgumentError(origin_ + ": \"" + prefix_ + key + "\" must be " + expected,
                                     "config_invalid");
    }
  }
  // Unknown keys are typos until proven otherwise.
  void RejectUnknown(std::initializer_list<const char*> known) {
    for (auto it = obj_.begin(); it != obj_.end(); ++it) {
      bool ok = false;
      for (const char* k : known) ok = ok || it.key() == k;
      if (!ok && status_.ok()) {
        status_ = InvalidArgumentError(
            origin_ + ": unknown key \"" + prefix_ + it.key() + "\" (see docs/configuration.md)",
            "config_invalid");
      }
    }
  }
  const Status& status() const { return status_; }

 private:
  const json& obj_;
  std::string prefix_, origin_;
  Status status_;
};

bool IsHex(const std::string& s) { return HexDecode(s).has_value(); }

}  // namespace

std::string ConfigPath(const std::string& flag) {
  if (!flag.empty()) return flag;
  const char* env = std::getenv("CARDVAULT_CONFIG");
  if (env != nullptr && *env != '\0') return env;
  return DefaultConfigPath();
}

StatusOr<AgentConfig> AgentConfig::Parse(std::string_view text, const std::string& origin) {
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    return InvalidArgumentError(origin + ": not valid JSON", "config_invalid");
  }
  if (!doc.is_object()) {
    return InvalidArgumentError(origin + ": the top level must be a JSON object", "config_invalid");
  }
  AgentConfig c;
  Fields f(doc, "", origin);
  f.RejectUnknown({"vault_dir", "server_url", "token_file", "server_ca_file", "server_fingerprint",
                   "card", "recipients", "ignore", "settle_delay_ms", "rescan_interval_s",
                   "low_priority", "state_dir"});
  f.String("vault_dir", c.vault_dir);
  f.String("server_url", c.server_url);
  f.String("token_file", c.token_file);
  f.String("server_ca_file", c.server_ca_file);
  f.String("server_fingerprint", c.server_fingerprint);
  f.Strings("recipients", c.recipients);
  f.Strings("ignore", c.ignore);
  f.Int("settle_delay_ms", c.settle_delay_ms, 0, 600000);
  f.Int("rescan_interval_s", c.rescan_interval_s, 0, 7 * 86400);
  f.Bool("low_priority", c.low_priority);
  f.String("state_dir", c.state_dir);
  CV_RETURN_IF_ERROR(f.status());
  if (doc.contains("card")) {
    if (!doc.at("card").is_object()) {
      return InvalidArgumentError(origin + ": \"card\" must be an object", "config_invalid");
    }
    Fields cf(doc.at("card"), "card.", origin);
    cf.RejectUnknown({"module", "token_label", "token_serial", "key_label", "key_id", "pin_file",
                      "idle_timeout_s"});
    cf.String("module", c.card.module);
    cf.String("token_label", c.card.token_label);
    cf.String("token_serial", c.card.token_serial);
    cf.String("key_label", c.card.key_label);
    cf.String("key_id", c.card.key_id);
    cf.String("pin_file", c.card.pin_file);
    cf.Int("idle_timeout_s", c.card.idle_timeout_s, 0, 86400);
    CV_RETURN_IF_ERROR(cf.status());
  }
  auto bad = [&](const std::string& key, const std::string& expected) {
    return InvalidArgumentError(origin + ": \"" + key + "\" must be " + expected, "config_invalid");
  };
  // Absolute as the platform has it: /home/... on Linux, C:\... (or C:/...) on Windows.
  if (c.vault_dir.empty() || !std::filesystem::path(c.vault_dir).is_absolute()) {
    return bad("vault_dir", "the absolute path of the folder to protect");
  }
  if (c.server_url.rfind("https://", 0) != 0 || c.server_url.size() <= 8) {
    return bad("server_url", "an https:// URL, e.g. https://vault.example.com:8443");
  }
  if (c.token_file.empty()) return bad("token_file", "the path of the device token file");
  if (c.server_ca_file.empty() == c.server_fingerprint.empty()) {
    return bad("server_ca_file", "set, or \"server_fingerprint\" set, but exactly one of them");
  }
  if (!c.server_fingerprint.empty()) {
    std::string fp;
    for (char ch : c.server_fingerprint) {
      if (ch != ':') fp.push_back(ch);
    }
    if (fp.size() != 64 || !IsHex(fp)) {
      return bad("server_fingerprint", "the certificate's SHA-256 as 64 hex digits");
    }
    c.server_fingerprint = fp;
  }
  if (!c.card.key_id.empty() && !IsHex(c.card.key_id)) {
    return bad("card.key_id", "hex digits (the key's CKA_ID)");
  }
  if (c.state_dir.empty()) c.state_dir = DefaultStateDir();
  return c;
}

StatusOr<AgentConfig> AgentConfig::Load(Env& env, const std::string& path) {
  auto text = ReadFileToBytes(env, path);
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound) {
      return NotFoundError("no config at " + path + "; create one with: cardvault init",
                           "config_missing");
    }
    return text.status();
  }
  return Parse(AsStringView(*text), path);
}

std::string AgentConfig::ToJson() const {
  json card_json = {{"module", card.module},
                    {"token_label", card.token_label},
                    {"token_serial", card.token_serial},
                    {"key_label", card.key_label},
                    {"key_id", card.key_id},
                    {"pin_file", card.pin_file},
                    {"idle_timeout_s", card.idle_timeout_s}};
  json doc = {{"vault_dir", vault_dir},
              {"server_url", server_url},
              {"token_file", token_file},
              {"card", card_json},
              {"recipients", recipients},
              {"ignore", ignore},
              {"settle_delay_ms", settle_delay_ms},
              {"rescan_interval_s", rescan_interval_s},
              {"low_priority", low_priority},
              {"state_dir", state_dir}};
  if (!server_ca_file.empty()) doc["server_ca_file"] = server_ca_file;
  if (!server_fingerprint.empty()) doc["server_fingerprint"] = server_fingerprint;
  return doc.dump(2) + "\n";
}

}  // namespace cardvault
