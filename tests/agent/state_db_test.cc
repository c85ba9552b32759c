// StateDb on real SQLite files: a damaged state database is reported by its path, with the
// way to rebuild it, whether it is not a database at all or has one bad page in the middle.
#include "agent/sync/state_db.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/core/test_platform.h"

namespace cardvault {
namespace {

class StateDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = NewTempDir("cv-state-test");
    path_ = dir_ + "/state.db";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // The message names the file and the recovery.
  void ExpectDamagedReport(const StatusOr<std::unique_ptr<StateDb>>& opened) {
    ASSERT_FALSE(opened.ok()) << "a damaged state database opened";
    EXPECT_EQ(opened.status().code(), StatusCode::kCorrupt);
    EXPECT_EQ(opened.status().reason(), "state_db_corrupt");
    const std::string& m = opened.status().message();
    EXPECT_NE(m.find(path_), std::string::npos) << m;
    EXPECT_NE(m.find("cardvault adopt"), std::string::npos) << m;
    EXPECT_NE(m.find("mv " + dir_ + " " + dir_ + ".damaged"), std::string::npos) << m;
  }

  std::string dir_, path_;
};

TEST_F(StateDbTest, GarbageInsteadOfTheDatabaseIsReportedWithTheRecovery) {
  std::ofstream(path_, std::ios::binary) << std::string(3 * 4096, 'x');
  ExpectDamagedReport(StateDb::Open(path_));
}

TEST_F(StateDbTest, ADamagedPageInTheMiddleIsFoundAtOpen) {
  {
    auto db = StateDb::Open(path_).value();
    auto batch = db->BeginBatch().value();
    for (int i = 0; i < 3000; ++i) {
      FileRecord f;
      f.path = "some/longer/directory/name/file-" + std::to_string(i);
      f.size = static_cast<uint64_t>(i);
      ASSERT_TRUE(db->RecordFile(f, std::nullopt).ok());
    }
    ASSERT_TRUE(batch.Commit().ok());
    ASSERT_GT(db->PageCount().value(), 40);
  }  // the last connection's close checkpoints the WAL into the file
  ASSERT_FALSE(std::filesystem::exists(path_ + "-wal"));
  const auto pages = std::filesystem::file_size(path_) / 4096;
  {
    std::fstream f(path_, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(static_cast<std::streamoff>(pages / 2 * 4096));
    std::string junk(4096, '\0');
    for (size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<char>(i * 37 + 11);
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  ExpectDamagedReport(StateDb::Open(path_));
}

TEST_F(StateDbTest, AHealthyDatabaseOpensAgain) {
  {
    auto db = StateDb::Open(path_).value();
    ASSERT_TRUE(db->SetMeta("k", "v").ok());
  }
  auto db = StateDb::Open(path_);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  EXPECT_EQ((*db)->GetMeta("k").value(), "v");
}

}  // namespace
}  // namespace cardvault
