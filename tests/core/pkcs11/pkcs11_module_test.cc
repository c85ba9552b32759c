// Tests for Pkcs11Module, Pkcs11Session and the CK_RV mapping against a real SoftHSM2 token.
#include "core/pkcs11/pkcs11_module.h"

#include <gtest/gtest.h>

#include "core/pkcs11/pkcs11_session.h"
#include "core/pkcs11/pkcs11_status.h"
#include "tests/core/pkcs11/softhsm_test_base.h"

namespace cardvault {
namespace {

TEST(Pkcs11StatusTest, MapsCardFailuresToStableReasons) {
  EXPECT_TRUE(CkrToStatus(CKR_OK, "C_Login").ok());
  Status pin = CkrToStatus(CKR_PIN_INCORRECT, "C_Login");
  EXPECT_EQ(pin.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(pin.reason(), "pin_incorrect");
  EXPECT_NE(pin.message().find("CKR_PIN_INCORRECT"), std::string::npos);
  EXPECT_EQ(CkrToStatus(CKR_PIN_LOCKED, "C_Login").reason(), "pin_locked");
  for (CK_RV rv : {CKR_TOKEN_NOT_PRESENT, CKR_DEVICE_REMOVED, CKR_SESSION_HANDLE_INVALID}) {
    Status s = CkrToStatus(rv, "C_Decrypt");
    EXPECT_EQ(s.code(), StatusCode::kUnavailable) << CkrName(rv);
    EXPECT_EQ(s.reason(), "card_absent") << CkrName(rv);
  }
  EXPECT_EQ(CkrToStatus(CKR_KEY_HANDLE_INVALID, "C_DecryptInit").reason(), "no_key_on_card");
  EXPECT_EQ(CkrToStatus(CKR_ENCRYPTED_DATA_INVALID, "C_Decrypt").code(), StatusCode::kCorrupt);
  EXPECT_EQ(CkrToStatus(0x8000abcdUL, "C_X").code(), StatusCode::kInternal);
  EXPECT_EQ(CkrName(0x8000abcdUL), "CKR_0x8000abcd");
}

TEST(Pkcs11ModuleTest, MissingModuleIsNotFound) {
  auto module = Pkcs11Module::Open("/nonexistent/libnothing.so");
  ASSERT_FALSE(module.ok());
  EXPECT_EQ(module.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(module.status().reason(), "module_missing");
  EXPECT_NE(module.status().message().find("/nonexistent/libnothing.so"), std::string::npos);
}

TEST(Pkcs11ModuleTest, LibraryWithoutFunctionListIsNotAModule) {
  auto module = Pkcs11Module::Open("libz.so.1");
  ASSERT_FALSE(module.ok());
  EXPECT_EQ(module.status().reason(), "module_missing");
}

class Pkcs11SessionTest : public SoftHsmTest {};

TEST_F(Pkcs11SessionTest, OpenSharesOneInstancePerPath) {
  InitToken("alpha");
  auto a = Pkcs11Module::Open(kSoftHsmModule);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  auto b = Pkcs11Module::Open(kSoftHsmModule);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->get(), b->get());
  auto slots = (*a)->SlotsWithToken();
  ASSERT_TRUE(slots.ok()) << slots.status().ToString();
  // The initialized token plus SoftHSM's spare uninitialized one.
  EXPECT_EQ(slots->size(), 2u);
}

TEST_F(Pkcs11SessionTest, LoginRightAndWrongPin) {
  InitToken("alpha");
  auto module = Pkcs11Module::Open(kSoftHsmModule);
  ASSERT_TRUE(module.ok());
  auto slots = (*module)->SlotsWithToken();
  ASSERT_TRUE(slots.ok());
  auto session = Pkcs11Session::Open(*module, slots->front());
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  SecretData wrong = SecretData::CopyFrom(std::string_view("000000"));
  Status bad = (*session)->Login(&wrong);
  EXPECT_EQ(bad.reason(), "pin_incorrect") << bad.ToString();
  EXPECT_FALSE((*session)->logged_in());
  SecretData right = SecretData::CopyFrom(std::string_view(kUserPin));
  Status good = (*session)->Login(&right);
  EXPECT_TRUE(good.ok()) << good.ToString();
  EXPECT_TRUE((*session)->logged_in());
}

TEST_F(Pkcs11SessionTest, InvalidSlotIsCardAbsent) {
  InitToken("alpha");
  auto module = Pkcs11Module::Open(kSoftHsmModule);
  ASSERT_TRUE(module.ok());
  auto session = Pkcs11Session::Open(*module, 0xdead);
  ASSERT_FALSE(session.ok());
  EXPECT_EQ(session.status().reason(), "card_absent");
}

}  // namespace
}  // namespace cardvault
