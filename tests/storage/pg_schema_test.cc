// PgObjectIndex's schema migrations: versioned, applied once at open even by instances
// starting at once, a no-op when opened again, and a newer schema refused untouched.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "storage/pg_object_index.h"
#include "tests/storage/pg_cluster.h"

namespace cardvault {
namespace {

class PgSchemaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why_not;
    cluster_ = SharedPgCluster(&why_not);
    if (cluster_ == nullptr) GTEST_SKIP() << why_not;
    auto db = NewSharedDatabase();
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = *db;
  }
  // Rows of cv_schema_migrations.
  int64_t Versions() {
    auto pool = PgPool::Create(cluster_->ConnInfo(db_), 1).value();
    auto conn = pool->Acquire().value();
    return conn->Run("SELECT COUNT(*) FROM cv_schema_migrations").value().Int(0, 0);
  }

  PgCluster* cluster_ = nullptr;
  std::string db_;
};

TEST_F(PgSchemaTest, InstancesStartingAtOnceApplyEachMigrationOnce) {
  constexpr int kInstances = 4;
  std::vector<Status> opened(kInstances);
  std::vector<std::thread> threads;
  for (int i = 0; i < kInstances; ++i) {
    threads.emplace_back([&, i] {
      opened[i] = PgObjectIndex::Open(cluster_->ConnInfo(db_), {.pool_size = 1}).status();
    });
  }
  for (auto& t : threads) t.join();
  for (const Status& s : opened) EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(Versions(), 2);
  ASSERT_TRUE(PgObjectIndex::Open(cluster_->ConnInfo(db_), {.pool_size = 1}).ok());
  EXPECT_EQ(Versions(), 2) << "opening again applies nothing";
}

TEST_F(PgSchemaTest, ANewerSchemaIsRefused) {
  ASSERT_TRUE(PgObjectIndex::Open(cluster_->ConnInfo(db_), {.pool_size = 1}).ok());
  {
    auto pool = PgPool::Create(cluster_->ConnInfo(db_), 1).value();
    auto conn = pool->Acquire().value();
    ASSERT_TRUE(conn->Exec("INSERT INTO cv_schema_migrations VALUES ('index', 99)").ok());
  }
  auto refused = PgObjectIndex::Open(cluster_->ConnInfo(db_), {.pool_size = 1});
  EXPECT_EQ(refused.status().reason(), "schema_too_new") << refused.status().ToString();
  EXPECT_EQ(Versions(), 3);
}

}  // namespace
}  // namespace cardvault
