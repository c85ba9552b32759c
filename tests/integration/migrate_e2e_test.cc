// `cardvault-server migrate` end to end: a data directory written by the real server (and
// the previous release's committed fixture) moves into PostgreSQL + files on a throwaway
// cluster; the migration is killed (SIGKILL, at chosen progress points, by the test binary
// cardvault-server-faults) and run again; then a real server started on the destination
// serves every object byte-identical to the source, with the same tokens.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "core/crypto.h"
#include "tests/api/server_test_util.h"
#include "tests/integration/local_server.h"
#include "tests/storage/pg_cluster.h"

namespace cardvault {
namespace {

namespace fs = std::filesystem;

const std::string kServer = std::string(CARDVAULT_BINARY_DIR) + "/api/cardvault-server";
const std::string kFaults =
    std::string(CARDVAULT_BINARY_DIR) + "/tests/integration/cardvault-server-faults";
const std::string kFixture = std::string(CARDVAULT_SOURCE_DIR) + "/tests/fixtures/data-dir-1b67926";

std::string Content(const std::string& user, int n, size_t size, const std::string& tag = "") {
  const std::string pattern = "content " + user + " " + std::to_string(n) + " " + tag;
  std::string out;
  while (out.size() < size) out += pattern;
  out.resize(size);
  return out;
}

// Every file's SHA-256 under `dir` (the source must not change).
std::map<std::string, std::string> Files(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    out[e.path().string()] = HexEncode(Sha256(AsBytes(ReadText(e.path().string()))));
  }
  return out;
}

std::string Get(LocalServer& server, const std::string& token, const std::string& id) {
  auto client = server.Client(token);
  if (!client.ok()) return "<" + client.status().ToString() + ">";
  std::string out;
  auto got = (*client)->Get(id, {}, [&](ByteView data) {
    out.append(reinterpret_cast<const char*>(data.data()), data.size());
    return Status::Ok();
  });
  if (!got.ok()) return "<" + got.status().reason() + ">";
  return out;
}

class MigrateE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = SharedPgClusterUnavailable(); !why.empty()) GTEST_SKIP() << why;
    char tmpl[] = "/tmp/cv-migrate-e2e-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    auto name = NewSharedDatabase();
    ASSERT_TRUE(name.ok()) << name.status().ToString();
    std::string why_not;
    conninfo_ = SharedPgCluster(&why_not)->ConnInfo(*name);
    // The destination: a server config naming PostgreSQL (its certificate from init).
    destination_ = std::make_unique<LocalServer>(dir_ + "/destination");
    ASSERT_TRUE(destination_->Init(nlohmann::json({{"index", conninfo_}}).dump()).ok());
  }
  void TearDown() override {
    if (destination_) destination_->Stop();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  CommandResult Migrate(const std::string& from, const std::vector<std::string>& extra = {},
                        const std::string& binary = kServer) {
    std::vector<std::string> argv = {
        binary,       "migrate", "--from", from, "--to", destination_->data_dir() + "/config.json",
        "--work-dir", dir_};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunCommand(argv);
  }

  std::string dir_;
  std::string conninfo_;
  std::unique_ptr<LocalServer> destination_;
};

TEST_F(MigrateE2eTest, KilledTwiceThenResumedTheDestinationServesEveryObjectIdentically) {
  LocalServer source(dir_ + "/source");
  ASSERT_TRUE(source.Init(R"({"inline_max_bytes": 1024})").ok());
  auto alice = source.AddUser("alice", dir_ + "/alice.token");
  auto bob = source.AddUser("bob", dir_ + "/bob.token");
  ASSERT_TRUE(alice.ok() && bob.ok());
  ASSERT_TRUE(source.Start().ok());
  // Objects inline and in files, one of 3 MiB, one replaced, two deleted.
  std::map<std::pair<std::string, std::string>, std::string> live;  // (token, id) -> bytes
  const std::vector<size_t> sizes = {10, 700, 1500, 20000, 3 << 20, 64, 5000, 2048, 900, 40000};
  for (const auto& [user, token] : {std::pair{"alice", *alice}, std::pair{"bob", *bob}}) {
    auto client = source.Client(token).value();
    for (int n = 0; n < static_cast<int>(sizes.size()); ++n) {
      const std::string data = Content(user, n, sizes[n] + (user[0] == 'b' ? 1 : 0));
      ASSERT_TRUE(client->Put(Sha(data), PutFor(data), StringSource(data)).ok());
      live[{token, Sha(data)}] = data;
    }
  }
  auto alice_client = source.Client(*alice).value();
  for (int n : {1, 2}) {
    const std::string gone = Content("alice", n, sizes[n]);
    ASSERT_TRUE(alice_client->Delete(Sha(gone)).ok());
    live.erase({*alice, Sha(gone)});
  }
  const std::string first = Content("alice", 3, sizes[3]);
  const std::string replacement = Content("alice", 3, 30000, "v2");
  ASSERT_TRUE(alice_client->Put(Sha(first), PutFor(replacement), StringSource(replacement)).ok());
  live[{*alice, Sha(first)}] = replacement;

  // Refused while the source is served, with what to do.
  CommandResult busy = Migrate(source.data_dir());
  EXPECT_EQ(busy.exit_code, 2) << busy.output;
  EXPECT_NE(busy.output.find("systemctl stop cardvault-server"), std::string::npos) << busy.output;
  source.Stop();
  const auto before = Files(source.data_dir());

  // Killed after users and tokens, then in the middle of the versions.
  for (int point : {1, 4}) {
    CommandResult killed = Migrate(
        source.data_dir(),
        {"--page-versions", "3", "--kill-at-migrate-progress", std::to_string(point)}, kFaults);
    EXPECT_EQ(killed.exit_code, 128 + 9) << killed.output;
  }
  CommandResult done = Migrate(source.data_dir(), {"--json", "--page-versions", "3"});
  ASSERT_EQ(done.exit_code, 0) << done.output;
  const auto summary = nlohmann::json::parse(done.output.substr(done.output.find('{')));
  EXPECT_EQ(summary["versions"], 10 * 2 + 1) << "20 uploads and a replacement";
  EXPECT_EQ(summary["live_objects"], live.size());
  EXPECT_GT(summary["copied_before"].get<int>(), 0) << "the killed runs' work was kept";
  EXPECT_EQ(summary["users"], 2);
  EXPECT_EQ(summary["tokens"], 2);
  EXPECT_TRUE(summary["damaged"].empty());
  EXPECT_EQ(done.output.find("cvt_"), std::string::npos) << "no token is ever printed";
  EXPECT_EQ(Files(source.data_dir()), before) << "the source changed";

  // A real server on PostgreSQL serves every object as the source's did.
  ASSERT_TRUE(destination_->Start().ok());
  for (const auto& [key, data] : live) {
    EXPECT_EQ(Get(*destination_, key.first, key.second), data) << key.second;
  }
  EXPECT_EQ(Get(*destination_, *alice, Sha(Content("alice", 1, sizes[1]))), "<no_such_object>");
  auto listed = destination_->Client(*bob).value()->List({});
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->objects.size(), sizes.size());
}

// The previous release's data directory: its tokens (from tokens.txt) work on the new
// server, the revoked one does not, and every object reads back.
TEST_F(MigrateE2eTest, PreviousReleaseDataDirectoryServedFromPostgres) {
  const std::string source = dir_ + "/old";
  fs::copy(kFixture, source, fs::copy_options::recursive);
  fs::permissions(source, fs::perms::owner_all);
  CommandResult done = Migrate(source);
  ASSERT_EQ(done.exit_code, 0) << done.output;
  EXPECT_NE(done.output.find("migrated 8 versions (5 live objects"), std::string::npos)
      << done.output;
  std::ifstream in(source + "/tokens.txt");
  std::string alice, bob;
  ASSERT_TRUE(std::getline(in, alice) && std::getline(in, bob));
  ASSERT_TRUE(destination_->Start().ok());
  const std::string pattern = "cardvault fixture bob 1 ";
  std::string bob1;
  while (bob1.size() < 5000) bob1 += pattern;
  bob1.resize(5000);
  EXPECT_EQ(Get(*destination_, bob, Sha("bob/1")), bob1);
  auto alice_list = destination_->Client(alice).value()->List({});
  ASSERT_TRUE(alice_list.ok()) << alice_list.status().ToString();
  EXPECT_EQ(alice_list->objects.size(), 4u);
  for (const ObjectInfo& o : alice_list->objects) {
    const std::string data = Get(*destination_, alice, o.id);
    EXPECT_EQ(Sha(data), o.sha256) << o.id;
  }
  EXPECT_EQ(destination_->Client("cvt_2_" + std::string(64, '0')).value()->WhoAmI().status().code(),
            StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace cardvault
