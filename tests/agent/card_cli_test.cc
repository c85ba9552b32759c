// Drives the built cardvault binary against SoftHSM2 tokens: card init/list, encrypting to a
// card that is absent, decrypting with --pin-file or a (fake) pinentry, wrong PINs and wrong
// cards, and editing the config's recipients.
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "tests/agent/cli_runner.h"
#include "tests/core/pkcs11/softhsm_test_base.h"

namespace cardvault {
namespace {

const std::string kFakePinentry =
    std::string(CARDVAULT_SOURCE_DIR) + "/tests/agent/testdata/fake_pinentry.sh";

std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

class CardCliTest : public SoftHsmTest {
 protected:
  void SetUp() override {
    SoftHsmTest::SetUp();
    module_ = std::string(" --module ") + kSoftHsmModule;
    pin_file_ = WriteSecretFile("pin", std::string(kUserPin) + "\n");
    // No PIN from the environment, and a prompt would fail loudly.
    unsetenv("CARDVAULT_PIN_FILE");
    setenv("PINENTRY_PROGRAM", (dir() + "/no-pinentry-here").c_str(), 1);
    std::ofstream(dir() + "/secret.txt") << "api-token=hunter2\n";
  }
  void TearDown() override {
    unsetenv("PINENTRY_PROGRAM");
    unsetenv("CARDVAULT_PIN_FILE");
    unsetenv("CARDVAULT_CONFIG");
    unsetenv("FAKE_PINENTRY_PIN");
    unsetenv("FAKE_PINENTRY_LOG");
    unsetenv("FAKE_PINENTRY_MODE");
    SoftHsmTest::TearDown();
  }

  std::string WriteSecretFile(const std::string& name, const std::string& text) {
    std::string path = dir() + "/" + name;
    std::ofstream(path) << text;
    chmod(path.c_str(), 0600);
    return path;
  }

  // Initializes a token and a key on it; returns the recipient string card init printed.
  std::string InitCardWithKey(const std::string& label, const std::string& type = "p256") {
    InitToken(label);
    CliResult r = RunCli("card init" + module_ + " --token '" + label + "' --type " + type +
                             " --pin-file " + pin_file_,
                         /*with_stderr=*/false);
    EXPECT_EQ(r.code, 0) << r.output;
    std::string recipient = FirstLine(r.output);
    EXPECT_EQ(recipient.rfind("cv-p11-", 0), 0u) << r.output;
    return recipient;
  }

  CliResult EncryptTo(const std::string& recipient, const std::string& blob) {
    return RunCli("encrypt -r " + recipient + " -o " + blob + " " + dir() + "/secret.txt");
  }

  std::string module_;
  std::string pin_file_;
};

TEST_F(CardCliTest, InitThenListShowsTheKeyAndInitNeverReplacesIt) {
  std::string serial = InitToken("My card");
  CliResult empty = RunCli("card list" + module_);
  ASSERT_EQ(empty.code, 0) << empty.output;
  EXPECT_NE(empty.output.find("keys: none (for a new vault, create one with: cardvault card init"),
            std::string::npos)
      << empty.output;

  CliResult init = RunCli("card init" + module_ + " --token 'My card' --pin-file " + pin_file_,
                          /*with_stderr=*/false);
  ASSERT_EQ(init.code, 0) << init.output;
  std::string recipient = FirstLine(init.output);
  ASSERT_EQ(recipient.rfind("cv-p11-", 0), 0u) << init.output;

  // Listing never asks for a PIN: no PIN file and no pinentry exist here.
  CliResult list = RunCli("card list" + module_);
  ASSERT_EQ(list.code, 0) << list.output;
  EXPECT_NE(list.output.find("token \"My card\" serial " + serial), std::string::npos)
      << list.output;
  EXPECT_NE(list.output.find("PIN: initialized yes, count low no, final try no, locked no, PIN "
                             "pad no"),
            std::string::npos)
      << list.output;
  EXPECT_NE(list.output.find("key \"cardvault\" CKA_ID "), std::string::npos) << list.output;
  EXPECT_NE(list.output.find("EC P-256 key id "), std::string::npos) << list.output;
  EXPECT_NE(list.output.find("recipient " + recipient + "\n"), std::string::npos) << list.output;

  CliResult again = RunCli("card init" + module_ + " --pin-file " + pin_file_);
  EXPECT_EQ(again.code, 1) << again.output;
  EXPECT_NE(again.output.find("already holds a key labelled \"cardvault\""), std::string::npos)
      << again.output;
  EXPECT_NE(again.output.find(recipient + "\n"), std::string::npos) << again.output;
  EXPECT_EQ(Count(RunCli("card list" + module_).output, "key \"cardvault\""), 1);

  CliResult rsa =
      RunCli("card init" + module_ + " --key-label backup --type rsa2048 --pin-file " + pin_file_);
  ASSERT_EQ(rsa.code, 0) << rsa.output;
  EXPECT_NE(RunCli("card list" + module_).output.find("key \"backup\""), std::string::npos);
  EXPECT_NE(RunCli("card list" + module_).output.find("RSA-2048 key id"), std::string::npos);
}

TEST_F(CardCliTest, InitPicksTheCardBySerial) {
  InitToken("first");
  std::string serial = InitToken("second");
  CliResult ambiguous = RunCli("card init" + module_ + " --pin-file " + pin_file_);
  EXPECT_EQ(ambiguous.code, 1);
  EXPECT_NE(ambiguous.output.find("ambiguous_token"), std::string::npos) << ambiguous.output;
  EXPECT_NE(ambiguous.output.find("--token"), std::string::npos) << ambiguous.output;

  CliResult init =
      RunCli("card init" + module_ + " --serial " + serial + " --pin-file " + pin_file_);
  ASSERT_EQ(init.code, 0) << init.output;
  std::string list = RunCli("card list" + module_).output;
  size_t first = list.find("token \"first\"");
  size_t second = list.find("token \"second\"");
  ASSERT_NE(first, std::string::npos) << list;
  ASSERT_NE(second, std::string::npos) << list;
  // The key is listed under "second" only.
  EXPECT_EQ(Count(list, "key \"cardvault\""), 1) << list;
  size_t key = list.find("key \"cardvault\"");
  EXPECT_TRUE(second < first ? key > second && key < first : key > second) << list;
}

TEST_F(CardCliTest, InitWithAWrongPinCreatesNothing) {
  InitToken("My card");
  std::string bad = WriteSecretFile("bad-pin", "000000\n");
  CliResult init = RunCli("card init" + module_ + " --pin-file " + bad);
  EXPECT_EQ(init.code, 1) << init.output;
  EXPECT_NE(init.output.find("pin_incorrect"), std::string::npos) << init.output;
  EXPECT_NE(RunCli("card list" + module_).output.find("keys: none"), std::string::npos);
}

TEST_F(CardCliTest, EncryptsWithTheCardAbsentAndDecryptsWithPinFile) {
  for (const char* type : {"p256", "rsa2048"}) {
    SCOPED_TRACE(type);
    std::string label = std::string("card ") + type;
    std::string recipient = InitCardWithKey(label, type);
    std::string blob = dir() + "/" + type + ".cvb";
    std::string out = dir() + "/" + type + ".out";

    // The card is pulled: encrypting needs only the recipient string.
    std::filesystem::rename(token_dir(), dir() + "/tokens.away");
    std::filesystem::create_directory(token_dir());
    CliResult e = EncryptTo(recipient, blob);
    ASSERT_EQ(e.code, 0) << e.output;
    EXPECT_EQ(ReadAll(blob).find("hunter2"), std::string::npos);
    CliResult absent =
        RunCli("decrypt --card" + module_ + " --pin-file " + pin_file_ + " -o " + out + " " + blob);
    EXPECT_EQ(absent.code, 1);
    EXPECT_NE(absent.output.find("card_absent"), std::string::npos) << absent.output;
    EXPECT_FALSE(std::filesystem::exists(out));

    // Back in: decrypting needs it and the PIN.
    std::filesystem::remove(token_dir());
    std::filesystem::rename(dir() + "/tokens.away", token_dir());
    CliResult d = RunCli("decrypt --card -v" + module_ + " --pin-file " + pin_file_ + " -o " + out +
                         " " + blob);
    ASSERT_EQ(d.code, 0) << d.output;
    EXPECT_EQ(ReadAll(out), "api-token=hunter2\n");
    EXPECT_NE(d.output.find("card private-key operations: 1\n"), std::string::npos) << d.output;
    std::filesystem::remove_all(token_dir());
    std::filesystem::create_directory(token_dir());
  }
}

TEST_F(CardCliTest, PinFileFromTheEnvironment) {
  std::string recipient = InitCardWithKey("My card");
  ASSERT_EQ(EncryptTo(recipient, dir() + "/s.cvb").code, 0);
  setenv("CARDVAULT_PIN_FILE", pin_file_.c_str(), 1);
  CliResult d = RunCli("decrypt --card" + module_ + " -o " + dir() + "/out " + dir() + "/s.cvb");
  ASSERT_EQ(d.code, 0) << d.output;
  EXPECT_EQ(ReadAll(dir() + "/out"), "api-token=hunter2\n");
}

TEST_F(CardCliTest, WrongPinFailsOnceAndWritesNothing) {
  std::string recipient = InitCardWithKey("My card");
  ASSERT_EQ(EncryptTo(recipient, dir() + "/s.cvb").code, 0);
  EnableSpy();
  std::string bad = WriteSecretFile("bad-pin", "000000\n");
  CliResult d = RunCli("decrypt --card --module " + std::string(kSpyModule) + " --pin-file " + bad +
                       " -o " + dir() + "/out " + dir() + "/s.cvb");
  EXPECT_EQ(d.code, 1) << d.output;
  EXPECT_NE(d.output.find("pin_incorrect"), std::string::npos) << d.output;
  EXPECT_NE(d.output.find("card \"My card\""), std::string::npos) << d.output;
  EXPECT_NE(d.output.find("never tries a PIN twice"), std::string::npos) << d.output;
  EXPECT_FALSE(std::filesystem::exists(dir() + "/out"));
  EXPECT_EQ(CountSpyCalls("C_Login"), 1);

  std::string open_pin = dir() + "/open-pin";
  std::ofstream(open_pin) << kUserPin << "\n";
  chmod(open_pin.c_str(), 0644);
  CliResult insecure = RunCli("decrypt --card" + module_ + " --pin-file " + open_pin + " -o " +
                              dir() + "/out " + dir() + "/s.cvb");
  EXPECT_EQ(insecure.code, 1);
  EXPECT_NE(insecure.output.find("pin_file_insecure"), std::string::npos) << insecure.output;
  EXPECT_FALSE(std::filesystem::exists(dir() + "/out"));
}

TEST_F(CardCliTest, AnotherCardIsTheWrongCard) {
  std::string recipient = InitCardWithKey("My card");
  ASSERT_EQ(EncryptTo(recipient, dir() + "/s.cvb").code, 0);
  InitCardWithKey("another card");

  CliResult d = RunCli("decrypt --card" + module_ + " --token 'another card' --pin-file " +
                       pin_file_ + " -o " + dir() + "/out " + dir() + "/s.cvb");
  EXPECT_EQ(d.code, 1) << d.output;
  EXPECT_NE(d.output.find("wrong_card"), std::string::npos) << d.output;
  EXPECT_NE(d.output.find("another card"), std::string::npos) << d.output;
  EXPECT_FALSE(std::filesystem::exists(dir() + "/out"));

  // With both cards in and no --token, the one holding the key is found.
  CliResult both = RunCli("decrypt --card" + module_ + " --pin-file " + pin_file_ + " -o " + dir() +
                          "/out " + dir() + "/s.cvb");
  ASSERT_EQ(both.code, 0) << both.output;
  EXPECT_EQ(ReadAll(dir() + "/out"), "api-token=hunter2\n");

  // A blob for a software key only is for no card at all.
  CliResult k = RunCli("keygen -o " + dir() + "/id.key", /*with_stderr=*/false);
  ASSERT_EQ(k.code, 0);
  ASSERT_EQ(EncryptTo(FirstLine(k.output), dir() + "/x.cvb").code, 0);
  CliResult x = RunCli("decrypt --card" + module_ + " --pin-file " + pin_file_ + " -o " + dir() +
                       "/x.out " + dir() + "/x.cvb");
  EXPECT_EQ(x.code, 1);
  EXPECT_NE(x.output.find("no_matching_stanza"), std::string::npos) << x.output;
  EXPECT_NE(x.output.find("-i IDENTITY_FILE"), std::string::npos) << x.output;
}

TEST_F(CardCliTest, BackupCardDecryptsWhenTheMainCardIsGone) {
  std::string main_card = InitCardWithKey("main card");
  std::string backup = InitCardWithKey("backup card", "rsa2048");
  CliResult k = RunCli("keygen -o " + dir() + "/id.key", /*with_stderr=*/false);
  ASSERT_EQ(k.code, 0);
  std::ofstream(dir() + "/recipients.txt") << "# main and backup card, recovery key\n"
                                           << main_card << "\n"
                                           << "backup: " << backup << "\n"
                                           << FirstLine(k.output) << "\n";
  CliResult e = RunCli("encrypt -R " + dir() + "/recipients.txt -o " + dir() + "/s.cvb " + dir() +
                       "/secret.txt");
  ASSERT_EQ(e.code, 0) << e.output;
  CliResult i = RunCli("inspect " + dir() + "/s.cvb");
  EXPECT_NE(i.output.find("recipients: 3"), std::string::npos) << i.output;
  EXPECT_NE(i.output.find("p11-ecdh-p256 key"), std::string::npos) << i.output;
  EXPECT_NE(i.output.find("p11-rsa-oaep-sha1 key"), std::string::npos) << i.output;

  // Only the backup card is left (SoftHSM2 keeps each token in its own directory).
  std::string main_serial_dir;
  for (const auto& entry : std::filesystem::directory_iterator(token_dir())) {
    if (ReadAll(entry.path().string() + "/token.object").find("main card") != std::string::npos) {
      main_serial_dir = entry.path().string();
    }
  }
  ASSERT_FALSE(main_serial_dir.empty());
  std::filesystem::remove_all(main_serial_dir);
  ASSERT_EQ(RunCli("card list" + module_).output.find("main card"), std::string::npos);

  CliResult d = RunCli("decrypt --card -v" + module_ + " --pin-file " + pin_file_ + " -o " + dir() +
                       "/out " + dir() + "/s.cvb");
  ASSERT_EQ(d.code, 0) << d.output;
  EXPECT_EQ(ReadAll(dir() + "/out"), "api-token=hunter2\n");
  EXPECT_NE(d.output.find("card private-key operations: 1\n"), std::string::npos) << d.output;
  CliResult soft =
      RunCli("decrypt -i " + dir() + "/id.key -o " + dir() + "/out2 " + dir() + "/s.cvb");
  ASSERT_EQ(soft.code, 0) << soft.output;
}

// A new key would open nothing of this file: name the key id it needs and what the card
// shows, never `card init`.
TEST_F(CardCliTest, ACardWithoutTheKeyNamesTheKeyIdAndNeverAdvisesCardInit) {
  std::string recipient = InitCardWithKey("My card");
  ASSERT_EQ(EncryptTo(recipient, dir() + "/s.cvb").code, 0);
  std::filesystem::remove_all(token_dir());
  std::filesystem::create_directory(token_dir());
  InitToken("blank card");
  CliResult d = RunCli("decrypt --card" + module_ + " --pin-file " + pin_file_ + " -o " + dir() +
                       "/out " + dir() + "/s.cvb");
  EXPECT_EQ(d.code, 1);
  EXPECT_NE(d.output.find("no_key_on_card"), std::string::npos) << d.output;
  EXPECT_NE(d.output.find("insert the card with key id "), std::string::npos) << d.output;
  EXPECT_NE(d.output.find("card \"blank card\" (serial "), std::string::npos) << d.output;
  EXPECT_NE(d.output.find("shows no usable key"), std::string::npos) << d.output;
  EXPECT_EQ(d.output.find("card init"), std::string::npos) << d.output;
  EXPECT_FALSE(std::filesystem::exists(dir() + "/out"));
}

// The lines of a shim call log (CV_SHIM_CALLS) naming `call`.
int CountCalls(const std::string& log, const std::string& call) {
  return Count(ReadAll(log), call + "\n");
}

// After a wrong PIN the error names the card and its PIN state from the token info of the
// slot in use: the token is not listed, opened or searched a second time.
TEST_F(CardCliTest, WrongPinReadsTheTokenOnce) {
  std::string recipient = InitCardWithKey("My card");
  ASSERT_EQ(EncryptTo(recipient, dir() + "/s.cvb").code, 0);
  const std::string calls = dir() + "/calls";
  setenv("CV_SHIM_CALLS", calls.c_str(), 1);
  std::string bad = WriteSecretFile("bad-pin", "000000\n");
  CliResult d = RunCli("decrypt --card --module " + std::string(CARDVAULT_FLAG_SHIM) +
                       " --pin-file " + bad + " -o " + dir() + "/out " + dir() + "/s.cvb");
  unsetenv("CV_SHIM_CALLS");
  EXPECT_EQ(d.code, 1) << d.output;
  EXPECT_NE(d.output.find("pin_incorrect"), std::string::npos) << d.output;
  EXPECT_NE(d.output.find("card \"My card\": few PIN tries left"), std::string::npos) << d.output;
  EXPECT_EQ(CountCalls(calls, "C_Login"), 1) << ReadAll(calls);
  EXPECT_EQ(CountCalls(calls, "C_GetSlotList"), 1) << ReadAll(calls);
  // One read of the keys: public keys, certificates, private keys.
  EXPECT_EQ(CountCalls(calls, "C_FindObjectsInit"), 3) << ReadAll(calls);
}

// A card that cannot generate keys (a CAC or PIV card set up by an IT department): card
// init says so, naming the card, before any PIN, and points at the key already there.
TEST_F(CardCliTest, InitOnACardWithoutKeyGenerationAsksNoPin) {
  std::string serial = InitToken("IT card");
  const std::string calls = dir() + "/calls";
  setenv("CV_SHIM_CALLS", calls.c_str(), 1);
  setenv("CV_SHIM_NO_KEYGEN", "1", 1);
  for (const char* type : {"p256", "rsa2048"}) {
    // A PIN file that does not exist: reading it would fail with another error.
    CliResult init =
        RunCli("card init --module " + std::string(CARDVAULT_FLAG_SHIM) +
               " --token 'IT card' --type " + type + " --pin-file " + dir() + "/never-read-pin");
    EXPECT_EQ(init.code, 1) << init.output;
    EXPECT_NE(init.output.find("mechanism_unsupported"), std::string::npos) << init.output;
    EXPECT_NE(init.output.find("card \"IT card\" (serial " + serial + ")"), std::string::npos)
        << init.output;
    EXPECT_NE(init.output.find("cardvault card list"), std::string::npos) << init.output;
    EXPECT_NE(init.output.find("--key-label"), std::string::npos) << init.output;
    EXPECT_EQ(init.output.find("never-read-pin"), std::string::npos) << init.output;
  }
  CliResult list = RunCli("card list --module " + std::string(CARDVAULT_FLAG_SHIM));
  EXPECT_NE(list.output.find("keys: none (this card cannot generate keys)"), std::string::npos)
      << list.output;
  EXPECT_EQ(list.output.find("card init"), std::string::npos) << list.output;
  unsetenv("CV_SHIM_NO_KEYGEN");
  unsetenv("CV_SHIM_CALLS");
  EXPECT_EQ(CountCalls(calls, "C_Login"), 0) << ReadAll(calls);
  EXPECT_EQ(CountCalls(calls, "C_GenerateKeyPair"), 0) << ReadAll(calls);
  EXPECT_NE(RunCli("card list" + module_).output.find("keys: none"), std::string::npos);
}

// A reader with a PIN pad: card init tells the user to type the PIN there, logs in without a
// PIN from cardvault (the PIN file is never read) and creates the key.
TEST_F(CardCliTest, InitOnAPinPadReaderAsksForThePinOnThePad) {
  InitToken("Pad card");
  const std::string log = dir() + "/logins";
  setenv("CV_SHIM_FLAGS", "256", 1);  // CKF_PROTECTED_AUTHENTICATION_PATH
  setenv("CV_SHIM_PAD_PIN", kUserPin, 1);
  setenv("CV_SHIM_LOG", log.c_str(), 1);
  CliResult init = RunCli("card init --module " + std::string(CARDVAULT_FLAG_SHIM) +
                          " --token 'Pad card' --pin-file " + dir() + "/never-read-pin");
  CliResult list = RunCli("card list --module " + std::string(CARDVAULT_FLAG_SHIM));
  unsetenv("CV_SHIM_FLAGS");
  unsetenv("CV_SHIM_PAD_PIN");
  unsetenv("CV_SHIM_LOG");
  EXPECT_EQ(init.code, 0) << init.output;
  EXPECT_NE(init.output.find("cardvault: enter the PIN on the reader's PIN pad\n"),
            std::string::npos)
      << init.output;
  EXPECT_NE(init.output.find("PIN pad\ncv-p11-"), std::string::npos) << init.output;
  EXPECT_EQ(init.output.find("never-read-pin"), std::string::npos) << init.output;
  EXPECT_EQ(ReadAll(log), "C_Login null\n");
  EXPECT_NE(list.output.find("PIN pad yes"), std::string::npos) << list.output;
  EXPECT_EQ(Count(list.output, "key \"cardvault\""), 1) << list.output;
}

// A PIV-like card: a private key and a certificate with different labels, no public key
// object (imported with OpenSC's pkcs11-tool). The key is chosen by either label, by its
// CKA_ID or by its key id, and decrypts what was encrypted to its recipient.
TEST_F(CardCliTest, PivLikeCardIsSelectedByAnyLabelOrId) {
  InitToken("PIV card");
  const std::string key = dir() + "/km.pem", der = dir() + "/km.der", cert = dir() + "/km.crt";
  const std::string tool = std::string("pkcs11-tool --module ") + kSoftHsmModule +
                           " --token-label 'PIV card' --login --pin " + kUserPin + " --id 03 ";
  ASSERT_EQ(Run("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out " + key +
                " 2>/dev/null && openssl pkey -in " + key + " -outform DER -out " + der +
                " && openssl req -x509 -new -key " + key +
                " -subj /CN=piv-key-management -days 2 -outform DER -out " + cert + " && " + tool +
                "--write-object " + der +
                " --type privkey --usage-decrypt --label 'KEY MAN key' >/dev/null 2>&1 && " + tool +
                "--write-object " + cert +
                " --type cert --label 'Certificate for Key Management' >/dev/null 2>&1"),
            0);
  CliResult list = RunCli("card list" + module_);
  ASSERT_EQ(list.code, 0) << list.output;
  const std::string shown = "key \"Certificate for Key Management\" CKA_ID 03 RSA-2048 key id ";
  const size_t at = list.output.find(shown);
  ASSERT_NE(at, std::string::npos) << list.output;
  const std::string key_id = list.output.substr(at + shown.size(), 16);
  EXPECT_NE(list.output.find("(from certificate)"), std::string::npos) << list.output;
  const size_t r = list.output.find("recipient cv-p11-", at);
  ASSERT_NE(r, std::string::npos) << list.output;
  const std::string recipient = FirstLine(list.output.substr(r + 10));
  ASSERT_EQ(EncryptTo(recipient, dir() + "/s.cvb").code, 0);

  for (const std::string& selection :
       {std::string("KEY MAN key"), std::string("Certificate for Key Management"),
        std::string("03"), key_id}) {
    SCOPED_TRACE(selection);
    std::filesystem::remove(dir() + "/out");
    CliResult d = RunCli("decrypt --card" + module_ + " --key-label '" + selection +
                         "' --pin-file " + pin_file_ + " -o " + dir() + "/out " + dir() + "/s.cvb");
    ASSERT_EQ(d.code, 0) << d.output;
    EXPECT_EQ(ReadAll(dir() + "/out"), "api-token=hunter2\n");
  }
  // A label the key does not carry is refused, without advice to create a key.
  CliResult other = RunCli("decrypt --card" + module_ + " --key-label 'PIV AUTH key' --pin-file " +
                           pin_file_ + " -o " + dir() + "/out2 " + dir() + "/s.cvb");
  EXPECT_EQ(other.code, 1) << other.output;
  EXPECT_NE(other.output.find("no_key_on_card"), std::string::npos) << other.output;
  EXPECT_NE(other.output.find("KEY MAN key"), std::string::npos) << other.output;
  EXPECT_EQ(other.output.find("card init"), std::string::npos) << other.output;
  EXPECT_FALSE(std::filesystem::exists(dir() + "/out2"));
}

TEST_F(CardCliTest, DecryptsWithAPinentry) {
  std::string recipient = InitCardWithKey("My card");
  ASSERT_EQ(EncryptTo(recipient, dir() + "/s.cvb").code, 0);
  std::string log = dir() + "/pinentry.log";
  // A wrong PIN first: the card then flags CKF_USER_PIN_COUNT_LOW, and the prompt warns.
  std::string bad = WriteSecretFile("bad-pin", "000000\n");
  ASSERT_EQ(RunCli("decrypt --card" + module_ + " --pin-file " + bad + " -o " + dir() + "/out " +
                   dir() + "/s.cvb")
                .code,
            1);
  ASSERT_NE(RunCli("card list" + module_).output.find("count low yes"), std::string::npos);
  setenv("PINENTRY_PROGRAM", kFakePinentry.c_str(), 1);
  setenv("FAKE_PINENTRY_LOG", log.c_str(), 1);
  setenv("FAKE_PINENTRY_PIN", kUserPin, 1);

  CliResult d = RunCli("decrypt --card" + module_ + " -o " + dir() + "/out " + dir() + "/s.cvb");
  ASSERT_EQ(d.code, 0) << d.output;
  EXPECT_EQ(ReadAll(dir() + "/out"), "api-token=hunter2\n");
  std::string commands = ReadAll(log);
  EXPECT_NE(commands.find("SETDESC cardvault needs the PIN of the card \"My card\" (serial "),
            std::string::npos)
      << commands;
  EXPECT_EQ(Count(commands, "GETPIN"), 1) << commands;
  EXPECT_NE(commands.find("%0A%0AWarning: a wrong PIN was entered before.\n"), std::string::npos)
      << commands;

  setenv("FAKE_PINENTRY_MODE", "cancel", 1);
  CliResult cancelled =
      RunCli("decrypt --card" + module_ + " -o " + dir() + "/out2 " + dir() + "/s.cvb");
  EXPECT_EQ(cancelled.code, 1);
  EXPECT_NE(cancelled.output.find("pin_cancelled"), std::string::npos) << cancelled.output;
  EXPECT_FALSE(std::filesystem::exists(dir() + "/out2"));

  setenv("PINENTRY_PROGRAM", (dir() + "/no-pinentry-here").c_str(), 1);
  CliResult missing =
      RunCli("decrypt --card" + module_ + " -o " + dir() + "/out2 " + dir() + "/s.cvb");
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.output.find("pinentry_missing"), std::string::npos) << missing.output;
  EXPECT_NE(missing.output.find("--pin-file"), std::string::npos) << missing.output;
}

// Reads the pty `fd` into `*screen` until `want` shows up, the child closes it, or 20 s pass.
bool ReadUntil(int fd, const std::string& want, std::string* screen) {
  for (int waited_ms = 0; waited_ms < 20000;) {
    if (!want.empty() && screen->find(want) != std::string::npos) return true;
    pollfd p{fd, POLLIN, 0};
    int r = poll(&p, 1, 100);
    if (r == 0) {
      waited_ms += 100;
      continue;
    }
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) return want.empty();  // EIO once the child side is closed
    screen->append(buf, static_cast<size_t>(n));
  }
  return false;
}

// On a terminal cardvault tells the pinentry which one (OPTION ttyname / ttytype).
TEST_F(CardCliTest, TellsThePinentryTheTerminal) {
  std::string recipient = InitCardWithKey("My card");
  ASSERT_EQ(EncryptTo(recipient, dir() + "/s.cvb").code, 0);
  std::string out = dir() + "/out";
  std::string log = dir() + "/pinentry.log";
  int master = -1;
  pid_t pid = forkpty(&master, nullptr, nullptr, nullptr);
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    setenv("PINENTRY_PROGRAM", kFakePinentry.c_str(), 1);
    setenv("FAKE_PINENTRY_LOG", log.c_str(), 1);
    setenv("FAKE_PINENTRY_PIN", kUserPin, 1);
    setenv("TERM", "vt100", 1);
    std::string module = kSoftHsmModule;
    execl(kCli.c_str(), kCli.c_str(), "decrypt", "--card", "--module", module.c_str(), "-o",
          out.c_str(), (dir() + "/s.cvb").c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  std::string screen;
  ReadUntil(master, "", &screen);
  close(master);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << screen;
  EXPECT_EQ(WEXITSTATUS(status), 0) << screen;
  EXPECT_EQ(ReadAll(out), "api-token=hunter2\n");
  std::string commands = ReadAll(log);
  EXPECT_EQ(commands.rfind("OPTION ttyname=/dev/pts/", 0), 0u) << commands;
  EXPECT_NE(commands.find("\nOPTION ttytype=vt100\nSETTITLE cardvault\n"), std::string::npos)
      << commands;
}

// The real pinentry-curses on a terminal: cardvault passes it the terminal (OPTION ttyname)
// and the user types the PIN there.
TEST_F(CardCliTest, DecryptsWithPinentryCursesOnATerminal) {
  if (access("/usr/bin/pinentry-curses", X_OK) != 0) {
    GTEST_SKIP() << "needs the Debian package pinentry-curses";
  }
  std::string recipient = InitCardWithKey("My card");
  ASSERT_EQ(EncryptTo(recipient, dir() + "/s.cvb").code, 0);
  std::string out = dir() + "/out";
  int master = -1;
  winsize size{24, 80, 0, 0};
  pid_t pid = forkpty(&master, nullptr, nullptr, &size);
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    setenv("PINENTRY_PROGRAM", "/usr/bin/pinentry-curses", 1);
    setenv("TERM", "xterm", 1);
    std::string module = kSoftHsmModule;
    execl(kCli.c_str(), kCli.c_str(), "decrypt", "--card", "--module", module.c_str(), "-o",
          out.c_str(), (dir() + "/s.cvb").c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  std::string screen;
  bool prompted = ReadUntil(master, "PIN:", &screen);
  EXPECT_TRUE(prompted) << screen;
  EXPECT_NE(screen.find("My card"), std::string::npos) << screen;
  if (prompted) {
    std::string typed = std::string(kUserPin) + "\r";
    ASSERT_EQ(write(master, typed.data(), typed.size()), static_cast<ssize_t>(typed.size()));
  }
  ReadUntil(master, "", &screen);
  close(master);
  int status = 0;
  if (!prompted) kill(pid, SIGKILL);
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << screen;
  EXPECT_EQ(WEXITSTATUS(status), 0) << screen;
  EXPECT_EQ(ReadAll(out), "api-token=hunter2\n");
  EXPECT_EQ(screen.find(kUserPin), std::string::npos) << "the PIN was echoed: " << screen;
}

TEST_F(CardCliTest, RecipientsAddListRemove) {
  std::string card = InitCardWithKey("My card");
  CliResult k = RunCli("keygen -o " + dir() + "/id.key", /*with_stderr=*/false);
  ASSERT_EQ(k.code, 0);
  std::string soft = FirstLine(k.output);
  std::string config = dir() + "/config.json";
  std::ofstream(config) << R"({
  "vault_dir": "/home/ann/secrets",
  "server_url": "https://vault.example.com:8443",
  "token_file": "/home/ann/.config/cardvault/device.token",
  "server_ca_file": "/home/ann/.config/cardvault/ca.pem",
  "recipients": [")" << soft
                        << R"("]
})";
  const std::string flag = " --config " + config;

  CliResult list = RunCli("recipients list" + flag, /*with_stderr=*/false);
  ASSERT_EQ(list.code, 0) << list.output;
  EXPECT_EQ(list.output, soft + "\n");

  CliResult add = RunCli("recipients add" + flag + " " + card);
  ASSERT_EQ(add.code, 0) << add.output;
  EXPECT_NE(add.output.find("card P-256"), std::string::npos) << add.output;
  setenv("CARDVAULT_CONFIG", config.c_str(), 1);  // the environment names it too
  EXPECT_EQ(RunCli("recipients list", false).output, soft + "\n" + card + "\n");
  EXPECT_EQ(RunCli("recipients add " + card).code, 0) << "adding twice is a no-op";
  EXPECT_EQ(RunCli("recipients list", false).output, soft + "\n" + card + "\n");

  std::string before = ReadAll(config);
  CliResult invalid = RunCli("recipients add cv-p11-3059zz");
  EXPECT_EQ(invalid.code, 1);
  EXPECT_NE(invalid.output.find("recipient_invalid"), std::string::npos) << invalid.output;
  EXPECT_EQ(RunCli("recipients remove cv-x25519-" + std::string(64, '0')).code, 1);
  EXPECT_EQ(ReadAll(config), before);

  CliResult remove = RunCli("recipients remove " + soft);
  ASSERT_EQ(remove.code, 0) << remove.output;
  EXPECT_EQ(RunCli("recipients list", false).output, card + "\n");
  CliResult last = RunCli("recipients remove " + card);
  EXPECT_EQ(last.code, 1);
  EXPECT_NE(last.output.find("last_recipient"), std::string::npos) << last.output;
  EXPECT_EQ(RunCli("recipients list", false).output, card + "\n");

  // Other settings survive, and the file stays private.
  std::string text = ReadAll(config);
  EXPECT_NE(text.find("\"server_ca_file\": \"/home/ann/.config/cardvault/ca.pem\""),
            std::string::npos)
      << text;
  EXPECT_EQ(std::filesystem::status(config).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

TEST_F(CardCliTest, HelpTeachesWithExamples) {
  for (const char* command :
       {"card --help", "card list --help", "card init --help", "decrypt --help", "encrypt --help",
        "recipients --help", "recipients add --help"}) {
    CliResult help = RunCli(command);
    EXPECT_EQ(help.code, 0) << command;
    EXPECT_NE(help.output.find("Example"), std::string::npos) << command << help.output;
  }
  CliResult neither = RunCli("decrypt -o " + dir() + "/out " + dir() + "/secret.txt");
  EXPECT_EQ(neither.code, 1);
  EXPECT_NE(neither.output.find("--card"), std::string::npos) << neither.output;
}

TEST_F(CardCliTest, MissingModuleSaysWhatToInstall) {
  CliResult list = RunCli("card list --module " + dir() + "/no-such-module.so");
  EXPECT_EQ(list.code, 1);
  EXPECT_NE(list.output.find("module_missing"), std::string::npos) << list.output;
  EXPECT_NE(list.output.find("opensc-pkcs11"), std::string::npos) << list.output;
}

}  // namespace
}  // namespace cardvault
