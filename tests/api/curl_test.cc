// curl as an independent HTTPS client: uploads, downloads, listing and hostile object ids.
#include <gtest/gtest.h>
#include <stdio.h>

#include <fstream>
#include <set>

#include "tests/api/server_test_util.h"

namespace cardvault {
namespace {

struct CurlResult {
  int http = 0;
  std::string body;
};

// Runs `curl ... -w '\n%{http_code}'` and splits the body from the status code.
// `write_out` goes just before the status line (curl -w variables, e.g. %{size_upload}).
CurlResult Curl(const std::string& args, const std::string& write_out = "") {
  std::string command = args + " --max-time 20 -w '" + write_out + "\\n%{http_code}' 2>/dev/null";
  FILE* pipe = ::popen(command.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  ::pclose(pipe);
  CurlResult result;
  size_t nl = out.rfind('\n');
  if (nl == std::string::npos) return result;
  result.http = std::atoi(out.c_str() + nl + 1);
  result.body = out.substr(0, nl);
  return result;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::set<std::string> Tree(const std::string& dir) {
  std::set<std::string> paths;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) paths.insert(e.path().string());
  }
  return paths;
}

TEST(CurlTest, UploadDownloadListWithCurl) {
  TestServer server;
  const std::string file = server.dir() + "/upload.bin";
  std::string data;
  for (uint32_t i = 0; i < 300000; ++i) data.push_back(static_cast<char>((i * 7919u) >> 3));
  std::ofstream(file, std::ios::binary) << data;
  const std::string sha = Sha(data);
  const std::string base = server.CurlBase(server.alice());

  CurlResult put = Curl(base + "-H 'X-Content-SHA256: " + sha + "' -T " + file + " " +
                        server.Url("/v1/objects/" + sha));
  ASSERT_EQ(put.http, 201) << put.body;
  EXPECT_NE(put.body.find("\"size\":300000"), std::string::npos) << put.body;

  const std::string out = server.dir() + "/download.bin";
  CurlResult get = Curl(base + "-o " + out + " " + server.Url("/v1/objects/" + sha));
  ASSERT_EQ(get.http, 200);
  EXPECT_EQ(ReadAll(out), data);

  CurlResult range = Curl(base + "-H 'Range: bytes=100-199' " + server.Url("/v1/objects/" + sha));
  ASSERT_EQ(range.http, 206);
  EXPECT_EQ(range.body, data.substr(100, 100));
  CurlResult suffix = Curl(base + "-H 'Range: bytes=-5' " + server.Url("/v1/objects/" + sha));
  ASSERT_EQ(suffix.http, 206);
  EXPECT_EQ(suffix.body, data.substr(data.size() - 5));
  CurlResult head = Curl(base + "-I " + server.Url("/v1/objects/" + sha));
  EXPECT_EQ(head.http, 200);
  EXPECT_NE(head.body.find("Content-Length: 300000"), std::string::npos) << head.body;
  EXPECT_NE(head.body.find("X-Content-SHA256: " + sha), std::string::npos) << head.body;
  CurlResult beyond = Curl(base + "-H 'Range: bytes=300000-' " + server.Url("/v1/objects/" + sha));
  EXPECT_EQ(beyond.http, 416);
  EXPECT_NE(beyond.body.find("range_not_satisfiable"), std::string::npos) << beyond.body;

  CurlResult list = Curl(base + server.Url("/v1/objects?limit=10"));
  ASSERT_EQ(list.http, 200);
  EXPECT_NE(list.body.find("\"id\":\"" + sha + "\""), std::string::npos) << list.body;
  EXPECT_NE(list.body.find("\"truncated\":false"), std::string::npos);

  // The client library sees what curl uploaded.
  auto client = server.Client(server.alice());
  EXPECT_EQ(client->Head(sha).value().size, data.size());

  // Create-only over curl, and a wrong digest stores nothing.
  CurlResult again = Curl(base + "-H 'If-None-Match: *' -H 'X-Content-SHA256: " + sha + "' -T " +
                          file + " " + server.Url("/v1/objects/" + sha));
  EXPECT_EQ(again.http, 412);
  const std::string other = Sha("other");
  CurlResult mismatch = Curl(base + "-H 'X-Content-SHA256: " + other + "' -T " + file + " " +
                             server.Url("/v1/objects/" + other));
  EXPECT_EQ(mismatch.http, 400);
  EXPECT_NE(mismatch.body.find("sha256_mismatch"), std::string::npos) << mismatch.body;
  EXPECT_EQ(client->Head(other).status().code(), StatusCode::kNotFound);

  // Errors are JSON with a code, with or without a valid token.
  CurlResult no_token =
      Curl("curl -sS --cacert " + server.dir() + "/cert.pem " + server.Url("/v1/objects"));
  EXPECT_EQ(no_token.http, 401);
  EXPECT_NE(no_token.body.find("{\"error\":{\"code\":\"missing_token\""), std::string::npos);
  CurlResult health =
      Curl("curl -sS --cacert " + server.dir() + "/cert.pem " + server.Url("/v1/health"));
  EXPECT_EQ(health.http, 200);
  CurlResult no_route = Curl(base + server.Url("/v2/nothing"));
  EXPECT_EQ(no_route.http, 404);
  EXPECT_NE(no_route.body.find("no_such_route"), std::string::npos) << no_route.body;
}

TEST(CurlTest, ExpectContinueRefusesBeforeTheBodyIsSent) {
  ServerConfig config = TestServer::DefaultConfig();
  config.quota_bytes = 1 << 20;
  TestServer server(config);
  const std::string file = server.dir() + "/two-mib";
  const std::string data(2 << 20, 'e');
  std::ofstream(file, std::ios::binary) << data;
  const std::string sha = Sha(data);
  const std::string upload = "-H 'Expect: 100-continue' -H 'X-Content-SHA256: " + sha + "' -T " +
                             file + " " + server.Url("/v1/objects/" + sha);
  CurlResult quota = Curl(server.CurlBase(server.alice()) + upload, " up=%{size_upload}");
  EXPECT_EQ(quota.http, 507);
  EXPECT_NE(quota.body.find("quota_exceeded"), std::string::npos) << quota.body;
  EXPECT_TRUE(quota.body.ends_with("} up=0")) << quota.body;  // no body byte was sent
  CurlResult anonymous =
      Curl(server.CurlBase("cvt_1_" + std::string(64, 'f')) + upload, " up=%{size_upload}");
  EXPECT_EQ(anonymous.http, 401);
  EXPECT_TRUE(anonymous.body.ends_with("} up=0")) << anonymous.body;
  // Within the limits the body follows the 100 Continue as usual.
  const std::string small_file = server.dir() + "/small";
  std::ofstream(small_file, std::ios::binary) << "small";
  CurlResult ok = Curl(server.CurlBase(server.alice()) + "-H 'Expect: 100-continue' " +
                       "-H 'X-Content-SHA256: " + Sha("small") + "' -T " + small_file + " " +
                       server.Url("/v1/objects/" + Sha("small")));
  EXPECT_EQ(ok.http, 201) << ok.body;
}

TEST(CurlTest, TlsPolicyRefusesOldProtocolsAndWeakSuites) {
  TestServer server;
  const std::string base = "curl -sS --cacert " + server.dir() + "/cert.pem ";
  const std::string url = server.Url("/v1/health");
  EXPECT_EQ(Curl(base + url).http, 200);
  EXPECT_EQ(Curl(base + "--tlsv1.3 " + url).http, 200);
  EXPECT_EQ(Curl(base + "--tls-max 1.2 " + url).http, 200);
  EXPECT_EQ(Curl(base + "--tls-max 1.2 --ciphers ECDHE-ECDSA-CHACHA20-POLY1305 " + url).http, 200);
  // No TLS 1.1, no static-RSA key exchange, no CBC suites.
  EXPECT_EQ(Curl(base + "--tlsv1.1 --tls-max 1.1 " + url).http, 0);
  EXPECT_EQ(Curl(base + "--tls-max 1.2 --ciphers AES128-GCM-SHA256 " + url).http, 0);
  EXPECT_EQ(Curl(base + "--tls-max 1.2 --ciphers ECDHE-ECDSA-AES128-SHA256 " + url).http, 0);
}

TEST(CurlTest, HostileIdsAreRejectedAndTouchNothing) {
  TestServer server;
  const std::string file = server.dir() + "/payload";
  std::ofstream(file) << "payload";
  const std::string sha = Sha("payload");
  const std::string base = server.CurlBase(server.alice()) + "--path-as-is ";
  const std::set<std::string> before = Tree(server.dir());
  const std::vector<std::string> hostile = {
      "../x",
      "..%2Fx",
      "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
      "../../../../tmp/" + sha,
      std::string(65, 'a'),
      std::string(64, 'A'),
      std::string(63, 'a') + "g",
      sha.substr(0, 63) + "%00",
      sha + "/..",
  };
  for (const std::string& id : hostile) {
    const std::string url = server.Url("/v1/objects/" + id);
    CurlResult put =
        Curl(base + "-H 'X-Content-SHA256: " + sha + "' -T " + file + " '" + url + "'");
    EXPECT_EQ(put.http, 400) << id << ": " << put.body;
    EXPECT_NE(put.body.find("bad_object_id"), std::string::npos) << id << ": " << put.body;
    EXPECT_EQ(Curl(base + "'" + url + "'").http, 400) << id;
    EXPECT_EQ(Curl(base + "-X DELETE '" + url + "'").http, 400) << id;
  }
  CurlResult bad_prefix = Curl(base + "'" + server.Url("/v1/objects?prefix=..%2F") + "'");
  EXPECT_EQ(bad_prefix.http, 400);
  CurlResult bad_kind = Curl(base + "'" + server.Url("/v1/objects?kind=dir") + "'");
  EXPECT_EQ(bad_kind.http, 400);
  EXPECT_EQ(Tree(server.dir()), before);
  EXPECT_TRUE(server.store().List("alice", {}).value().objects.empty());
}

}  // namespace
}  // namespace cardvault
