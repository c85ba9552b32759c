// SoftHsmTokens / SoftHsmTest: a fresh SoftHSM2 token directory per test.
#ifndef CARDVAULT_TESTS_CORE_PKCS11_SOFTHSM_TEST_BASE_H_
#define CARDVAULT_TESTS_CORE_PKCS11_SOFTHSM_TEST_BASE_H_

#include <gtest/gtest.h>

#include <string>

namespace cardvault {

inline constexpr char kSoftHsmModule[] = "/usr/lib/softhsm/libsofthsm2.so";
inline constexpr char kSpyModule[] = "/usr/lib/x86_64-linux-gnu/pkcs11-spy.so";
inline constexpr char kUserPin[] = "123456";
inline constexpr char kSoPin[] = "12345678";

// A fresh SoftHSM2 token directory, for fixtures and for harnesses that are not fixtures
// (the card backend contract's). SetUp creates a temporary directory holding a SoftHSM2
// configuration and an empty token directory, and points SOFTHSM2_CONF at it; TearDown
// removes it. Modules MUST be opened after SetUp and released before TearDown (the module
// reads the configuration in C_Initialize).
class SoftHsmTokens {
 public:
  void SetUp();
  void TearDown();

  // Initializes a token in the next free slot (softhsm2-util --init-token --free) and
  // returns its serial number.
  std::string InitToken(const std::string& label, const std::string& pin = kUserPin);

  // Appends a line to the SoftHSM2 configuration (e.g. "slots.mechanisms = ...").
  void AppendConfig(const std::string& line);

  // Runs a shell command; returns its exit status and appends stdout to `*output` if given.
  static int Run(const std::string& command, std::string* output = nullptr);

  // Sets PKCS11SPY / PKCS11SPY_OUTPUT so that kSpyModule logs every call to spy_log().
  void EnableSpy();
  // How many times the spy log records a call to `call` (e.g. "C_Login").
  int CountSpyCalls(const std::string& call) const;

  const std::string& dir() const { return dir_; }
  std::string token_dir() const { return dir_ + "/tokens"; }
  std::string spy_log() const { return dir_ + "/spy.log"; }

 private:
  std::string dir_;
};

// A GoogleTest fixture around SoftHsmTokens (one token directory per test).
class SoftHsmTest : public ::testing::Test {
 protected:
  void SetUp() override { tokens_.SetUp(); }
  void TearDown() override { tokens_.TearDown(); }

  std::string InitToken(const std::string& label, const std::string& pin = kUserPin) {
    return tokens_.InitToken(label, pin);
  }
  void AppendConfig(const std::string& line) { tokens_.AppendConfig(line); }
  static int Run(const std::string& command, std::string* output = nullptr) {
    return SoftHsmTokens::Run(command, output);
  }
  void EnableSpy() { tokens_.EnableSpy(); }
  int CountSpyCalls(const std::string& call) const { return tokens_.CountSpyCalls(call); }

  const std::string& dir() const { return tokens_.dir(); }
  std::string token_dir() const { return tokens_.token_dir(); }
  std::string spy_log() const { return tokens_.spy_log(); }

 private:
  SoftHsmTokens tokens_;
};

}  // namespace cardvault

#endif  // CARDVAULT_TESTS_CORE_PKCS11_SOFTHSM_TEST_BASE_H_
