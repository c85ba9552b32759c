// Tests for the crypto primitives against published vectors (RFC 5869, RFC 3394, FIPS 180).
#include "core/crypto.h"

#include <gtest/gtest.h>

namespace cardvault {
namespace {

Bytes Hex(std::string_view h) { return HexDecode(h).value(); }
SecretData SecretHex(std::string_view h) { return SecretData::CopyFrom(Hex(h)); }

TEST(CryptoTest, Sha256KnownAnswer) {
  EXPECT_EQ(HexEncode(Sha256(AsBytes("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256Hasher h;
  h.Update(AsBytes("a"));
  h.Update(AsBytes("bc"));
  EXPECT_EQ(HexEncode(h.Finish()), HexEncode(Sha256(AsBytes("abc"))));
}

TEST(CryptoTest, HkdfRfc5869Case1) {
  Bytes ikm(22, 0x0b);
  auto okm = HkdfSha256(ikm, Hex("000102030405060708090a0b0c"),
                        AsStringView(Hex("f0f1f2f3f4f5f6f7f8f9")), 42);
  ASSERT_TRUE(okm.ok()) << okm.status().ToString();
  EXPECT_EQ(HexEncode(okm->span()),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
}

TEST(CryptoTest, HkdfRfc5869Case3EmptySaltAndInfo) {
  Bytes ikm(22, 0x0b);
  auto okm = HkdfSha256(ikm, {}, "", 42);
  ASSERT_TRUE(okm.ok());
  EXPECT_EQ(HexEncode(okm->span()),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
}

TEST(CryptoTest, AesKeyWrapRfc3394Section4_6) {
  SecretData kek = SecretHex("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F");
  SecretData key = SecretHex("00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F");
  auto wrapped = AesKeyWrap(kek, key);
  ASSERT_TRUE(wrapped.ok());
  EXPECT_EQ(HexEncode(*wrapped),
            "28c9f404c4b810f4cbccb35cfb87f8263f5786e2d80ed326cbc7f0e71a99f43bfb988b9b7a02dd21");
  auto unwrapped = AesKeyUnwrap(kek, *wrapped);
  ASSERT_TRUE(unwrapped.ok());
  EXPECT_TRUE(unwrapped->Equals(key));
}

TEST(CryptoTest, AesKeyUnwrapDetectsEveryBitFlip) {
  SecretData kek = SecretHex("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F");
  SecretData key = SecretHex("00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F");
  Bytes wrapped = AesKeyWrap(kek, key).value();
  for (size_t bit = 0; bit < wrapped.size() * 8; ++bit) {
    Bytes bad = wrapped;
    bad[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    auto r = AesKeyUnwrap(kek, bad);
    ASSERT_FALSE(r.ok()) << "bit " << bit;
    EXPECT_EQ(r.status().reason(), "key_unwrap_failed");
  }
  EXPECT_FALSE(AesKeyUnwrap(kek, Bytes(wrapped.begin(), wrapped.end() - 8)).ok());
}

TEST(CryptoTest, KeyIdIsSha256Prefix) {
  Bytes id = KeyIdFromSpki(AsBytes("abc"));
  EXPECT_EQ(HexEncode(id), "ba7816bf8f01cfea");
}

}  // namespace
}  // namespace cardvault
