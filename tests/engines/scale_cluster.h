// ScaleCluster: the production layout of docs/operations.md on one machine, for the
// multi-instance tests and bench/scale_bench: a throwaway PostgreSQL cluster (the index, the
// users and tokens), the bytes in a single-node Ceph radosgw (RgwCluster) or in one data
// directory the instances share, N `cardvault-server serve` instances on free loopback
// ports, and HAProxy in front of them (haproxy.h). Everything lives in one temporary
// directory; the destructor stops every process it started and removes the directory.
#ifndef CARDVAULT_TESTS_ENGINES_SCALE_CLUSTER_H_
#define CARDVAULT_TESTS_ENGINES_SCALE_CLUSTER_H_

#include <memory>
#include <string>
#include <vector>

#include "api/remote_store.h"
#include "core/status_or.h"
#include "tests/engines/haproxy.h"
#include "tests/integration/process_util.h"
#include "tests/storage/pg_cluster.h"
#include "tests/storage/rgw_cluster.h"

namespace cardvault {

enum class ScaleLayout {
  kPostgresS3,     // the production layout: PostgreSQL + radosgw ("bytes": "s3")
  kPostgresFiles,  // PostgreSQL + one blobs/ directory shared by the instances ("files")
  kSingleNode,     // one instance, SQLite + files (the layout before issue 20)
};
std::string ScaleLayoutName(ScaleLayout layout);

class ScaleCluster {
 public:
  struct Options {
    ScaleLayout layout = ScaleLayout::kPostgresS3;
    int instances = 2;  // kSingleNode: always 1
    // Start radosgw even when the instances do not use it (a benchmark's baseline).
    bool radosgw = false;
    std::string extra_config;  // merged into every instance's config (a JSON object's text)
    std::string base_dir = "/tmp";
  };
  // Starts everything (radosgw takes ~20 s). kUnsupported with what to
  // install (or what this build lacks, such as an S3 byte store) when it cannot run.
  static StatusOr<std::unique_ptr<ScaleCluster>> Start(Options options);
  ~ScaleCluster();

  // Adds `user` and issues a device token, written to `token_file` (0600) and returned.
  StatusOr<std::string> AddUser(const std::string& user, const std::string& token_file);
  // Another device token of `user`, written to `token_file` (0600).
  StatusOr<std::string> IssueToken(const std::string& user, const std::string& token_file);
  // A client through the proxy, pinned to the instances' shared certificate.
  StatusOr<std::unique_ptr<RemoteStore>> Client(const std::string& token) const;
  std::string url() const { return "https://127.0.0.1:" + std::to_string(proxy_->port()); }
  const std::string& fingerprint() const { return fingerprint_; }
  const std::string& dir() const { return dir_; }
  std::string data_dir() const { return dir_ + "/data"; }
  Haproxy& proxy() { return *proxy_; }
  int instance_count() const { return static_cast<int>(ports_.size()); }
  // The log of instance `i` (stderr).
  std::string InstanceLog(int i) const;

  // SIGKILL instance `i` (no clean-up of any kind); Restart starts it again and waits until
  // the proxy sees it UP.
  void KillInstance(int i);
  Status RestartInstance(int i);
  // radosgw only (the monitor and the OSD keep the data); StartObjectStore waits until it
  // answers. kFailedPrecondition without radosgw.
  Status StopObjectStore();
  Status StartObjectStore();
  // PostgreSQL down for `down_ms`, then up again.
  Status RestartIndex(int down_ms);
  RgwCluster* radosgw() const { return rgw_.get(); }

 private:
  explicit ScaleCluster(Options options) : options_(std::move(options)) {}
  Status StartEngines();
  Status InitDataDir();
  Status StartInstance(int i);
  std::string ConfigPath(int i) const { return dir_ + "/instance" + std::to_string(i) + ".json"; }
  CommandResult Admin(std::vector<std::string> args) const;

  Options options_;
  std::string dir_;
  std::unique_ptr<PgCluster> pg_;
  std::unique_ptr<RgwCluster> rgw_;
  std::vector<int> ports_;
  std::vector<std::unique_ptr<ChildProcess>> instances_;
  std::string fingerprint_;
  std::unique_ptr<Haproxy> proxy_;
};

}  // namespace cardvault

#endif  // CARDVAULT_TESTS_ENGINES_SCALE_CLUSTER_H_
