// ServerConfig JSON reading and writing (nlohmann/json; exceptions stop here).
#include "api/server_config.h"

#include <array>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>
#include <type_traits>

#include "api/address_ranges.h"

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
  v("proxy_protocol_from", c.proxy_protocol_from);
  v("index", c.index);
  v("index_pool_size", c.index_pool_size);
  v("bytes", c.bytes);
  v("s3", c.s3);
  v("maintenance_interval_seconds", c.maintenance_interval_seconds);
  v("orphan_min_age_seconds", c.orphan_min_age_seconds);
}

template <typename Visitor>
void VisitS3Fields(ServerS3Config& c, Visitor&& v) {
  v("endpoint", c.endpoint);
  v("bucket", c.bucket);
  v("region", c.region);
  v("prefix", c.prefix);
  v("credentials_file", c.credentials_file);
  v("ca_file", c.ca_file);
  v("multipart_threshold_bytes", c.multipart_threshold_bytes);
  v("part_bytes", c.part_bytes);
  v("parts_in_flight", c.parts_in_flight);
}

// Reads the keys `visit` names from `doc` into `target`; `unknown` keeps the keys of `doc`
// that none of them named.
template <typename T, typename Visit>
void ReadFields(const Json& doc, T& target, Visit visit,
                std::set<std::string, std::less<>>& unknown, const std::string& where) {
  visit(target, [&](const char* key, auto& field) {
    auto it = doc.find(key);
    if (it == doc.end()) return;
    unknown.erase(key);
    // A nested object is read by its own visitor (FromJson).
    if constexpr (!std::is_same_v<std::decay_t<decltype(field)>, ServerS3Config>) {
      try {
        it->get_to(field);
      } catch (const std::exception& e) {
        throw std::runtime_error("\"" + where + key + "\": " + e.what());
      }
    }
  });
}

std::string UnknownKeys(const std::set<std::string, std::less<>>& unknown,
                        const std::string& where) {
  std::string names;
  for (const auto& key : unknown) names += (names.empty() ? "\"" : ", \"") + where + key + "\"";
  return names;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// Whether a PostgreSQL connection string or URI carries a password: "user:secret@" or
// "password=" in a URI, a password keyword in a key=value string. (The server checks the
// parsed form again with libpq before it connects.)
bool HasPassword(std::string_view conninfo) {
  if (StartsWith(conninfo, "postgresql://") || StartsWith(conninfo, "postgres://")) {
    std::string_view rest = conninfo.substr(conninfo.find("//") + 2);
    std::string_view authority = rest.substr(0, rest.find_first_of("/?"));
    const size_t at = authority.rfind('@');
    if (at != std::string_view::npos &&
        authority.substr(0, at).find(':') != std::string_view::npos) {
      return true;
    }
    const size_t query = rest.find('?');
    return query != std::string_view::npos &&
           ("&" + std::string(rest.substr(query + 1))).find("&password=") != std::string::npos;
  }
  for (size_t at = conninfo.find("password"); at != std::string_view::npos;
       at = conninfo.find("password", at + 1)) {
    const bool starts = at == 0 || conninfo[at - 1] == ' ' || conninfo[at - 1] == '\t';
    const size_t eq = conninfo.find_first_not_of(" \t", at + 8);
    if (starts && eq != std::string_view::npos && conninfo[eq] == '=') return true;
  }
  return false;
}

Status CheckStores(const ServerConfig& c) {
  if (c.index.empty()) {
    return InvalidArgumentError("\"index\" is empty: \"sqlite\" or a PostgreSQL connection string",
                                "bad_config");
  }
  if (c.uses_postgresql() && HasPassword(c.index)) {
    return InvalidArgumentError(
        "\"index\" holds a password: remove it and put it in a passfile (~/.pgpass of the "
        "server's user, or passfile=PATH in the connection string; mode 0600), so it is in "
        "neither config.json nor a command line",
        "password_in_config");
  }
  if (c.index_pool_size < 1 || c.index_pool_size > 1000) {
    return InvalidArgumentError("\"index_pool_size\" must be 1..1000", "bad_config");
  }
  if (c.bytes != "files" && c.bytes != "s3") {
    return InvalidArgumentError("\"bytes\" must be \"files\" or \"s3\", not \"" + c.bytes + "\"",
                                "bad_config");
  }
  if (c.bytes == "s3" &&
      (c.s3.endpoint.empty() || c.s3.bucket.empty() || c.s3.credentials_file.empty())) {
    return InvalidArgumentError(
        "\"bytes\": \"s3\" needs \"s3\": {\"endpoint\", \"bucket\", \"credentials_file\"}",
        "bad_config");
  }
  if (c.bytes == "s3" && !c.uses_postgresql()) {
    return InvalidArgumentError(
        "\"bytes\": \"s3\" needs a PostgreSQL \"index\" (the SQLite index is for one server "
        "with its files)",
        "bad_config");
  }
  if (c.maintenance_interval_seconds < 1 || c.orphan_min_age_seconds < 0) {
    return InvalidArgumentError("config has an out-of-range maintenance value", "bad_config");
  }
  return Status::Ok();
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
    ReadFields(
        doc, config, [](ServerConfig& c, auto v) { VisitFields(c, v); }, unknown, "");
    if (auto s3 = doc.find("s3"); s3 != doc.end()) {
      if (!s3->is_object()) throw std::runtime_error("\"s3\" is not an object");
      std::set<std::string, std::less<>> unknown_s3;
      for (const auto& item : s3->items()) unknown_s3.insert(item.key());
      ReadFields(
          *s3, config.s3, [](ServerS3Config& c, auto v) { VisitS3Fields(c, v); }, unknown_s3,
          "s3.");
      for (const auto& key : unknown_s3) unknown.insert("s3." + key);
    }
    if (!unknown.empty()) {
      return InvalidArgumentError("config has unknown keys: " + UnknownKeys(unknown, "") +
                                      " (see docs/server.md for the keys)",
                                  "bad_config");
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
  CV_RETURN_IF_ERROR(CheckStores(config));
  CV_RETURN_IF_ERROR(AddressRanges::Parse(config.proxy_protocol_from).status());
  return config;
}

std::string ServerConfig::ToJson() const {
  Json doc = Json::object();
  ServerConfig copy = *this;
  VisitFields(copy, [&](const char* key, auto& field) {
    if constexpr (std::is_same_v<std::decay_t<decltype(field)>, ServerS3Config>) {
      if (field == ServerS3Config{}) return;  // only written when set
      Json s3 = Json::object();
      VisitS3Fields(field, [&](const char* k, auto& f) { s3[k] = f; });
      doc[key] = std::move(s3);
    } else {
      doc[key] = field;
    }
  });
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
