// Restore on another PC, end to end: PC A syncs to a real cardvault-server child process
// with SoftHSM2 cards as recipients; PC B (its own config, data and target directories, no
// agent config) restores with `cardvault restore` and a copy of A's token directory (the
// same card), a backup card, or another card.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "api/remote_store.h"
#include "storage/sqlite_db.h"
#include "tests/core/pkcs11/softhsm_test_base.h"
#include "tests/integration/process_util.h"
#include "tests/integration/server_process.h"
#include "tests/integration/soft_card.h"
#include "tests/integration/tcp_cut_proxy.h"

namespace cardvault {
namespace {

namespace fs = std::filesystem;
const std::string kBin = CARDVAULT_BINARY_DIR;
const std::string kCli = kBin + "/agent/cardvault";

class RestoreE2eTest : public SoftHsmTest {
 protected:
  void SetUp() override {
    SoftHsmTest::SetUp();
    unsetenv("CARDVAULT_PIN_FILE");
    setenv("PINENTRY_PROGRAM", (dir() + "/no-pinentry-here").c_str(), 1);
    pin_file_ = dir() + "/pin";
    std::ofstream(pin_file_) << kUserPin << "\n";
    ::chmod(pin_file_.c_str(), 0600);
    vault_ = dir() + "/a/vault";
    fs::create_directories(vault_);
    StartServerWithUser();
    // Card A lives in the fixture's token directory (SOFTHSM2_CONF of this process).
    card_a_conf_ = getenv("SOFTHSM2_CONF");
    recipient_a_ = InitCard(card_a_conf_, "Card A");
  }

  void TearDown() override {
    server_.reset();
    unsetenv("PINENTRY_PROGRAM");
    SoftHsmTest::TearDown();
  }

  void StartServerWithUser() {
    server_ = std::make_unique<ServerProcess>(dir());
    server_->Init();
    server_->Start();
  }

  // Initializes a token and a card key under `conf`; returns the cv-p11- recipient.
  std::string InitCard(const std::string& conf, const std::string& label) {
    const std::string saved = getenv("SOFTHSM2_CONF");
    setenv("SOFTHSM2_CONF", conf.c_str(), 1);
    InitToken(label);
    auto recipient = CreateCardKey(kCli, label, pin_file_);
    setenv("SOFTHSM2_CONF", saved.c_str(), 1);
    EXPECT_TRUE(recipient.ok()) << recipient.status().ToString();
    return recipient.ok() ? *recipient : std::string();
  }

  // PC A: its own XDG directories.
  CommandResult A(std::vector<std::string> args) {
    args.insert(args.begin(), kCli);
    return RunCommand(args, {{"XDG_CONFIG_HOME", dir() + "/a/config"},
                             {"XDG_DATA_HOME", dir() + "/a/data"},
                             {"XDG_RUNTIME_DIR", dir() + "/a/run"}});
  }

  void InitA(const std::vector<std::string>& recipients) {
    std::vector<std::string> args = {"init",
                                     "--vault",
                                     vault_,
                                     "--server",
                                     server_->url(),
                                     "--fingerprint",
                                     server_->fingerprint(),
                                     "--token-file",
                                     server_->token_file()};
    for (const std::string& r : recipients) {
      args.push_back("--recipient");
      args.push_back(r);
    }
    CommandResult r = A(args);
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }

  void SyncA() {
    CommandResult r = A({"sync", "--once"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }

  // PC B: no config at all; the card is the one under `card_conf`.
  CommandResult B(const std::string& card_conf, std::vector<std::string> args) {
    return RunCommand(BArgs(std::move(args), server_->url()), BEnv(card_conf));
  }
  std::vector<std::string> BArgs(std::vector<std::string> args, const std::string& url) {
    args.insert(args.begin(), kCli);
    for (const std::string& a :
         {std::string("--server"), url, std::string("--fingerprint"), server_->fingerprint(),
          std::string("--token-file"), server_->token_file(), std::string("--module"),
          std::string(kSoftHsmModule), std::string("--pin-file"), pin_file_}) {
      args.push_back(a);
    }
    return args;
  }
  EnvVars BEnv(const std::string& card_conf) {
    return {{"XDG_CONFIG_HOME", dir() + "/b/config"},
            {"XDG_DATA_HOME", dir() + "/b/data"},
            {"SOFTHSM2_CONF", card_conf}};
  }

  // PC B's agent commands (its own XDG directories; no extra flags).
  CommandResult BAgent(const std::string& card_conf, std::vector<std::string> args) {
    args.insert(args.begin(), kCli);
    return RunCommand(args, {{"XDG_CONFIG_HOME", dir() + "/b/config"},
                             {"XDG_DATA_HOME", dir() + "/b/data"},
                             {"XDG_RUNTIME_DIR", dir() + "/b/run"},
                             {"SOFTHSM2_CONF", card_conf}});
  }

  size_t BlobsOnServer() {
    auto c = server_->Client();
    ListOptions lo;
    lo.kind = ObjectKind::kBlob;
    size_t n = 0;
    while (true) {
      ListPage page = c->List(lo).value();
      n += page.objects.size();
      if (!page.truncated) break;
      lo.after = page.objects.back().id;
    }
    return n;
  }

  // "The same card" on PC B: a copy of A's token directory.
  std::string CopyOfCardA() {
    const std::string b = dir() + "/b/card";
    fs::create_directories(b);
    const std::string conf = WriteSoftHsmConf(b);
    fs::copy(token_dir(), b + "/tokens", fs::copy_options::recursive);
    return conf;
  }

  void Write(const std::string& rel, const std::string& content, int mode = 0600,
             int64_t mtime_s = 0) {
    const std::string path = vault_ + "/" + rel;
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
    ::chmod(path.c_str(), static_cast<mode_t>(mode));
    if (mtime_s != 0) {
      struct timespec times[2] = {{mtime_s, 5000}, {mtime_s, 5000}};
      ::utimensat(AT_FDCWD, path.c_str(), times, 0);
    }
  }

  // The server's file of the one blob of a 1 MiB file (a 1 MiB blob and its header).
  std::string BlobFileOfOneMib() {
    std::string found;
    for (const auto& e : fs::recursive_directory_iterator(server_->data_dir() + "/blobs")) {
      if (e.is_regular_file() && e.file_size() > (1 << 20) && e.file_size() < (1 << 20) + 65536) {
        found = e.path().string();
      }
    }
    return found;
  }

  static nlohmann::json Json(const CommandResult& r) {
    const size_t start = r.output.find('{');
    const size_t end = r.output.rfind('}');
    if (start == std::string::npos || end == std::string::npos) return {};
    return nlohmann::json::parse(r.output.substr(start, end - start + 1), nullptr, false);
  }

  std::string vault_, pin_file_, card_a_conf_, recipient_a_;
  std::unique_ptr<ServerProcess> server_;
};

// Every regular file under `root` (relative path -> content, mode, mtime).
struct Entry {
  std::string content;
  uint32_t mode;
  int64_t mtime_ns;
  bool operator==(const Entry&) const = default;
};
std::map<std::string, Entry> Tree(const std::string& root) {
  std::map<std::string, Entry> out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (!e.is_regular_file() && !e.is_directory()) continue;
    struct stat st;
    ::lstat(e.path().c_str(), &st);
    out[fs::relative(e.path(), root).string()] = {
        e.is_directory() ? "(a directory)" : ReadText(e.path().string()), st.st_mode & 07777u,
        static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
  }
  return out;
}

TEST_F(RestoreE2eTest, NewPcRestoresWithTheSameCardOrTheBackupButNotAnotherCard) {
  const std::string backup_conf = WriteSoftHsmConf(dir() + "/backup");
  const std::string backup = InitCard(backup_conf, "Backup");
  InitA({recipient_a_, backup});
  std::string big(10 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 131) >> 7);
  Write("docs/deep/nested/notes.txt", "nested\n", 0644, 1700000000);
  Write("empty", "", 0600, 1700000001);
  Write("big.bin", big, 0600, 1700000002);
  Write("with space/my key (old).pem", "-----BEGIN-----", 0600, 1700000003);
  Write("ünïcødé/日本語.txt", "héllo", 0644, 1700000004);
  Write("bin/run.sh", "#!/bin/sh\n", 0755, 1700000005);
  fs::create_directory(vault_ + "/empty dir");
  ::chmod((vault_ + "/empty dir").c_str(), 0750);
  ::chmod((vault_ + "/bin").c_str(), 0711);
  ::chmod((vault_ + "/docs").c_str(), 0755);
  SyncA();
  const auto original = Tree(vault_);
  ASSERT_EQ(original.size(), 13u) << "6 files and 7 directories";
  EXPECT_EQ(original.at("bin").mode, 0711u);

  // Another card: the wrong-card error, naming the expected key ids; nothing written.
  const std::string other_conf = WriteSoftHsmConf(dir() + "/other");
  InitCard(other_conf, "Other");
  const std::string wrong_target = dir() + "/b/wrong";
  CommandResult wrong = B(other_conf, {"restore", "--target", wrong_target});
  EXPECT_EQ(wrong.exit_code, 1) << wrong.output;
  EXPECT_NE(wrong.output.find("this card holds none of the keys of this vault"), std::string::npos)
      << wrong.output;
  EXPECT_NE(wrong.output.find("key id "), std::string::npos) << wrong.output;
  EXPECT_FALSE(fs::exists(wrong_target));

  // The same card (a copy of A's token): byte-identical tree, modes and mtimes.
  const std::string target = dir() + "/b/restored";
  CommandResult r = B(CopyOfCardA(), {"restore", "--target", target, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  nlohmann::json j = Json(r);
  EXPECT_EQ(j.value("restored", -1), 6) << r.output;
  EXPECT_EQ(j.value("directories", -1), 7) << r.output;
  EXPECT_EQ(j.value("card_operations", -1), 1) << r.output;
  EXPECT_EQ(j.value("epochs", -1), 1) << r.output;
  EXPECT_EQ(Tree(target), original);

  // The backup card alone.
  const std::string backup_target = dir() + "/b/from-backup";
  r = B(backup_conf, {"restore", "--target", backup_target});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(Tree(backup_target), original);

  // ls shows decrypted names and sizes.
  r = B(backup_conf, {"ls"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("ünïcødé/日本語.txt"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("10485760"), std::string::npos) << r.output;
}

// Damages a blob file on the server's disk as a failing disk or a careless admin would.
void DamageFile(const std::string& path, const std::string& how) {
  if (how == "remove") {
    fs::remove(path);
  } else if (how == "cut") {
    fs::resize_file(path, fs::file_size(path) - 100);
  } else {  // "flip": a bit near the end (a v2 trailer, a v1 final chunk)
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    const std::streamoff at = static_cast<std::streamoff>(fs::file_size(path)) - 20;
    f.seekg(at);
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x01);
    f.seekp(at);
    f.write(&c, 1);
  }
}

// The newest version of a file damaged on the server's disk (v1 and v2; a flipped end, cut
// short by 100 bytes, removed) while an older version is there: restore names it by path
// (by object id when even its header is gone, and says so) and never places the older
// version in its stead; ls and versions show it; --allow-older restores the older one.
TEST_F(RestoreE2eTest, ADamagedNewestVersionOnTheServerIsNamedAndNeverReplaced) {
  InitA({recipient_a_});
  // Distinct sizes, so that each new blob file is told apart by its size.
  struct Case {
    std::string path;
    size_t size;
    std::string damage;
  };
  const std::vector<Case> cases = {{"v1flip.bin", 1000000, "flip"},
                                   {"v1cut.bin", 1100000, "cut"},
                                   {"v1gone.bin", 1200000, "remove"},
                                   {"v2flip.bin", 9000000, "flip"},
                                   {"v2cut.bin", 9500000, "cut"}};
  for (const Case& c : cases) Write(c.path, std::string(c.size, 'o'), 0600, 1700000000);
  SyncA();
  std::set<std::string> before;
  for (const auto& e : fs::recursive_directory_iterator(server_->data_dir() + "/blobs")) {
    if (e.is_regular_file()) before.insert(e.path().string());
  }
  for (const Case& c : cases) Write(c.path, std::string(c.size, 'n'), 0600, 1700000100);
  SyncA();
  std::vector<std::pair<uintmax_t, std::string>> fresh;
  for (const auto& e : fs::recursive_directory_iterator(server_->data_dir() + "/blobs")) {
    if (e.is_regular_file() && before.count(e.path().string()) == 0) {
      fresh.emplace_back(e.file_size(), e.path().string());
    }
  }
  ASSERT_EQ(fresh.size(), cases.size());
  std::sort(fresh.begin(), fresh.end());
  for (size_t i = 0; i < cases.size(); ++i) DamageFile(fresh[i].second, cases[i].damage);

  const std::string card = CopyOfCardA();
  const std::string target = dir() + "/b/restored";
  CommandResult r = B(card, {"restore", "--target", target, "--json"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  nlohmann::json j = Json(r);
  // The removed file's header is gone with it: that object cannot be named, so the older
  // version of its path is the only one known and is restored, with a warning.
  EXPECT_EQ(j.value("restored", -1), 1) << r.output;
  EXPECT_NE(r.output.find("could not be named"), std::string::npos) << r.output;
  std::set<std::string> damaged_paths;
  int unnamed = 0;
  for (const auto& d : j["damaged"]) {
    const std::string path = d.value("path", "");
    if (path.empty()) {
      ++unnamed;
      EXPECT_EQ(d.value("reason", ""), "object_damaged") << r.output;
    } else {
      damaged_paths.insert(path);
    }
  }
  EXPECT_EQ(damaged_paths,
            (std::set<std::string>{"v1cut.bin", "v1flip.bin", "v2cut.bin", "v2flip.bin"}))
      << r.output;
  EXPECT_EQ(unnamed, 1) << "the removed file's header is gone: named by id" << r.output;
  EXPECT_NE(r.output.find("its path cannot be read"), std::string::npos) << r.output;
  for (const Case& c : cases) {
    if (c.damage != "remove") {
      EXPECT_FALSE(fs::exists(target + "/" + c.path))
          << c.path << ": no older content in its stead";
    }
  }
  EXPECT_FALSE(fs::exists(target + "/.cardvault-restore")) << "no .partial left for them";
  EXPECT_NE(r.output.find("--allow-older"), std::string::npos) << r.output;

  // ls and versions show the damaged version with the older one.
  CommandResult ls = B(card, {"ls"});
  EXPECT_EQ(ls.exit_code, 1) << ls.output;
  EXPECT_NE(ls.output.find("(DAMAGED)"), std::string::npos) << ls.output;
  CommandResult versions = B(card, {"versions", "v2cut.bin"});
  EXPECT_EQ(versions.exit_code, 1) << versions.output;
  EXPECT_NE(versions.output.find("DAMAGED"), std::string::npos) << versions.output;
  EXPECT_NE(versions.output.find("9500000 bytes"), std::string::npos) << versions.output;

  // Asked for: the newest intact versions (v1flip.bin's damage shows only while it is
  // downloaded: the older one follows then).
  r = B(card, {"restore", "--target", target, "--allow-older", "--json"});
  j = Json(r);
  EXPECT_EQ(j.value("restored", -1), 4) << r.output;
  EXPECT_EQ(j.value("identical", -1), 1) << r.output;
  for (const Case& c : cases) {
    EXPECT_TRUE(ReadText(target + "/" + c.path) == std::string(c.size, 'o')) << c.path;
  }
}

TEST_F(RestoreE2eTest, TamperedObjectIsSkippedAndARerunResumes) {
  InitA({recipient_a_});
  Write("victim.bin", std::string(1 << 20, 'v'));
  for (int i = 0; i < 5; ++i) Write("f" + std::to_string(i), "file " + std::to_string(i));
  SyncA();
  // Flip a byte in the middle of the victim's blob on the server's disk.
  const std::string victim_blob = BlobFileOfOneMib();
  ASSERT_FALSE(victim_blob.empty());
  {
    std::fstream f(victim_blob, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(1 << 19);
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x40);
    f.seekp(1 << 19);
    f.write(&c, 1);
  }
  const std::string card = CopyOfCardA();
  const std::string target = dir() + "/b/restored";
  fs::create_directories(target);
  std::ofstream(target + "/f1") << "a different local file";
  std::ofstream(target + "/f2") << "file 2";  // already restored (identical)
  CommandResult r = B(card, {"restore", "--target", target, "--json"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("DAMAGED victim.bin"), std::string::npos) << r.output;
  nlohmann::json j = Json(r);
  EXPECT_EQ(j.value("restored", -1), 4) << r.output;  // f0 f3 f4 and f1's copy
  EXPECT_EQ(j.value("identical", -1), 1) << r.output;
  EXPECT_EQ(j.value("failed", -1), 1) << r.output;
  EXPECT_FALSE(fs::exists(target + "/victim.bin"));
  EXPECT_EQ(ReadText(target + "/f1"), "a different local file");
  ASSERT_EQ(j["renamed"].size(), 1u) << r.output;
  const std::string copy = j["renamed"][0].value("written", "");
  EXPECT_EQ(copy.rfind("f1 (restored 20", 0), 0u) << copy;
  EXPECT_EQ(ReadText(target + "/" + copy), "file 1");
  EXPECT_EQ(ReadText(target + "/f0"), "file 0");

  // A rerun downloads nothing already restored; it only retries the damaged object.
  fs::remove(target + "/f3");
  r = B(card, {"restore", "--target", target, "--json"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  j = Json(r);
  EXPECT_EQ(j.value("restored", -1), 1) << r.output;
  EXPECT_EQ(j.value("identical", -1), 4) << r.output;  // f0 f2 f4 and f1's restored copy
  EXPECT_EQ(j.value("bytes_downloaded", -1), static_cast<int>(fs::file_size(victim_blob)))
      << r.output;  // only the damaged object, fetched again
  EXPECT_EQ(ReadText(target + "/f3"), "file 3");
}

TEST_F(RestoreE2eTest, PointInTimeOneVersionAndDeletedFiles) {
  InitA({recipient_a_});
  Write("doc.txt", "first draft", 0600, 1700000000);
  Write("old.txt", "soon deleted", 0600, 1700000000);
  SyncA();
  // A second after the first sync, before the second: what --at asks for.
  const int64_t between = ::time(nullptr) + 1;
  while (::time(nullptr) <= between) ::usleep(50000);
  // An older copy put back with its old mtime (cp -p): the newest version all the same,
  // since versions are ordered by when the agent recorded them, not by their mtimes.
  Write("doc.txt", "final", 0600, 1600000000);
  fs::remove(vault_ + "/old.txt");
  SyncA();
  const std::string card = CopyOfCardA();

  CommandResult r = B(card, {"restore", "--target", dir() + "/b/now"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(ReadText(dir() + "/b/now/doc.txt"), "final");
  EXPECT_FALSE(fs::exists(dir() + "/b/now/old.txt"));

  r = B(card, {"restore", "--target", dir() + "/b/then", "--at", "@" + std::to_string(between)});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(ReadText(dir() + "/b/then/doc.txt"), "first draft");
  EXPECT_EQ(ReadText(dir() + "/b/then/old.txt"), "soon deleted");

  r = B(card, {"restore", "--target", dir() + "/b/deleted", "--deleted", "old.txt"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(ReadText(dir() + "/b/deleted/old.txt"), "soon deleted");
  EXPECT_FALSE(fs::exists(dir() + "/b/deleted/doc.txt"));

  r = B(card, {"versions", "doc.txt"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const size_t nl = r.output.find("11 bytes");  // the first draft's line
  ASSERT_NE(nl, std::string::npos) << r.output;
  const size_t line = r.output.rfind('\n', nl);
  const std::string id = r.output.substr(line == std::string::npos ? 0 : line + 1, 16);
  r = B(card, {"restore", "--target", dir() + "/b/v1", "--version", id});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(ReadText(dir() + "/b/v1/doc.txt"), "first draft");

  r = B(card, {"ls", "--deleted", "--versions"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("(deleted)"), std::string::npos) << r.output;
}

TEST_F(RestoreE2eTest, ThousandFilesOverTwoEpochsTakeTwoCardOperations) {
  InitA({recipient_a_});
  for (int i = 0; i < 500; ++i) Write("one/" + std::to_string(i), "first " + std::to_string(i));
  SyncA();
  // Changing the recipients starts a new epoch.
  const std::string backup = InitCard(WriteSoftHsmConf(dir() + "/backup"), "Backup");
  ASSERT_EQ(A({"recipients", "add", backup}).exit_code, 0);
  for (int i = 0; i < 500; ++i) Write("two/" + std::to_string(i), "second " + std::to_string(i));
  SyncA();
  CommandResult r = B(CopyOfCardA(), {"restore", "--target", dir() + "/b/all", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  nlohmann::json j = Json(r);
  EXPECT_EQ(j.value("restored", -1), 1000) << r.output;
  EXPECT_EQ(j.value("epochs", -1), 2) << r.output;
  EXPECT_EQ(j.value("card_operations", -1), 2) << r.output;
  EXPECT_EQ(ReadText(dir() + "/b/all/two/499"), "second 499");
  std::cerr << "restore of 1000 files: " << j.value("files_per_second", 0.0) << " files/s\n";
}

TEST_F(RestoreE2eTest, AdoptedRestoreSyncsWithoutUploadingAgain) {
  InitA({recipient_a_});
  Write("a.txt", "alpha", 0600, 1700000000);
  Write("dir/b.txt", "beta", 0644, 1700000000);
  Write("c.txt", "gamma", 0600, 1700000000);
  SyncA();
  const size_t before = BlobsOnServer();
  ASSERT_EQ(before, 4u) << "3 files and a directory";
  const std::string card = CopyOfCardA();
  const std::string vault_b = dir() + "/b/vault";
  CommandResult r = B(card, {"restore", "--target", vault_b});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ofstream(vault_b + "/c.txt") << "changed on B";
  r = BAgent(card, {"init", "--vault", vault_b, "--server", server_->url(), "--fingerprint",
                    server_->fingerprint(), "--token-file", server_->token_file(), "--recipient",
                    recipient_a_});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = BAgent(card, {"adopt", "--module", kSoftHsmModule, "--pin-file", pin_file_});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("adopted 2 files"), std::string::npos) << r.output;
  r = BAgent(card, {"sync", "--once"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(BlobsOnServer(), before + 1);  // only the file changed on B (the directory too
                                           // was adopted)
}

TEST_F(RestoreE2eTest, KilledRestoreResumesTheDownloadWithRange) {
  InitA({recipient_a_});
  std::string big(10 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 7919) >> 9);
  Write("big.bin", big);
  Write("small.txt", "small");
  SyncA();
  const std::string card = CopyOfCardA();
  const std::string target = dir() + "/b/restored";
  {
    // The download stalls after 8 MB (TLS bytes) of the server's answers; once 4,000,000
    // plaintext bytes are in the staging file, the restore is killed.
    TcpCutProxy proxy(server_->port(), 8'000'000);
    ChildProcess killed(BArgs({"restore", "--target", target, "--json"},
                              "https://127.0.0.1:" + std::to_string(proxy.port())),
                        BEnv(card), dir() + "/killed-restore.log");
    const std::string staging = target + "/.cardvault-restore";
    ASSERT_TRUE(WaitFor(
        [&] {
          std::error_code ec;
          for (const auto& e : fs::directory_iterator(staging, ec)) {
            if (e.file_size(ec) >= 4'000'000) return true;
          }
          return false;
        },
        30000))
        << ReadText(dir() + "/killed-restore.log");
    ASSERT_TRUE(proxy.holding());
    killed.Signal(SIGKILL);
    ASSERT_EQ(killed.Wait(10000), 128 + SIGKILL);
  }
  EXPECT_FALSE(fs::exists(target + "/big.bin"));  // never a partial plaintext
  CommandResult r = B(card, {"restore", "--target", target, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  nlohmann::json j = Json(r);
  const int64_t downloaded = j.value("bytes_downloaded", int64_t{-1});
  EXPECT_GT(downloaded, 0) << r.output;
  EXPECT_LE(downloaded, int64_t{(10 << 20) + 65536 - 4000000}) << r.output;
  EXPECT_EQ(ReadText(target + "/big.bin"), big);
  EXPECT_EQ(ReadText(target + "/small.txt"), "small");
  EXPECT_FALSE(fs::exists(target + "/.cardvault-restore"));
}

TEST_F(RestoreE2eTest, WrongPinFailsOnceAndWritesNothing) {
  InitA({recipient_a_});
  Write("a.txt", "alpha");
  SyncA();
  std::ofstream(pin_file_, std::ios::trunc) << "999999\n";
  const std::string target = dir() + "/b/restored";
  CommandResult r = B(CopyOfCardA(), {"restore", "--target", target});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("pin_incorrect"), std::string::npos) << r.output;
  // SoftHSM2 raises "count low" after a wrong PIN; the message passes it on.
  EXPECT_NE(r.output.find("card \"Card A\": few PIN tries left"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(target));
}

// A blob cut short on the server's disk: the server answers object_damaged (410) instead of
// serving it as whole, the restore asks for it without retrying, reports it and leaves no
// partial download behind; the other files are restored.
TEST_F(RestoreE2eTest, ObjectCutShortOnTheServerFailsOnceWithoutPartial) {
  InitA({recipient_a_});
  Write("victim.bin", std::string(1 << 20, 'v'));
  for (int i = 0; i < 3; ++i) Write("f" + std::to_string(i), "file " + std::to_string(i));
  SyncA();
  const std::string victim_blob = BlobFileOfOneMib();
  ASSERT_FALSE(victim_blob.empty());
  std::string victim_id;
  {
    auto db = SqliteDb::Open(server_->data_dir() + "/index.db").value();
    Statement stmt = db->Prepare("SELECT id FROM objects WHERE file = ?1").value();
    ASSERT_TRUE(stmt.BindText(1, fs::path(victim_blob).filename().string()).ok());
    ASSERT_TRUE(stmt.Step().value());
    victim_id = stmt.ColumnText(0);
  }
  server_->process().Signal(SIGTERM);
  ASSERT_EQ(server_->process().Wait(15000), 0);
  fs::resize_file(victim_blob, fs::file_size(victim_blob) - 100);
  server_->SetAccessLog(true);  // to count the requests for the victim
  server_->Start();

  const std::string target = dir() + "/b/restored";
  CommandResult r = B(CopyOfCardA(), {"restore", "--target", target});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("damaged on the server"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("request failed"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(target + "/victim.bin"));
  EXPECT_EQ(ReadText(target + "/f0"), "file 0");
  EXPECT_EQ(ReadText(target + "/f2"), "file 2");
  if (fs::exists(target + "/.cardvault-restore")) {
    for (const auto& e : fs::recursive_directory_iterator(target + "/.cardvault-restore")) {
      ADD_FAILURE() << "left behind: " << e.path();
    }
  }
  // Access lines read "access ADDR METHOD PATH STATUS user=... TIMEms": the victim was
  // asked for once (410) and never retried; then its header alone, by a bounded range that
  // the server serves from what is left (206), to name it.
  EXPECT_NE(r.output.find("DAMAGED victim.bin"), std::string::npos) << r.output;
  std::istringstream log(ReadText(server_->log_file()));
  std::vector<std::string> answers;
  for (std::string line; std::getline(log, line);) {
    if (line.find("/v1/objects/" + victim_id) == std::string::npos) continue;
    answers.push_back(line.find(" 410 user=alice") != std::string::npos   ? "410"
                      : line.find(" 206 user=alice") != std::string::npos ? "206"
                                                                          : line);
  }
  EXPECT_EQ(answers, (std::vector<std::string>{"410", "206"})) << ReadText(server_->log_file());
}

}  // namespace
}  // namespace cardvault
