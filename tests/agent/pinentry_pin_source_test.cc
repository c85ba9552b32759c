// PinentryPinSource against a fake pinentry script that logs the Assuan commands it gets.
#include "agent/card/pinentry_pin_source.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace cardvault {
namespace {

const std::string kFakePinentry =
    std::string(CARDVAULT_SOURCE_DIR) + "/tests/agent/testdata/fake_pinentry.sh";

class PinentryPinSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cv-pinentry-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    setenv("FAKE_PINENTRY_LOG", log().c_str(), 1);
    setenv("FAKE_PINENTRY_PIN", "123456", 1);
    unsetenv("FAKE_PINENTRY_MODE");
    unsetenv("PINENTRY_PROGRAM");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string log() const { return dir_ + "/commands.log"; }
  std::string Log() const {
    std::ifstream f(log());
    return std::string(std::istreambuf_iterator<char>(f), {});
  }

  PinRequest Request() const { return PinRequest{"Work card", "0123abcd", false, false}; }

  std::string dir_;
};

TEST_F(PinentryPinSourceTest, SpeaksAssuanAndReturnsThePin) {
  PinentryPinSource source(kFakePinentry);
  StatusOr<SecretData> pin = source.GetPin(Request());
  ASSERT_TRUE(pin.ok()) << pin.status().ToString();
  EXPECT_EQ(pin->AsStringView(), "123456");

  std::string log = Log();
  EXPECT_NE(log.find("SETTITLE cardvault\n"), std::string::npos) << log;
  EXPECT_NE(log.find("SETDESC cardvault needs the PIN of the card \"Work card\" (serial "
                     "0123abcd).\n"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("SETPROMPT PIN:\n"), std::string::npos) << log;
  EXPECT_NE(log.find("GETPIN\n"), std::string::npos) << log;
  EXPECT_NE(log.find("BYE\n"), std::string::npos) << log;
  EXPECT_LT(log.find("SETDESC"), log.find("GETPIN")) << log;
  EXPECT_EQ(log.find("wrong PIN"), std::string::npos) << "no warning on a fresh card: " << log;
  EXPECT_EQ(log.find("123456"), std::string::npos) << "the PIN must never be sent: " << log;
}

TEST_F(PinentryPinSourceTest, PercentDecodesThePin) {
  setenv("FAKE_PINENTRY_PIN", "12%2534%0A5%0d%41 z", 1);
  PinentryPinSource source(kFakePinentry);
  StatusOr<SecretData> pin = source.GetPin(Request());
  ASSERT_TRUE(pin.ok()) << pin.status().ToString();
  EXPECT_EQ(pin->AsStringView(), "12%34\n5\rA z");
}

TEST_F(PinentryPinSourceTest, MalformedEscapeIsAnError) {
  setenv("FAKE_PINENTRY_PIN", "12%4", 1);
  PinentryPinSource source(kFakePinentry);
  StatusOr<SecretData> pin = source.GetPin(Request());
  ASSERT_FALSE(pin.ok());
  EXPECT_EQ(pin.status().reason(), "pinentry_failed");
  setenv("FAKE_PINENTRY_PIN", "12%zz", 1);
  EXPECT_EQ(source.GetPin(Request()).status().reason(), "pinentry_failed");
}

TEST_F(PinentryPinSourceTest, WarnsWhenAWrongPinWasEnteredBefore) {
  PinentryPinSource source(kFakePinentry);
  PinRequest request = Request();
  request.count_low = true;
  ASSERT_TRUE(source.GetPin(request).ok());
  std::string log = Log();
  EXPECT_NE(log.find("(serial 0123abcd).%0A%0AWarning: a wrong PIN was entered before.\n"),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find("LAST TRY"), std::string::npos) << log;
}

TEST_F(PinentryPinSourceTest, WarnsOnTheLastTry) {
  PinentryPinSource source(kFakePinentry);
  PinRequest request = Request();
  request.count_low = true;
  request.final_try = true;
  ASSERT_TRUE(source.GetPin(request).ok());
  std::string log = Log();
  EXPECT_NE(log.find("%0A%0ALAST TRY: one more wrong PIN locks the card.\n"), std::string::npos)
      << log;
}

TEST_F(PinentryPinSourceTest, EscapesTheLabel) {
  PinentryPinSource source(kFakePinentry);
  PinRequest request{"50% off\ncard", "", false, false};
  ASSERT_TRUE(source.GetPin(request).ok());
  std::string log = Log();
  EXPECT_NE(log.find("the card \"50%25 off%0Acard\"."), std::string::npos) << log;
  EXPECT_EQ(log.find("serial"), std::string::npos) << log;
}

TEST_F(PinentryPinSourceTest, CancelIsCancelled) {
  setenv("FAKE_PINENTRY_MODE", "cancel", 1);
  PinentryPinSource source(kFakePinentry);
  StatusOr<SecretData> pin = source.GetPin(Request());
  ASSERT_FALSE(pin.ok());
  EXPECT_EQ(pin.status().code(), StatusCode::kCancelled);
  EXPECT_EQ(pin.status().reason(), "pin_cancelled");
}

TEST_F(PinentryPinSourceTest, EmptyPinIsAnError) {
  setenv("FAKE_PINENTRY_PIN", "", 1);
  PinentryPinSource source(kFakePinentry);
  EXPECT_EQ(source.GetPin(Request()).status().reason(), "pin_empty");
}

TEST_F(PinentryPinSourceTest, PinentryExitingEarlyIsAnError) {
  setenv("FAKE_PINENTRY_MODE", "exit", 1);
  PinentryPinSource source(kFakePinentry);
  StatusOr<SecretData> pin = source.GetPin(Request());
  ASSERT_FALSE(pin.ok());
  EXPECT_EQ(pin.status().reason(), "pinentry_failed");
  EXPECT_NE(pin.status().message().find(kFakePinentry), std::string::npos)
      << pin.status().message();
}

TEST_F(PinentryPinSourceTest, MissingPinentryTellsWhatToInstall) {
  PinentryPinSource source(dir_ + "/no-such-pinentry");
  StatusOr<SecretData> pin = source.GetPin(Request());
  ASSERT_FALSE(pin.ok());
  EXPECT_EQ(pin.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(pin.status().reason(), "pinentry_missing");
  EXPECT_NE(pin.status().message().find("pinentry-curses"), std::string::npos);
  EXPECT_NE(pin.status().message().find("--pin-file"), std::string::npos);
}

TEST_F(PinentryPinSourceTest, ProgramComesFromTheEnvironment) {
  EXPECT_EQ(PinentryPinSource().program(), "pinentry");
  setenv("PINENTRY_PROGRAM", kFakePinentry.c_str(), 1);
  PinentryPinSource source;
  EXPECT_EQ(source.program(), kFakePinentry);
  StatusOr<SecretData> pin = source.GetPin(Request());
  ASSERT_TRUE(pin.ok()) << pin.status().ToString();
  EXPECT_EQ(pin->AsStringView(), "123456");
  unsetenv("PINENTRY_PROGRAM");
}

}  // namespace
}  // namespace cardvault
