// ServerConfig JSON reading and writing (nlohmann/json; exceptions stop here).
#include "api/server_config.h"

#include <array>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>

namespace cardvault {
namespace {

using Json = nlohmann::json;

template <typename Visitor>
void VisitFields(ServerConfig& c, Visitor&& v) {
  v("listen_host", c.listen_host);
  v("port", c.port);
  v("cert_file", c.cert_file);
  v("key_file", c.key_file);
  v("max_object_bytes", c.max_object_bytes);
  v("quota_bytes", c.quota_bytes);
  v("retention_seconds", c.retention_seconds);
  v("inline_max_bytes", c.inline_max_bytes);
  v("max_connections", c.max_connections);
  v("max_connections_per_address", c.max_connections_per_address);
  v("header_timeout_seconds", c.header_timeout_seconds);
  v("max_header_bytes", c.max_header_bytes);
  v("max_header_count", c.max_header_count);
  v("retained_quota_percent", c.retained_quota_percent);
  v("read_timeout_seconds", c.read_timeout_seconds);
  v("write_timeout_seconds", c.write_timeout_seconds);
  v("keep_alive_timeout_seconds", c.keep_alive_timeout_seconds);
  v("keep_alive_max_requests", c.keep_alive_max_requests);
  v("auth_failures_before_backoff", c.auth_failures_before_backoff);
  v("auth_failure_window_seconds", c.auth_failure_window_seconds);
  v("auth_backoff_seconds", c.auth_backoff_seconds);
  v("access_log", c.access_log);
}

// Keys of earlier versions that no longer do anything (the thread pool before issue 17).
constexpr std::array<std::string_view, 2> kRetiredKeys = {"threads", "max_queued_connections"};

}  // namespace

StatusOr<ServerConfig> ServerConfig::FromJson(std::string_view json) {
  ServerConfig config;
  try {
    Json doc = Json::parse(json);
    if (!doc.is_object()) return InvalidArgumentError("config is not a JSON object", "bad_config");
    std::set<std::string, std::less<>> unknown;
    for (const auto& item : doc.items()) unknown.insert(item.key());
    for (std::string_view retired : kRetiredKeys) {
      if (auto it = unknown.find(retired); it != unknown.end()) unknown.erase(it);
    }
    VisitFields(config, [&](const char* key, auto& field) {
      auto it = doc.find(key);
      if (it == doc.end()) return;
      unknown.erase(key);
      try {
        it->get_to(field);
      } catch (const std::exception& e) {
        throw std::runtime_error(std::string("\"") + key + "\": " + e.what());
      }
    });
    if (!unknown.empty()) {
      std::string names;
      for (const auto& key : unknown) names += (names.empty() ? "\"" : ", \"") + key + "\"";
      return InvalidArgumentError(
          "config has unknown keys: " + names + " (see docs/server.md for the keys)", "bad_config");
    }
  } catch (const std::exception& e) {
    return InvalidArgumentError(std::string("config: ") + e.what(), "bad_config");
  }
  if (config.port < 0 || config.port > 65535 || config.max_connections < 1 ||
      config.max_connections_per_address < 1 || config.header_timeout_seconds < 1 ||
      config.max_header_bytes < 1024 || config.max_header_count < 1 ||
      config.retained_quota_percent > 1000 || config.read_timeout_seconds < 1 ||
      config.write_timeout_seconds < 1) {
    return InvalidArgumentError("config has an out-of-range value", "bad_config");
  }
  return config;
}

std::string ServerConfig::ToJson() const {
  Json doc = Json::object();
  ServerConfig copy = *this;
  VisitFields(copy, [&](const char* key, auto& field) { doc[key] = field; });
  return doc.dump(2) + "\n";
}

StatusOr<ServerConfig> ServerConfig::Load(Env& env, const std::string& path) {
  CV_ASSIGN_OR_RETURN(Bytes bytes, ReadFileToBytes(env, path));
  auto config = FromJson(AsStringView(bytes));
  if (!config.ok()) return config.status().WithContext(path);
  return config;
}

Status ServerConfig::Save(Env& env, const std::string& path) const {
  return WriteFileAtomically(env, path, AsBytes(ToJson()), 0600);
}

}  // namespace cardvault
