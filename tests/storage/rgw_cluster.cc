// RgwCluster implementation: tests/engines/radosgw.sh does the work (so shell tests start
// radosgw the same way); this side picks the directory and port and reads s3.env.
#include "tests/storage/rgw_cluster.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "tests/storage/shared_engine.h"

namespace cardvault {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A loopback port nothing listens on now (the kernel's choice for port 0).
StatusOr<int> FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return IoError("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  if (port < 0) return IoError("no free loopback port");
  return port;
}

// KEY=VALUE lines.
std::map<std::string, std::string> ParseEnvFile(const std::string& text) {
  std::map<std::string, std::string> vars;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    const size_t eq = line.find('=');
    if (eq != std::string::npos) vars[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return vars;
}

bool CephInstalled() {
  for (const char* bin : {"/usr/bin/ceph-mon", "/usr/bin/ceph-osd", "/usr/bin/radosgw"}) {
    if (!std::filesystem::exists(bin)) return false;
  }
  return true;
}

}  // namespace

std::string RadosgwScript() {
  return std::string(CARDVAULT_SOURCE_DIR) + "/tests/engines/radosgw.sh";
}

Status RgwCluster::Run(const std::string& args) {
  // The script's output through a pipe (its daemons write to files, so the pipe ends with
  // the script), so nothing is left beside the directory when the watchdog removes it.
  const std::string cmd =
      "OWNER_PID=" + std::to_string(::getpid()) + " bash " + RadosgwScript() + " " + args + " 2>&1";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr) return IoError("cannot run " + RadosgwScript());
  std::string text;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof(buf), pipe)) > 0;) text.append(buf, n);
  if (::pclose(pipe) != 0) return IoError("radosgw.sh " + args + " failed:\n" + text);
  return Status::Ok();
}

StatusOr<std::unique_ptr<RgwCluster>> RgwCluster::Start() {
  if (!CephInstalled()) {
    return UnsupportedError(
        "Ceph radosgw is not installed: apt-get install ceph-mon ceph-osd radosgw "
        "(scripts/bootstrap.sh) to run these tests");
  }
  char tmpl[] = "/tmp/cv-rgw-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return IoError("mkdtemp failed");
  std::unique_ptr<RgwCluster> cluster(new RgwCluster(tmpl));
  CV_ASSIGN_OR_RETURN(int port, FreePort());
  CV_RETURN_IF_ERROR(cluster->Run("start " + cluster->dir_ + " " + std::to_string(port)));
  auto vars = ParseEnvFile(ReadFile(cluster->dir_ + "/s3.env"));
  cluster->endpoint_ = vars["S3_ENDPOINT"];
  cluster->bucket_ = vars["S3_BUCKET"];
  cluster->access_key_ = vars["S3_ACCESS_KEY"];
  cluster->secret_key_ = vars["S3_SECRET_KEY"];
  cluster->credentials_file_ = vars["S3_CREDENTIALS"];
  if (cluster->endpoint_.empty()) return InternalError("radosgw.sh wrote no s3.env");
  return cluster;
}

RgwCluster::~RgwCluster() {
  Run("stop " + dir_).IgnoreError();  // the script removes the directory
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

Status RgwCluster::StopGateway() { return Run("rgw-stop " + dir_); }
Status RgwCluster::StartGateway() { return Run("rgw-start " + dir_); }

namespace {

SharedEngine<RgwCluster> shared("radosgw");

}  // namespace

RgwCluster* SharedRgwCluster(std::string* why_not) { return shared.Get(why_not); }

}  // namespace cardvault
