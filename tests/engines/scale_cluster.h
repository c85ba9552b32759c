// ScaleCluster: the production layout of docs/operations.md on one machine, for the
// multi-instance tests and bench/scale_bench: a throwaway PostgreSQL cluster (the index and
// the tokens), a single-node Ceph radosgw (the bytes; tests/engines/radosgw.sh), N
// `cardvault-server serve` instances on free loopback ports sharing both, and HAProxy in
// front of them (tests/engines/haproxy.h). Everything lives in one temporary directory under
// /tmp; the destructor stops every process it started and removes the directory.
#ifndef CARDVAULT_TESTS_ENGINES_SCALE_CLUSTER_H_
#define CARDVAULT_TESTS_ENGINES_SCALE_CLUSTER_H_

#include <memory>
#include <string>
#include <vector>

#include "api/remote_store.h"
#include "core/status_or.h"
#include "tests/engines/haproxy.h"
#include "tests/integration/local_server.h"
#include "tests/storage/pg_cluster.h"

namespace cardvault {

class ScaleCluster {
 public:
  struct Options {
    int instances = 2;
    // false: one instance on its own data directory (SQLite + files), behind the same
    // proxy: the single-node layout, for comparison.
    bool shared_stores = true;
    // Start PostgreSQL and radosgw even when the instances do not use them (a benchmark's
    // baseline straight to radosgw beside the single-node layout).
    bool engines = true;
    std::string user = "alice";
    std::string extra_config;  // keys of every instance's config.json (a JSON object's text)
    std::string base_dir = "/tmp";
  };
  // Starts everything (radosgw takes ~17 s) and adds `user`. kUnsupported with what to
  // install when an engine is missing.
  static StatusOr<std::unique_ptr<ScaleCluster>> Start(Options options);
  ~ScaleCluster();

  // A device token of the user (a new one per call), written to `token_file` (0600).
  StatusOr<std::string> IssueToken(const std::string& device, const std::string& token_file);
  // A client through the proxy, pinned to the instances' shared certificate.
  StatusOr<std::unique_ptr<RemoteStore>> Client(const std::string& token) const;
  std::string url() const { return "https://127.0.0.1:" + std::to_string(proxy_->port()); }
  const std::string& fingerprint() const { return fingerprint_; }
  const std::string& dir() const { return dir_; }
  Haproxy& proxy() { return *proxy_; }
  int instance_count() const { return static_cast<int>(instances_.size()); }
  LocalServer& instance(int i) { return *instances_[static_cast<size_t>(i)]; }

  // SIGKILL instance `i` (no clean-up of any kind); Restart starts it again and waits until
  // the proxy sees it UP.
  void KillInstance(int i);
  Status RestartInstance(int i);
  // radosgw only (the monitor and the OSD keep the data); StartObjectStore waits until it
  // answers.
  Status StopObjectStore();
  Status StartObjectStore();
  // PostgreSQL down for `down_ms`, then up again.
  Status RestartIndex(int down_ms);
  // The S3 endpoint, bucket and credentials file (for the benchmark's direct baseline).
  std::string s3_endpoint() const { return s3_endpoint_; }
  std::string s3_bucket() const { return s3_bucket_; }
  std::string s3_credentials_file() const { return dir_ + "/rgw/credentials.json"; }

 private:
  explicit ScaleCluster(Options options) : options_(std::move(options)) {}
  Status StartEngines();
  Status StartInstances();
  std::string InstanceConfig() const;
  Status Radosgw(const std::vector<std::string>& args) const;

  Options options_;
  std::string dir_;
  std::unique_ptr<PgCluster> pg_;
  bool rgw_started_ = false;
  std::string s3_endpoint_, s3_bucket_;
  std::vector<std::unique_ptr<LocalServer>> instances_;
  std::string fingerprint_;
  std::unique_ptr<Haproxy> proxy_;
};

}  // namespace cardvault

#endif  // CARDVAULT_TESTS_ENGINES_SCALE_CLUSTER_H_
