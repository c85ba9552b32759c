// `cardvault-server init`: a new config (stores chosen on the command line) checked against
// the stores it names, and a development certificate.
#include <cstdio>

#include "api/server_commands.h"
#include "api/tls_identity.h"
#include "storage/private_files.h"

namespace cardvault {
namespace {

// The config `options` describe, checked as if read from config.json.
StatusOr<ServerConfig> NewConfig(const InitOptions& options) {
  ServerConfig config;
  if (!options.index.empty()) config.index = options.index;
  if (options.index_pool_size > 0) config.index_pool_size = options.index_pool_size;
  if (!options.bytes.empty()) config.bytes = options.bytes;
  config.s3 = options.s3;
  return ServerConfig::FromJson(config.ToJson());
}

// Connects, migrates, and for S3 reaches the bucket: a config that cannot serve is never
// written.
Status CheckStores(const std::string& data, const ServerConfig& config) {
  auto stores = OpenServerStores(Env::Default(), data, config, StoresFor::kServe);
  if (!stores.ok()) {
    return stores.status().WithContext(
        "the stores of the new config do not work (no config was written; fix this and run "
        "init again)");
  }
  return Status::Ok();
}

StatusOr<std::string> WriteCertificate(const std::string& data, const ServerConfig& config,
                                       const std::vector<std::string>& hosts) {
  std::vector<std::string> dns = {"localhost"};
  std::vector<std::string> ips = {"127.0.0.1", "::1"};
  for (const auto& h : hosts) {
    (h.find_first_not_of("0123456789.:abcdef") == std::string::npos ? ips : dns).push_back(h);
  }
  return GenerateSelfSignedCertificate(*Env::Default(), ResolveDataPath(data, config.cert_file),
                                       ResolveDataPath(data, config.key_file), dns, ips);
}

}  // namespace

int InitCommand(const ServerPaths& paths, const InitOptions& options) {
  Env& env = *Env::Default();
  const std::string config_path = paths.config_path();
  if (env.Stat(config_path).ok()) {
    return FailCommand(AlreadyExistsError(config_path + " exists; refusing to overwrite"));
  }
  auto config = NewConfig(options);
  if (!config.ok()) return FailCommand(config.status());
  if (Status dirs = env.CreateDirs(paths.data + "/tls"); !dirs.ok()) return FailCommand(dirs);
  if (Status stores = CheckStores(paths.data, *config); !stores.ok()) return FailCommand(stores);
  auto fingerprint = WriteCertificate(paths.data, *config, options.hosts);
  if (!fingerprint.ok()) return FailCommand(fingerprint.status());
  if (Status saved = config->Save(env, config_path); !saved.ok()) return FailCommand(saved);
  if (Status private_dir = MakeDataDirPrivate(paths.data); !private_dir.ok()) {
    return FailCommand(private_dir);
  }
  std::printf("initialized %s (index: %s, bytes: %s)\ncertificate sha256 fingerprint: %s\n",
              paths.data.c_str(), config->uses_postgresql() ? "postgresql" : "sqlite",
              config->bytes.c_str(), fingerprint->c_str());
  return 0;
}

}  // namespace cardvault
