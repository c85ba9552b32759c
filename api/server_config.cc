// ServerConfig JSON reading and writing (nlohmann/json; exceptions stop here).
#include "api/server_config.h"

#include <nlohmann/json.hpp>

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
  v("threads", c.threads);
  v("max_queued_connections", c.max_queued_connections);
  v("read_timeout_seconds", c.read_timeout_seconds);
  v("write_timeout_seconds", c.write_timeout_seconds);
  v("keep_alive_timeout_seconds", c.keep_alive_timeout_seconds);
  v("keep_alive_max_requests", c.keep_alive_max_requests);
  v("auth_failures_before_backoff", c.auth_failures_before_backoff);
  v("auth_failure_window_seconds", c.auth_failure_window_seconds);
  v("auth_backoff_seconds", c.auth_backoff_seconds);
  v("access_log", c.access_log);
}

}  // namespace

StatusOr<ServerConfig> ServerConfig::FromJson(std::string_view json) {
  ServerConfig config;
  try {
    Json doc = Json::parse(json);
    if (!doc.is_object()) return InvalidArgumentError("config is not a JSON object", "bad_config");
    size_t known = 0;
    VisitFields(config, [&](const char* key, auto& field) {
      auto it = doc.find(key);
      if (it == doc.end()) return;
      ++known;
      it->get_to(field);
    });
    if (known != doc.size()) {
      return InvalidArgumentError("config has unknown keys", "bad_config");
    }
  } catch (const std::exception& e) {
    return InvalidArgumentError(std::string("config: ") + e.what(), "bad_config");
  }
  if (config.port < 0 || config.port > 65535 || config.threads < 1 ||
      config.max_queued_connections < 0 || config.read_timeout_seconds < 1 ||
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
