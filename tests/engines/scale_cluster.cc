// ScaleCluster implementation: engines first (PostgreSQL, radosgw), then one data directory
// (`init` with the layout's stores; its certificate serves every instance), one config per
// instance (its own port), the instances, then the proxy.
#include "tests/engines/scale_cluster.h"

#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string_view>

#include "tests/api/raw_tls.h"

namespace cardvault {
namespace {

namespace fs = std::filesystem;
const std::string kServer = std::string(CARDVAULT_BINARY_DIR) + "/api/cardvault-server";

// GET /v1/health on 127.0.0.1:`port` after a PROXY v2 LOCAL header (HAProxy's health check).
bool HealthyBehindProxy(int port) {
  RawTls tls(port, "127.0.0.1", std::string_view("\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00", 16));
  return tls.ok() && tls.Send("GET /v1/health HTTP/1.1\r\nHost: localhost\r\n\r\n") &&
         tls.ReadResponse().rfind("HTTP/1.1 200", 0) == 0;
}

}  // namespace

std::string ScaleLayoutName(ScaleLayout layout) {
  switch (layout) {
    case ScaleLayout::kPostgresS3:
      return "PostgreSQL + radosgw";
    case ScaleLayout::kPostgresFiles:
      return "PostgreSQL + a shared blobs/ directory";
    case ScaleLayout::kSingleNode:
      return "SQLite + files (single node)";
  }
  return "?";
}

StatusOr<std::unique_ptr<ScaleCluster>> ScaleCluster::Start(Options options) {
  std::unique_ptr<ScaleCluster> c(new ScaleCluster(std::move(options)));
  if (c->options_.layout == ScaleLayout::kSingleNode) c->options_.instances = 1;
  std::string tmpl = c->options_.base_dir + "/cv-scale-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) return IoError("mkdtemp " + tmpl + " failed");
  c->dir_ = tmpl;
  CV_RETURN_IF_ERROR(c->StartEngines());
  CV_RETURN_IF_ERROR(c->InitDataDir());
  for (int i = 0; i < c->options_.instances; ++i) CV_RETURN_IF_ERROR(c->StartInstance(i));
  Haproxy::Options p;
  p.dir = c->dir_;
  p.backend_ports = c->ports_;
  CV_ASSIGN_OR_RETURN(c->proxy_, Haproxy::Start(std::move(p)));
  return c;
}

ScaleCluster::~ScaleCluster() {
  proxy_.reset();
  for (auto& i : instances_) {
    if (i == nullptr || !i->Running()) continue;
    i->Signal(SIGTERM);
    i->Wait(15000);
  }
  instances_.clear();  // SIGKILL for any still running
  rgw_.reset();
  pg_.reset();
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
}

Status ScaleCluster::StartEngines() {
  if (options_.layout != ScaleLayout::kSingleNode) {
    CV_ASSIGN_OR_RETURN(pg_, PgCluster::Start());
    CV_RETURN_IF_ERROR(pg_->CreateDatabase("cardvault"));
  }
  if (options_.layout == ScaleLayout::kPostgresS3 || options_.radosgw) {
    CV_ASSIGN_OR_RETURN(rgw_, RgwCluster::Start());
  }
  return Status::Ok();
}

CommandResult ScaleCluster::Admin(std::vector<std::string> args) const {
  args.insert(args.begin(), {kServer, "--data", data_dir()});
  return RunCommand(args);
}

Status ScaleCluster::InitDataDir() {
  std::vector<std::string> init = {"init"};
  if (pg_ != nullptr) init.insert(init.end(), {"--index", pg_->ConnInfo("cardvault")});
  if (options_.layout == ScaleLayout::kPostgresS3) {
    init.insert(init.end(), {"--bytes", "s3", "--s3-endpoint", rgw_->endpoint(), "--s3-bucket",
                             rgw_->bucket(), "--s3-credentials", rgw_->credentials_file()});
  }
  CommandResult r = Admin(init);
  if (r.exit_code != 0 && r.output.find("s3_unavailable") != std::string::npos) {
    return UnsupportedError("this build has no S3 byte store: " + r.output);
  }
  const size_t at = r.output.find("fingerprint: ");
  if (r.exit_code != 0 || at == std::string::npos) {
    return IoError("cardvault-server init failed: " + r.output);
  }
  fingerprint_ = r.output.substr(at + 13, 64);
  nlohmann::json config = nlohmann::json::parse(ReadText(data_dir() + "/config.json"));
  config["access_log"] = false;
  // HAProxy (on 127.0.0.1) names each client in a PROXY header; but every client of the
  // tests is 127.0.0.1 too, so the per-address limit stays high.
  config["proxy_protocol_from"] = {"127.0.0.1"};
  config["max_connections_per_address"] = 512;
  if (!options_.extra_config.empty()) {
    config.update(nlohmann::json::parse(options_.extra_config), /*merge_objects=*/true);
  }
  for (int i = 0; i < options_.instances; ++i) {
    ports_.push_back(FreePort());
    config["port"] = ports_.back();
    std::ofstream(ConfigPath(i)) << config.dump(2);
  }
  return Status::Ok();
}

std::string ScaleCluster::InstanceLog(int i) const {
  return ReadText(dir_ + "/instance" + std::to_string(i) + ".log");
}

Status ScaleCluster::StartInstance(int i) {
  auto process = std::make_unique<ChildProcess>(
      std::vector<std::string>{kServer, "--data", data_dir(), "--config", ConfigPath(i), "serve"},
      EnvVars{}, dir_ + "/instance" + std::to_string(i) + ".log");
  const size_t slot = static_cast<size_t>(i);
  if (instances_.size() <= slot) instances_.resize(slot + 1);
  instances_[slot] = std::move(process);
  // The instances want a PROXY header from 127.0.0.1: ask as HAProxy's health check does.
  const bool up = WaitFor(
      [&] { return HealthyBehindProxy(ports_[slot]) || !instances_[slot]->Running(); }, 15000);
  if (up && instances_[slot]->Running()) return Status::Ok();
  const std::string log = InstanceLog(i);
  if (log.find("s3_unavailable") != std::string::npos) {
    return UnsupportedError("this build has no S3 byte store: " + log);
  }
  return UnavailableError("instance " + std::to_string(i) + " did not start: " + log);
}

StatusOr<std::string> ScaleCluster::AddUser(const std::string& user,
                                            const std::string& token_file) {
  CommandResult r = Admin({"--config", ConfigPath(0), "user", "add", user});
  if (r.exit_code != 0) return IoError("cardvault-server user add failed: " + r.output);
  return IssueToken(user, token_file);
}

StatusOr<std::string> ScaleCluster::IssueToken(const std::string& user,
                                               const std::string& token_file) {
  CommandResult issue = Admin({"--config", ConfigPath(0), "token", "issue", user});
  const size_t at = issue.output.find("cvt_");
  if (issue.exit_code != 0 || at == std::string::npos) {
    return IoError("cardvault-server token issue failed: " + issue.output);
  }
  const std::string token = issue.output.substr(at, issue.output.find_first_of(" \n", at) - at);
  std::ofstream(token_file) << token << "\n";
  ::chmod(token_file.c_str(), 0600);
  return token;
}

StatusOr<std::unique_ptr<RemoteStore>> ScaleCluster::Client(const std::string& token) const {
  RemoteStoreOptions o;
  o.port = proxy_->port();
  o.pinned_sha256 = fingerprint_;
  o.token = SecretData::CopyFrom(token);
  o.read_timeout_seconds = 300;
  o.write_timeout_seconds = 300;
  return RemoteStore::New(std::move(o));
}

void ScaleCluster::KillInstance(int i) { instances_[static_cast<size_t>(i)]->Signal(SIGKILL); }

Status ScaleCluster::RestartInstance(int i) {
  instances_[static_cast<size_t>(i)]->Wait(10000);
  CV_RETURN_IF_ERROR(StartInstance(i));
  return proxy_->WaitForState(i, "UP", 10000);
}

Status ScaleCluster::StopObjectStore() {
  if (rgw_ == nullptr) return FailedPreconditionError("no radosgw in this layout");
  return rgw_->StopGateway();
}

Status ScaleCluster::StartObjectStore() {
  if (rgw_ == nullptr) return FailedPreconditionError("no radosgw in this layout");
  return rgw_->StartGateway();
}

Status ScaleCluster::RestartIndex(int down_ms) {
  if (pg_ == nullptr) return FailedPreconditionError("no PostgreSQL in the single-node layout");
  return pg_->Restart(down_ms);
}

}  // namespace cardvault
