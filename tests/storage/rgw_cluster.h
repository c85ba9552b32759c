// RgwCluster: a throwaway single-node Ceph radosgw for tests (one monitor, one OSD on a
// sparse bluestore file, radosgw on a free loopback port, a user and a bucket), started and
// stopped by tests/engines/radosgw.sh in a temporary directory removed with it.
#ifndef CARDVAULT_TESTS_STORAGE_RGW_CLUSTER_H_
#define CARDVAULT_TESTS_STORAGE_RGW_CLUSTER_H_

#include <memory>
#include <string>

#include "core/status_or.h"

namespace cardvault {

class RgwCluster {
 public:
  // Starts everything (~20 s). kUnsupported with what to install when Ceph is not
  // installed; other errors carry the script's output.
  static StatusOr<std::unique_ptr<RgwCluster>> Start();
  // Stops every daemon and removes the directory.
  ~RgwCluster();

  // Stops radosgw only (the data stays); StartGateway starts it again on the same port and
  // returns once it answers.
  Status StopGateway();
  Status StartGateway();

  const std::string& endpoint() const { return endpoint_; }  // http://127.0.0.1:PORT
  const std::string& bucket() const { return bucket_; }      // created at start
  const std::string& access_key() const { return access_key_; }
  const std::string& secret_key() const { return secret_key_; }
  // A JSON credentials file (mode 0600) for LoadS3Credentials.
  const std::string& credentials_file() const { return credentials_file_; }
  const std::string& dir() const { return dir_; }

 private:
  explicit RgwCluster(std::string dir) : dir_(std::move(dir)) {}
  Status Run(const std::string& args);

  std::string dir_;
  std::string endpoint_, bucket_, access_key_, secret_key_, credentials_file_;
};

// The cluster of this test binary, started on first use and stopped when the tests end; or
// nullptr with `why_not` set (the message a test skips with).
RgwCluster* SharedRgwCluster(std::string* why_not);

// The path of tests/engines/radosgw.sh.
std::string RadosgwScript();

}  // namespace cardvault

#endif  // CARDVAULT_TESTS_STORAGE_RGW_CLUSTER_H_
