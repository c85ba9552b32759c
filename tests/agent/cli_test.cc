// Drives the built cardvault binary as a user would: keygen, encrypt, inspect, decrypt,
// and the errors for a tampered blob and a wrong identity.
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/agent/cli_runner.h"

namespace cardvault {
namespace {

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cv-cli-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(CliTest, KeygenEncryptInspectDecrypt) {
  CliResult k = RunCli("keygen -o " + dir_ + "/id.key");
  ASSERT_EQ(k.code, 0) << k.output;
  EXPECT_EQ(std::filesystem::status(dir_ + "/id.key").permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  std::string recipient = k.output.substr(0, k.output.find('\n'));
  ASSERT_EQ(recipient.rfind("cv-x25519-", 0), 0u) << k.output;
  EXPECT_NE(RunCli("keygen -o " + dir_ + "/id.key").code, 0) << "must not overwrite a key";

  std::ofstream(dir_ + "/secret.txt") << "api-token=hunter2\n";
  CliResult e =
      RunCli("encrypt -r " + recipient + " -o " + dir_ + "/s.cvb " + dir_ + "/secret.txt");
  ASSERT_EQ(e.code, 0) << e.output;
  EXPECT_EQ(ReadAll(dir_ + "/s.cvb").find("hunter2"), std::string::npos);

  CliResult i = RunCli("inspect " + dir_ + "/s.cvb");
  ASSERT_EQ(i.code, 0) << i.output;
  EXPECT_NE(i.output.find("X25519 key"), std::string::npos) << i.output;

  CliResult d = RunCli("decrypt -i " + dir_ + "/id.key -o " + dir_ + "/out.txt " + dir_ + "/s.cvb");
  ASSERT_EQ(d.code, 0) << d.output;
  EXPECT_EQ(ReadAll(dir_ + "/out.txt"), "api-token=hunter2\n");
}

TEST_F(CliTest, TamperedBlobAndWrongKeyAreClearErrors) {
  CliResult k = RunCli("keygen -o " + dir_ + "/id.key");
  CliResult other = RunCli("keygen -o " + dir_ + "/other.key");
  ASSERT_EQ(k.code, 0);
  std::string recipient = k.output.substr(0, k.output.find('\n'));
  std::ofstream(dir_ + "/f") << std::string(100000, 'x');
  ASSERT_EQ(RunCli("encrypt -r " + recipient + " -o " + dir_ + "/f.cvb " + dir_ + "/f").code, 0);

  CliResult wrong =
      RunCli("decrypt -i " + dir_ + "/other.key -o " + dir_ + "/out " + dir_ + "/f.cvb");
  EXPECT_EQ(wrong.code, 1);
  EXPECT_NE(wrong.output.find("no_matching_stanza"), std::string::npos) << wrong.output;

  std::string blob = ReadAll(dir_ + "/f.cvb");
  blob[blob.size() - 100] ^= 1;
  std::ofstream(dir_ + "/bad.cvb", std::ios::binary) << blob;
  CliResult bad = RunCli("decrypt -i " + dir_ + "/id.key -o " + dir_ + "/out " + dir_ + "/bad.cvb");
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.output.find("chunk_auth_failed"), std::string::npos) << bad.output;
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/out"));
}

TEST_F(CliTest, UsageErrorsTeach) {
  CliResult none = RunCli("");
  EXPECT_NE(none.code, 0);
  CliResult help = RunCli("encrypt --help");
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.output.find("Example"), std::string::npos);
  CliResult missing = RunCli("encrypt -o " + dir_ + "/x.cvb " + dir_ + "/does-not-exist");
  EXPECT_NE(missing.code, 0);
}

// A PIN on the command line is refused in any spelling, and no error repeats it.
TEST_F(CliTest, APinOnTheCommandLineIsRefusedAndNeverEchoed) {
  const std::string pin = "739146";
  for (const std::string& spelling :
       {"--pin " + pin, "--pin=" + pin, "--PIN " + pin, "-pin " + pin, "--pin-code " + pin,
        "--user-pin=" + pin, "--user_pin " + pin}) {
    SCOPED_TRACE(spelling);
    for (const std::string& command :
         {"decrypt --card " + spelling + " -o " + dir_ + "/o f.cvb",
          "restore --target " + dir_ + "/t " + spelling, "card init " + spelling}) {
      CliResult r = RunCli(command);
      EXPECT_EQ(r.code, 2) << r.output;
      EXPECT_NE(r.output.find("pin_on_command_line"), std::string::npos) << r.output;
      EXPECT_NE(r.output.find("--pin-file"), std::string::npos) << r.output;
      EXPECT_EQ(r.output.find(pin), std::string::npos) << r.output;
    }
  }
  // --pin-file itself is fine (it fails later, on the missing input, without echoing).
  CliResult file = RunCli("decrypt --card --pin-file " + dir_ + "/pin -o " + dir_ + "/o " + pin);
  EXPECT_EQ(file.output.find("pin_on_command_line"), std::string::npos) << file.output;
  EXPECT_EQ(file.output.find(pin), std::string::npos) << file.output;
}

// A parse error names the option but not the value: a secret typed in the wrong place
// (e.g. as a file name) is not printed back.
TEST_F(CliTest, ParseErrorsNeverEchoAValue) {
  CliResult r = RunCli("decrypt -i " + dir_ + "/id.key hunter2-secret");
  EXPECT_NE(r.code, 0);
  EXPECT_EQ(r.output.find("hunter2-secret"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("<value>"), std::string::npos) << r.output;
  CliResult extra = RunCli("inspect a.cvb b.cvb --nonsense=swordfish");
  EXPECT_NE(extra.code, 0);
  EXPECT_EQ(extra.output.find("swordfish"), std::string::npos) << extra.output;
}

}  // namespace
}  // namespace cardvault
