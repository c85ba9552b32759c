// The TokenStore conformance tests: what every token store backend MUST do
// (storage/token_store.h).
#include "tests/storage/token_store_conformance.h"

#include <stdlib.h>

#include <filesystem>
#include <vector>

namespace cardvault {

void TokenStoreConformance::SetUp() {
  if (std::string why = GetParam().unavailable(); !why.empty()) GTEST_SKIP() << why;
  char tmpl[] = "/tmp/cv-tokens-conformance-XXXXXX";
  dir_ = ::mkdtemp(tmpl);
  auto store = GetParam().create(dir_);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  store_ = std::move(*store);
}

void TokenStoreConformance::TearDown() {
  store_.reset();
  if (!dir_.empty()) std::filesystem::remove_all(dir_);
}

void TokenStoreConformance::Reopen() {
  store_.reset();
  auto store = GetParam().reopen(dir_);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  store_ = std::move(*store);
}

std::string TokenStoreSuiteName(const ::testing::TestParamInfo<TokenStoreSuite>& info) {
  return info.param.name;
}

// Tokens: issued per user, "cvt_<id>_<64 hex>", each authenticating its user until revoked;
// every malformed or foreign token fails alike (bad_token).
TEST_P(TokenStoreConformance, IssueAuthenticateRevoke) {
  ASSERT_TRUE(store_->AddUser("alice").ok());
  EXPECT_EQ(store_->AddUser("alice").code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->AddUser("Bad Name").reason(), "bad_user_name");
  EXPECT_EQ(store_->Issue("nobody", "x").status().code(), StatusCode::kNotFound);
  auto a = store_->Issue("alice", "laptop");
  auto b = store_->Issue("alice", "phone");
  ASSERT_TRUE(a.ok() && b.ok());
  std::string ta(a->token.AsStringView());
  std::string tb(b->token.AsStringView());
  EXPECT_NE(ta, tb);
  EXPECT_EQ(ta.rfind("cvt_" + std::to_string(a->id) + "_", 0), 0u);
  EXPECT_EQ(ta.size(), 4 + std::to_string(a->id).size() + 1 + 64);
  EXPECT_EQ(*store_->Authenticate(ta), "alice");
  EXPECT_EQ(*store_->Authenticate(tb), "alice");
  // Another token's secret under this id, truncations and garbage all fail alike.
  std::string swapped = "cvt_" + std::to_string(a->id) + tb.substr(tb.find('_', 4));
  for (const std::string& bad :
       {swapped, ta.substr(0, ta.size() - 1), ta + "0", std::string(), std::string("cvt_"),
        std::string("cvt_x_y"), std::string("cvt_999_") + std::string(64, '0'),
        std::string(500, 'c')}) {
    auto result = store_->Authenticate(bad);
    EXPECT_EQ(result.status().code(), StatusCode::kPermissionDenied) << bad;
    EXPECT_EQ(result.status().reason(), "bad_token") << bad;
  }
  ASSERT_TRUE(store_->Revoke(a->id).ok());
  ASSERT_TRUE(store_->Revoke(a->id).ok());
  EXPECT_EQ(store_->Revoke(12345).code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Authenticate(ta).status().reason(), "bad_token");
  EXPECT_EQ(*store_->Authenticate(tb), "alice");
  auto list = store_->List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_TRUE((*list)[0].revoked);
  EXPECT_EQ((*list)[1].device, "phone");
}

// Users list in name order; users, tokens and revocations survive a reopen; ids are never
// reused.
TEST_P(TokenStoreConformance, EverythingSurvivesReopenAndIdsAreNotReused) {
  ASSERT_TRUE(store_->AddUser("carol").ok());
  ASSERT_TRUE(store_->AddUser("alice").ok());
  ASSERT_TRUE(store_->AddUser("bob-2").ok());
  auto a = store_->Issue("alice", "laptop");
  auto c = store_->Issue("carol", "desk");
  ASSERT_TRUE(a.ok() && c.ok());
  const std::string ta(a->token.AsStringView()), tc(c->token.AsStringView());
  ASSERT_TRUE(store_->Revoke(c->id).ok());
  ASSERT_NO_FATAL_FAILURE(Reopen());
  EXPECT_EQ(store_->ListUsers().value(), (std::vector<std::string>{"alice", "bob-2", "carol"}));
  EXPECT_EQ(store_->Authenticate(ta).value(), "alice");
  EXPECT_EQ(store_->Authenticate(tc).status().reason(), "bad_token");
  auto d = store_->Issue("bob-2", "phone");
  ASSERT_TRUE(d.ok());
  EXPECT_GT(d->id, c->id);
  auto list = store_->List().value();
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].user, "alice");
  EXPECT_EQ(list[0].device, "laptop");
  EXPECT_FALSE(list[0].revoked);
  EXPECT_TRUE(list[1].revoked);
  EXPECT_GT(list[2].created_unix, 0);
}

// A migration between two stores of the backend: users keep their creation times, tokens
// their ids, digests and revocations, so every token issued by the first store authenticates
// (or not) alike in the second, and the second never issues an imported id again.
TEST_P(TokenStoreConformance, ExportedTokensImportWithTheirIds) {
  ASSERT_TRUE(store_->AddUser("alice").ok());
  ASSERT_TRUE(store_->AddUser("bob").ok());
  auto a1 = store_->Issue("alice", "laptop");
  auto b1 = store_->Issue("bob", "desk");
  auto a2 = store_->Issue("alice", "phone");
  ASSERT_TRUE(a1.ok() && b1.ok() && a2.ok());
  ASSERT_TRUE(store_->Revoke(b1->id).ok());
  auto users = store_->ExportUsers();
  auto tokens = store_->ExportTokens();
  ASSERT_TRUE(users.ok() && tokens.ok());
  ASSERT_EQ(users->size(), 2u);
  EXPECT_EQ((*users)[0].name, "alice");
  EXPECT_GT((*users)[0].created_unix, 0);
  ASSERT_EQ(tokens->size(), 3u);
  EXPECT_EQ((*tokens)[1].id, b1->id);
  EXPECT_TRUE((*tokens)[1].revoked_unix.has_value());
  EXPECT_FALSE((*tokens)[2].revoked_unix.has_value());
  EXPECT_EQ((*tokens)[2].digest.size(), 32u);

  const std::string other_dir = dir_ + "/other";
  std::filesystem::create_directories(other_dir);
  auto other = GetParam().create(other_dir);
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  TokenStore& to = **other;
  EXPECT_EQ(to.ImportToken((*tokens)[0]).reason(), "no_such_user");
  for (int round = 0; round < 2; ++round) {  // the second round repeats: changes nothing
    for (const UserRecord& u : *users) ASSERT_TRUE(to.ImportUser(u).ok());
    for (const TokenRecord& t : *tokens) {
      Status s = to.ImportToken(t);
      ASSERT_TRUE(s.ok()) << s.ToString();
    }
  }
  EXPECT_EQ(to.ExportUsers()->at(0).created_unix, (*users)[0].created_unix);
  EXPECT_EQ(*to.Authenticate(a1->token.AsStringView()), "alice");
  EXPECT_EQ(*to.Authenticate(a2->token.AsStringView()), "alice");
  EXPECT_EQ(to.Authenticate(b1->token.AsStringView()).status().reason(), "bad_token");
  auto listed = to.List();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 3u);
  EXPECT_EQ((*listed)[0].device, "laptop");
  EXPECT_EQ((*listed)[0].created_unix, (*tokens)[0].created_unix);
  auto fresh = to.Issue("bob", "new");
  ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
  EXPECT_GT(fresh->id, a2->id) << "an imported id is never issued again";
  EXPECT_EQ(*to.Authenticate(fresh->token.AsStringView()), "bob");

  // Another token under a taken id is refused; a revocation reaches an imported token.
  TokenRecord foreign = (*tokens)[0];
  foreign.digest[0] ^= 1;
  EXPECT_EQ(to.ImportToken(foreign).reason(), "token_id_taken");
  TokenRecord revoked = (*tokens)[2];
  revoked.revoked_unix = 12345;
  ASSERT_TRUE(to.ImportToken(revoked).ok());
  EXPECT_EQ(to.Authenticate(a2->token.AsStringView()).status().reason(), "bad_token");
}

}  // namespace cardvault
