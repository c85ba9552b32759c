// ScaleCluster implementation: engines first (PostgreSQL, radosgw), then the instances
// (the first one's certificate and key copied to the others), then the proxy.
#include "tests/engines/scale_cluster.h"

#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace cardvault {
namespace {

namespace fs = std::filesystem;
const std::string kServer = std::string(CARDVAULT_BINARY_DIR) + "/api/cardvault-server";
const std::string kRadosgw = std::string(CARDVAULT_SOURCE_DIR) + "/tests/engines/radosgw.sh";

// The value of `key` in a shell-variable file ("KEY=value" lines).
std::string EnvFileValue(const std::string& text, const std::string& key) {
  const size_t at = text.find(key + "=");
  if (at == std::string::npos) return "";
  const size_t from = at + key.size() + 1;
  return text.substr(from, text.find('\n', from) - from);
}

}  // namespace

StatusOr<std::unique_ptr<ScaleCluster>> ScaleCluster::Start(Options options) {
  std::unique_ptr<ScaleCluster> c(new ScaleCluster(std::move(options)));
  std::string tmpl = c->options_.base_dir + "/cv-scale-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) return IoError("mkdtemp " + tmpl + " failed");
  c->dir_ = tmpl;
  if (c->options_.shared_stores || c->options_.engines) CV_RETURN_IF_ERROR(c->StartEngines());
  CV_RETURN_IF_ERROR(c->StartInstances());
  Haproxy::Options p;
  p.dir = c->dir_;
  for (const auto& i : c->instances_) p.backend_ports.push_back(i->port());
  CV_ASSIGN_OR_RETURN(c->proxy_, Haproxy::Start(std::move(p)));
  return c;
}

ScaleCluster::~ScaleCluster() {
  proxy_.reset();
  for (auto& i : instances_) i->Stop();
  instances_.clear();
  if (rgw_started_ && !Radosgw({"stop", dir_ + "/rgw"}).ok()) {
    // Logged by the script; the directory is removed below all the same.
  }
  pg_.reset();
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
}

Status ScaleCluster::Radosgw(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {"bash", kRadosgw};
  argv.insert(argv.end(), args.begin(), args.end());
  // Output to a file, not a pipe: the daemons the script starts would hold a pipe open.
  const std::string log = dir_ + "/radosgw-sh.log";
  ChildProcess script(argv, EnvVars{}, log);
  const int code = script.Wait(180000);  // the script bounds its own waits (120 s)
  if (code == 0) return Status::Ok();
  return UnavailableError("radosgw.sh " + args[0] + " failed (exit " + std::to_string(code) +
                          "): " + ReadText(log));
}

Status ScaleCluster::StartEngines() {
  if (!fs::exists(kRadosgw)) {
    return UnsupportedError(kRadosgw + " is missing (the radosgw fixture of branch s3)");
  }
  CV_ASSIGN_OR_RETURN(pg_, PgCluster::Start());
  CV_RETURN_IF_ERROR(pg_->CreateDatabase("cardvault"));
  rgw_started_ = true;
  CV_RETURN_IF_ERROR(Radosgw({"start", dir_ + "/rgw", std::to_string(FreePort())}));
  const std::string env = ReadText(dir_ + "/rgw/s3.env");
  s3_endpoint_ = EnvFileValue(env, "S3_ENDPOINT");
  s3_bucket_ = EnvFileValue(env, "S3_BUCKET");
  if (s3_endpoint_.empty() || s3_bucket_.empty()) {
    return InternalError("radosgw.sh wrote no S3_ENDPOINT/S3_BUCKET: " + env);
  }
  return Status::Ok();
}

std::string ScaleCluster::InstanceConfig() const {
  // Every client comes through the proxy's one address.
  nlohmann::json c = {{"max_connections_per_address", 512}};
  if (options_.shared_stores) {
    c["index"] = pg_->ConnInfo("cardvault");
    c["bytes"] = "s3";
    c["s3"] = {{"endpoint", s3_endpoint_},
               {"bucket", s3_bucket_},
               {"credentials_file", s3_credentials_file()}};
  }
  if (!options_.extra_config.empty()) c.update(nlohmann::json::parse(options_.extra_config));
  return c.dump();
}

Status ScaleCluster::StartInstances() {
  const int n = options_.shared_stores ? options_.instances : 1;
  for (int i = 0; i < n; ++i) {
    auto server = std::make_unique<LocalServer>(dir_ + "/instance" + std::to_string(i));
    CV_RETURN_IF_ERROR(server->Init(InstanceConfig()));
    if (i == 0) {
      fingerprint_ = server->fingerprint();
      CV_RETURN_IF_ERROR(server->AddUser(options_.user, dir_ + "/token0").status());
    } else {
      // One certificate for all: a pinned client accepts whichever instance answers.
      const auto copy = fs::copy_options::overwrite_existing;
      fs::copy_file(instances_[0]->cert_file(), server->cert_file(), copy);
      fs::copy_file(instances_[0]->data_dir() + "/tls/key.pem", server->data_dir() + "/tls/key.pem",
                    copy);
    }
    CV_RETURN_IF_ERROR(server->Start());
    instances_.push_back(std::move(server));
  }
  return Status::Ok();
}

StatusOr<std::string> ScaleCluster::IssueToken(const std::string& device,
                                               const std::string& token_file) {
  CommandResult issue = RunCommand({kServer, "--data", instances_[0]->data_dir(), "token", "issue",
                                    options_.user, "--device", device});
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

void ScaleCluster::KillInstance(int i) { instance(i).process().Signal(SIGKILL); }

Status ScaleCluster::RestartInstance(int i) {
  instance(i).process().Wait(10000);
  CV_RETURN_IF_ERROR(instance(i).Start());
  return proxy_->WaitForState(i, "UP", 10000);
}

Status ScaleCluster::StopObjectStore() { return Radosgw({"rgw-stop", dir_ + "/rgw"}); }
Status ScaleCluster::StartObjectStore() { return Radosgw({"rgw-start", dir_ + "/rgw"}); }

Status ScaleCluster::RestartIndex(int down_ms) {
  if (pg_ == nullptr) return FailedPreconditionError("no PostgreSQL in the single-node layout");
  return pg_->Restart(down_ms);
}

}  // namespace cardvault
