// CapiErrorToStatus: every CryptoAPI / smart card error a provider reports maps to the card
// reason and code of core/card/card_reasons.h, with a message that says what to do.
#include "core/capi/capi_status.h"

#include <gtest/gtest.h>

#include "core/card/card_reasons.h"

namespace cardvault {
namespace {

struct Row {
  uint32_t error;  // the HRESULT or Win32 code, spelled out (not from <windows.h>)
  const char* name;
  StatusCode code;
  const char* reason;
  const char* advice;  // a part of the message that says what to do
};

const Row kRows[] = {
    {0x80090022, "NTE_SILENT_CONTEXT", StatusCode::kFailedPrecondition, kReasonPinNeeded,
     "--pin-file"},
    {0x80090016, "NTE_BAD_KEYSET", StatusCode::kUnavailable, kReasonCardAbsent,
     "no key container \"box\": insert the card that holds it, or create one with `cardvault "
     "card init`"},
    {0x80100030, "SCARD_E_NO_KEY_CONTAINER", StatusCode::kUnavailable, kReasonCardAbsent,
     "cardvault card init"},
    {0x80090019, "NTE_KEYSET_NOT_DEF", StatusCode::kNotFound, kReasonModuleMissing,
     "\"Prov\" is not installed"},
    {0x80090017, "NTE_PROV_TYPE_NOT_DEF", StatusCode::kNotFound, kReasonModuleMissing,
     "--provider"},
    {0x8009001E, "NTE_PROV_DLL_NOT_FOUND", StatusCode::kNotFound, kReasonModuleMissing,
     "reinstall"},
    {0x80090005, "NTE_BAD_DATA", StatusCode::kCorrupt, "stanza_unwrap_failed", "damaged"},
    {0x8009000D, "NTE_NO_KEY", StatusCode::kFailedPrecondition, kReasonNoKeyOnCard, "card list"},
    {0x8009000F, "NTE_EXISTS", StatusCode::kAlreadyExists, kReasonKeyExists, "another label"},
    {0x80090008, "NTE_BAD_ALGID", StatusCode::kUnsupported, kReasonMechanismUnsupported,
     "does not offer"},
    {0x80090029, "NTE_NOT_SUPPORTED", StatusCode::kUnsupported, kReasonMechanismUnsupported,
     "does not support"},
    {0x8010000C, "SCARD_E_NO_SMARTCARD", StatusCode::kUnavailable, kReasonCardAbsent,
     "insert the card"},
    {0x8010002E, "SCARD_E_NO_READERS_AVAILABLE", StatusCode::kUnavailable, kReasonCardAbsent,
     "connect the reader"},
    {0x80100069, "SCARD_W_REMOVED_CARD", StatusCode::kUnavailable, kReasonCardRemoved,
     "insert it and run again"},
    {0x80100068, "SCARD_W_RESET_CARD", StatusCode::kUnavailable, kReasonCardRemoved, "run again"},
    {0x8010006B, "SCARD_W_WRONG_CHV", StatusCode::kPermissionDenied, kReasonPinIncorrect,
     "not retried"},
    {0x8010002A, "SCARD_E_INVALID_CHV", StatusCode::kPermissionDenied, kReasonPinIncorrect,
     "not retried"},
    {0x8010006C, "SCARD_W_CHV_BLOCKED", StatusCode::kPermissionDenied, kReasonPinLocked, "PUK"},
    {0x8010006E, "SCARD_W_CANCELLED_BY_USER", StatusCode::kCancelled, kReasonPinCancelled,
     "cancelled"},
    {0x80100002, "SCARD_E_CANCELLED", StatusCode::kCancelled, kReasonPinCancelled, "cancelled"},
    {1223, "ERROR_CANCELLED", StatusCode::kCancelled, kReasonPinCancelled, "cancelled"},
    {0x8010001D, "SCARD_E_NO_SERVICE", StatusCode::kUnavailable, kReasonCardFailed,
     "Smart Card service"},
    {0x80100013, "SCARD_F_COMM_ERROR", StatusCode::kUnavailable, kReasonCardFailed, "reinsert"},
    {0x8010000A, "SCARD_E_TIMEOUT", StatusCode::kUnavailable, kReasonCardFailed, "reinsert"},
};

class CapiStatusTest : public ::testing::TestWithParam<Row> {};

TEST_P(CapiStatusTest, MapsToTheCardReason) {
  const Row& row = GetParam();
  const Status status = CapiErrorToStatus(row.error, {"CryptDecrypt", "Prov", "box"});
  EXPECT_EQ(status.code(), row.code) << status.ToString();
  EXPECT_EQ(status.reason(), row.reason) << status.ToString();
  EXPECT_NE(status.message().find(row.name), std::string::npos) << status.message();
  EXPECT_NE(status.message().find(row.advice), std::string::npos) << status.message();
  // The site: the call, the container and the provider.
  EXPECT_EQ(status.message().rfind("CryptDecrypt on key container \"box\" of CryptoAPI provider "
                                   "\"Prov\" failed with ",
                                   0),
            0u)
      << status.message();
}

INSTANTIATE_TEST_SUITE_P(AllErrors, CapiStatusTest, ::testing::ValuesIn(kRows),
                         [](const ::testing::TestParamInfo<Row>& info) {
                           return std::string(info.param.name);
                         });

TEST(CapiStatusTest, PinErrorsEndEveryFurtherLogin) {
  for (uint32_t error : {0x8010006Bu, 0x8010006Cu, 0x8010006Eu, 1223u}) {
    EXPECT_TRUE(IsLoginFailure(CapiErrorToStatus(error, {"CryptDecrypt", "P", "c"})))
        << CapiErrorName(error);
  }
  EXPECT_FALSE(IsLoginFailure(CapiErrorToStatus(0x80090016u, {"CryptAcquireContext", "P", "c"})));
}

TEST(CapiStatusTest, AnUnknownErrorIsACardFailureNeverCorrupt) {
  const Status status = CapiErrorToStatus(0x80091234u, {"CryptDecrypt", "P", "c"});
  EXPECT_EQ(status.code(), StatusCode::kUnavailable);
  EXPECT_EQ(status.reason(), kReasonCardFailed);
  EXPECT_NE(status.message().find("0x80091234"), std::string::npos) << status.message();
}

}  // namespace
}  // namespace cardvault
