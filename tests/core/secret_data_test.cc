// Tests for SecretData: ownership, truncation and comparison.
#include "core/secret_data.h"

#include <gtest/gtest.h>

namespace cardvault {
namespace {

TEST(SecretDataTest, ZeroFilledAndCopied) {
  SecretData a(4);
  ASSERT_EQ(a.size(), 4u);
  for (uint8_t b : a.span()) EXPECT_EQ(b, 0);
  SecretData b = SecretData::CopyFrom(std::string_view("1234"));
  EXPECT_EQ(b.AsStringView(), "1234");
  SecretData c = b.Clone();
  EXPECT_TRUE(c.Equals(b));
  EXPECT_FALSE(c.Equals(a));
}

TEST(SecretDataTest, MoveLeavesSourceEmpty) {
  SecretData a = SecretData::CopyFrom(std::string_view("secret"));
  SecretData b = std::move(a);
  EXPECT_EQ(b.AsStringView(), "secret");
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): checking the moved-from state
  EXPECT_EQ(a.data(), nullptr);
}

TEST(SecretDataTest, TruncateWipesTheTail) {
  SecretData a = SecretData::CopyFrom(std::string_view("abcdef"));
  const uint8_t* p = a.data();
  a.Truncate(2);
  EXPECT_EQ(a.AsStringView(), "ab");
  // The bytes cut off stay within the allocation and must be zero now.
  for (int i = 2; i < 6; ++i) EXPECT_EQ(p[i], 0) << i;
}

TEST(SecretDataTest, EqualsDiffersOnLength) {
  EXPECT_FALSE(SecretData::CopyFrom(std::string_view("ab"))
                   .Equals(SecretData::CopyFrom(std::string_view("abc"))));
  EXPECT_TRUE(SecretData().Equals(SecretData()));
}

}  // namespace
}  // namespace cardvault
