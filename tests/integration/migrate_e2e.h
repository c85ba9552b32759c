// The `cardvault-server migrate` end-to-end fixture (tests/integration/migrate_e2e_test.cc
// into PostgreSQL + files; tests/engines/migrate_s3_e2e_test.cc into PostgreSQL + S3): a
// destination server config on a throwaway PostgreSQL database, and a source data
// directory filled by a real server, migrated while killed (SIGKILL, at chosen progress
// points, by the test binary cardvault-server-faults) and run again.
#ifndef CARDVAULT_TESTS_INTEGRATION_MIGRATE_E2E_H_
#define CARDVAULT_TESTS_INTEGRATION_MIGRATE_E2E_H_

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/crypto.h"
#include "tests/api/server_test_util.h"
#include "tests/integration/local_server.h"
#include "tests/storage/old_data_dir_fixture.h"
#include "tests/storage/pg_database_test.h"

namespace cardvault {
namespace migrate_e2e {

namespace fs = std::filesystem;

inline const std::string kServer = std::string(CARDVAULT_BINARY_DIR) + "/api/cardvault-server";
inline const std::string kFaults =
    std::string(CARDVAULT_BINARY_DIR) + "/tests/integration/cardvault-server-faults";

inline std::string Content(const std::string& user, int n, size_t size,
                           const std::string& tag = "") {
  return RepeatedText("content " + user + " " + std::to_string(n) + " " + tag, size);
}

// Every file's SHA-256 under `dir` (the source must not change).
inline std::map<std::string, std::string> Files(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    out[e.path().string()] = HexEncode(Sha256(AsBytes(ReadText(e.path().string()))));
  }
  return out;
}

inline std::string Get(LocalServer& server, const std::string& token, const std::string& id) {
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

// What MigrateE2eTest::KilledTwiceThenResumed wrote into the source.
struct SourceContents {
  size_t inline_max_bytes = 0;                                      // the source's
  std::map<std::pair<std::string, std::string>, std::string> live;  // (token, id) -> bytes
  std::vector<std::string> versions;  // every version's bytes, replaced and deleted included
};

class MigrateE2eTest : public PgDatabaseTest {
 protected:
  void SetUp() override {
    PgDatabaseTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    char tmpl[] = "/tmp/cv-migrate-e2e-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    // The destination: a server config naming PostgreSQL (its certificate from init).
    destination_ = std::make_unique<LocalServer>(dir_ + "/destination");
    ASSERT_TRUE(destination_->Init(DestinationStores().dump()).ok());
  }
  void TearDown() override {
    if (destination_) destination_->Stop();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // The destination's store keys: PostgreSQL (conninfo_) and files; a subclass adds S3.
  virtual nlohmann::json DestinationStores() { return {{"index", conninfo_}}; }

  CommandResult Migrate(const std::string& from, const std::vector<std::string>& extra = {},
                        const std::string& binary = kServer) {
    std::vector<std::string> argv = {
        binary,       "migrate", "--from", from, "--to", destination_->data_dir() + "/config.json",
        "--work-dir", dir_};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunCommand(argv);
  }

  // Fills `source` (started) through alice's and bob's tokens: objects inline and in files,
  // one of 3 MiB, one replaced, two deleted.
  void FillSource(LocalServer& source, const std::string& alice, const std::string& bob,
                  SourceContents& contents) {
    for (const auto& [user, token] : {std::pair{"alice", alice}, std::pair{"bob", bob}}) {
      auto client = source.Client(token).value();
      for (int n = 0; n < static_cast<int>(kSizes.size()); ++n) {
        const std::string data = Content(user, n, kSizes[n] + (user[0] == 'b' ? 1 : 0));
        ASSERT_TRUE(client->Put(Sha(data), PutFor(data), StringSource(data)).ok());
        contents.live[{token, Sha(data)}] = data;
        contents.versions.push_back(data);
      }
    }
    auto alice_client = source.Client(alice).value();
    for (int n : {1, 2}) {
      const std::string gone = Content("alice", n, kSizes[n]);
      ASSERT_TRUE(alice_client->Delete(Sha(gone)).ok());
      contents.live.erase({alice, Sha(gone)});
    }
    const std::string first = Content("alice", 3, kSizes[3]);
    const std::string replacement = Content("alice", 3, 30000, "v2");
    ASSERT_TRUE(alice_client->Put(Sha(first), PutFor(replacement), StringSource(replacement)).ok());
    contents.live[{alice, Sha(first)}] = replacement;
    contents.versions.push_back(replacement);
  }

  // A source served by a real server (FillSource), migrated killed after users and tokens
  // and in the middle of the versions, then resumed; the destination then serves every
  // object as the source did.
  void KilledTwiceThenResumed(SourceContents& contents) {
    LocalServer source(dir_ + "/source");
    contents.inline_max_bytes = 1024;
    ASSERT_TRUE(source.Init(R"({"inline_max_bytes": 1024})").ok());
    auto alice = source.AddUser("alice", dir_ + "/alice.token");
    auto bob = source.AddUser("bob", dir_ + "/bob.token");
    ASSERT_TRUE(alice.ok() && bob.ok());
    ASSERT_TRUE(source.Start().ok());
    FillSource(source, *alice, *bob, contents);
    if (HasFatalFailure()) return;
    const auto& live = contents.live;

    // Refused while the source is served, with what to do.
    CommandResult busy = Migrate(source.data_dir());
    EXPECT_EQ(busy.exit_code, 2) << busy.output;
    EXPECT_NE(busy.output.find("systemctl stop cardvault-server"), std::string::npos)
        << busy.output;
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
    EXPECT_EQ(Get(*destination_, *alice, Sha(Content("alice", 1, kSizes[1]))), "<no_such_object>");
    auto listed = destination_->Client(*bob).value()->List({});
    ASSERT_TRUE(listed.ok());
    EXPECT_EQ(listed->objects.size(), kSizes.size());
  }

  const std::vector<size_t> kSizes = {10, 700, 1500, 20000, 3 << 20, 64, 5000, 2048, 900, 40000};
  std::string dir_;
  std::unique_ptr<LocalServer> destination_;
};

}  // namespace migrate_e2e
}  // namespace cardvault

#endif  // CARDVAULT_TESTS_INTEGRATION_MIGRATE_E2E_H_
