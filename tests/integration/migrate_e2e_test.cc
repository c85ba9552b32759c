// `cardvault-server migrate` end to end: a data directory written by the real server (and
// the previous release's committed fixture) moves into PostgreSQL + files on a throwaway
// cluster; the migration is killed (SIGKILL, at chosen progress points, by the test binary
// cardvault-server-faults) and run again; then a real server started on the destination
// serves every object byte-identical to the source, with the same tokens. The fixture:
// tests/integration/migrate_e2e.h (also used into PostgreSQL + S3, tests/engines).
#include "tests/integration/migrate_e2e.h"

namespace cardvault {
namespace migrate_e2e {
namespace {

TEST_F(MigrateE2eTest, KilledTwiceThenResumedTheDestinationServesEveryObjectIdentically) {
  SourceContents contents;
  KilledTwiceThenResumed(contents);
}

// The previous release's data directory: its tokens (from tokens.txt) work on the new
// server, the revoked one does not, and every object reads back.
TEST_F(MigrateE2eTest, PreviousReleaseDataDirectoryServedFromPostgres) {
  const std::string source = dir_ + "/old";
  fs::copy(OldDataDirFixture(), source, fs::copy_options::recursive);
  fs::permissions(source, fs::perms::owner_all);
  CommandResult done = Migrate(source);
  ASSERT_EQ(done.exit_code, 0) << done.output;
  EXPECT_NE(done.output.find("migrated 8 versions (5 live objects"), std::string::npos)
      << done.output;
  std::ifstream in(source + "/tokens.txt");
  std::string alice, bob;
  ASSERT_TRUE(std::getline(in, alice) && std::getline(in, bob));
  ASSERT_TRUE(destination_->Start().ok());
  EXPECT_EQ(Get(*destination_, bob, FixtureId("bob", 1)), FixtureContent("bob", 1, 5000));
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
}  // namespace migrate_e2e
}  // namespace cardvault
