// Restorer against an in-memory server: version selection (latest, --at, --deleted, one
// version), path safety, conflicts, tampering, the wrong card, and one card operation per
// epoch.
#include "agent/restore/restorer.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>

#include "agent/card/card_identity_set.h"
#include "agent/sync/sync_engine.h"
#include "core/card/card_recipient.h"
#include "core/encryptor.h"
#include "core/fault_injection_env.h"
#include "core/key_epoch.h"
#include "core/memory_file.h"
#include "core/pkcs11/card_key_generator.h"
#include "core/pkcs11/pkcs11_backend.h"
#include "core/x25519_recipient.h"
#include "tests/core/pkcs11/softhsm_test_base.h"

namespace cardvault {
namespace {

namespace fs = std::filesystem;

// One user's objects in memory. Counts Get calls.
class MemoryClient final : public ObjectClient {
 public:
  struct Object {
    ObjectKind kind;
    Bytes data;
  };
  std::map<std::string, Object> objects;
  std::atomic<int> gets{0};

  StatusOr<ObjectInfo> Put(std::string_view, const PutOptions&, const SourceFactory&) override {
    return UnsupportedError("read-only");
  }
  StatusOr<ObjectInfo> Get(std::string_view id, const GetOptions& o,
                           const ByteSink& sink) override {
    ++gets;
    const uint64_t offset = o.offset;
    auto it = objects.find(std::string(id));
    if (it == objects.end()) return NotFoundError("no object");
    const Bytes& d = it->second.data;
    for (size_t at = offset; at < d.size(); at += 1000) {
      CV_RETURN_IF_ERROR(sink(ByteView(d).subspan(at, std::min<size_t>(1000, d.size() - at))));
    }
    return Info(it->first, it->second);
  }
  StatusOr<ObjectInfo> Head(std::string_view id) override {
    auto it = objects.find(std::string(id));
    if (it == objects.end()) return NotFoundError("no object");
    return Info(it->first, it->second);
  }
  Status Delete(std::string_view id) override {
    objects.erase(std::string(id));
    return Status::Ok();
  }
  StatusOr<ListPage> List(const ListOptions& o) override {
    ListPage page;
    for (auto it = objects.upper_bound(o.after); it != objects.end(); ++it) {
      if (o.kind.has_value() && it->second.kind != *o.kind) continue;
      if (page.objects.size() == std::min<size_t>(o.limit, 7)) {  // small pages: paginate
        page.truncated = true;
        break;
      }
      page.objects.push_back(Info(it->first, it->second));
    }
    return page;
  }
  StatusOr<std::string> WhoAmI() override { return std::string("alice"); }

 private:
  static ObjectInfo Info(const std::string& id, const Object& o) {
    ObjectInfo info;
    info.id = id;
    info.kind = o.kind;
    info.size = o.data.size();
    info.sha256 = HexEncode(Sha256(o.data));
    return info;
  }
};

// Counts the private-key operations of a software "card".
class CountingIdentity final : public Identity {
 public:
  explicit CountingIdentity(X25519Identity id) : id_(std::move(id)) {}
  StatusOr<SecretData> Unwrap(std::span<const Stanza> stanzas) override {
    for (const Stanza& s : stanzas) {
      if (s.key_id == id_.recipient().key_id()) ++operations;
    }
    return id_.Unwrap(stanzas);
  }
  X25519Recipient recipient() const { return id_.recipient(); }
  int operations = 0;

 private:
  X25519Identity id_;
};

std::string ReadText(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), {});
}

constexpr int64_t kSecond = 1'000'000'000;

// TARGET/a swapped for a symlink to `outside`, as someone who can write into the target
// could do during a restore; the real directory stays as TARGET/a-moved.
void SwapForSymlink(const std::string& target, const std::string& outside) {
  fs::rename(target + "/a", target + "/a-moved");
  fs::create_directory_symlink(outside, target + "/a");
}
void SwapBack(const std::string& target) {
  fs::remove(target + "/a");
  fs::rename(target + "/a-moved", target + "/a");
}

class RestorerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cv-restorer-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    target_ = dir_ + "/target";
    NewEpoch();
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Starts an epoch wrapped to the card (and `extra`).
  void NewEpoch(Recipient* extra = nullptr) {
    X25519Recipient card = card_.recipient();
    std::vector<Recipient*> rs = {&card};
    if (extra != nullptr) rs.push_back(extra);
    cardvault::NewEpoch e = CreateEpoch(rs, 1).value();
    epoch_ = std::make_unique<X25519Recipient>(e.recipient);
    client_.objects[KeyObjectId(e.recipient)] = {ObjectKind::kKey, e.key_object};
  }

  // Uploads a version; returns its object id.
  std::string Put(const std::string& path, const std::string& content, int64_t mtime_s,
                  uint32_t mode = 0600, format::Kind kind = format::Kind::kFile,
                  uint16_t version = format::kVersion1,
                  std::optional<int64_t> recorded_s = std::nullopt) {
    format::Metadata m;
    m.kind = kind;
    if (recorded_s) m.recorded_ns = *recorded_s * kSecond;
    m.path = path;
    m.mtime_ns = mtime_s * kSecond + 123;
    m.mode = mode;
    m.size = content.size();
    Bytes plain(content.begin(), content.end());
    MemorySequentialFile src(plain);
    Bytes blob;
    MemoryWritableFile sink(&blob);
    Recipient* rs[] = {epoch_.get()};
    EncryptOptions opts;
    opts.version = version;
    EXPECT_TRUE(EncryptStream(src, sink, rs, m, opts).ok());
    char id[65];
    std::snprintf(id, sizeof id, "%064x", ++next_id_);
    client_.objects[id] = {ObjectKind::kBlob, blob};
    return id;
  }

  StatusOr<RestoreSummary> Run(RestoreOptions o = {}, Env* env = Env::Default()) {
    restorer_ = std::make_unique<Restorer>(&client_, &card_, env);
    CV_RETURN_IF_ERROR(restorer_->Load());
    if (o.target_dir.empty()) o.target_dir = target_;
    return restorer_->Restore(o);
  }

  std::string dir_, target_;
  MemoryClient client_;
  CountingIdentity card_{X25519Identity::Generate().value()};
  std::unique_ptr<X25519Recipient> epoch_;
  std::unique_ptr<Restorer> restorer_;
  unsigned next_id_ = 0;
};

TEST_F(RestorerTest, RestoresTheLatestLiveVersionWithModeAndMtime) {
  Put("a/b/c.txt", "old", 100);
  Put("a/b/c.txt", "new", 200, 0755);
  Put("gone", "x", 100);
  Put("gone", "", 150, 0, format::Kind::kDeletion);
  Put("empty", "", 100, 0644);
  auto s = Run();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->restored, 2u);
  EXPECT_TRUE(s->failures.empty());
  EXPECT_EQ(ReadText(target_ + "/a/b/c.txt"), "new");
  EXPECT_FALSE(fs::exists(target_ + "/gone"));
  EXPECT_TRUE(fs::exists(target_ + "/empty"));
  struct stat st;
  ASSERT_EQ(::stat((target_ + "/a/b/c.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  EXPECT_EQ(st.st_mtim.tv_sec, 200);
  EXPECT_EQ(st.st_mtim.tv_nsec, 123);
  EXPECT_FALSE(fs::exists(target_ + "/.cardvault-restore"));
  EXPECT_EQ(restorer_->history().at("a/b/c.txt").size(), 2u);
}

// Directory records: an empty one is rebuilt; each gets its mode and mtime after the files
// (a directory without write permission still receives its files); the recorded parents of
// the files a glob chose come along; a deleted one is not rebuilt; --skip-existing leaves a
// local directory as it is; a kind from a later version is skipped, not failed.
TEST_F(RestorerTest, DirectoriesAreRebuiltWithTheirModes) {
  Put("a", "", 100, 0755, format::Kind::kDirectory);
  Put("a/locked", "", 110, 0555, format::Kind::kDirectory);
  Put("a/locked/f", "in a read-only directory", 120, 0644);
  Put("a/empty", "", 130, 0750, format::Kind::kDirectory);
  Put("old", "", 100, 0700, format::Kind::kDirectory);
  Put("old", "", 200, 0, format::Kind::kDeletion);
  Put("later", "from a later version", 100, 0600, static_cast<format::Kind>(200));
  auto s = Run();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_TRUE(s->failures.empty()) << s->failures[0].status.ToString();
  EXPECT_EQ(s->restored, 1u);
  EXPECT_EQ(s->directories, 3u);
  EXPECT_EQ(restorer_->unknown_kinds(), 1u);
  EXPECT_EQ(ReadText(target_ + "/a/locked/f"), "in a read-only directory");
  auto stat_of = [](const std::string& path) {
    struct stat st = {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st;
  };
  EXPECT_EQ(stat_of(target_ + "/a").st_mode & 07777, 0755u);
  EXPECT_EQ(stat_of(target_ + "/a/locked").st_mode & 07777, 0555u);
  EXPECT_EQ(stat_of(target_ + "/a/empty").st_mode & 07777, 0750u);
  EXPECT_EQ(stat_of(target_ + "/a").st_mtim.tv_sec, 100) << "set after its children";
  EXPECT_EQ(stat_of(target_ + "/a/empty").st_mtim.tv_sec, 130);
  EXPECT_FALSE(fs::exists(target_ + "/old"));
  EXPECT_FALSE(fs::exists(target_ + "/later"));

  // A glob that picks a file brings its recorded directories, not their siblings.
  RestoreOptions one;
  one.target_dir = dir_ + "/glob";
  one.globs = {"a/locked/*"};
  s = Run(one);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->restored, 1u);
  EXPECT_EQ(s->directories, 2u);
  EXPECT_EQ(stat_of(one.target_dir + "/a/locked").st_mode & 07777, 0555u);
  EXPECT_FALSE(fs::exists(one.target_dir + "/a/empty"));

  // --skip-existing leaves a local directory's mode; the default sets the recorded one.
  ::chmod((target_ + "/a/empty").c_str(), 0700);
  RestoreOptions skip;
  skip.conflict = ConflictPolicy::kSkip;
  ASSERT_TRUE(Run(skip).ok());
  EXPECT_EQ(stat_of(target_ + "/a/empty").st_mode & 07777, 0700u);
  s = Run();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->identical, 1u);
  EXPECT_EQ(stat_of(target_ + "/a/empty").st_mode & 07777, 0750u);
  ::chmod((target_ + "/a/locked").c_str(), 0755);  // so that TearDown can remove the tree
  ::chmod((one.target_dir + "/a/locked").c_str(), 0755);
}

// Versions are ordered by when they were recorded, where the blob says so, not by mtime:
// an older copy put back (cp -p) and a new mode (same mtime) are the latest; --at means
// "recorded by then". Blobs without the entry fall back to their mtime.
// A directory swapped for a symlink while the files were written does not lead the
// directory's mode outside the target: it is checked again before its mode is set.
TEST_F(RestorerTest, ADirectorySwappedForASymlinkGetsNoMode) {
  Put("a", "", 100, 0700, format::Kind::kDirectory);
  Put("a/f", "file", 100);
  const std::string outside = dir_ + "/outside";
  fs::create_directories(outside);
  ::chmod(outside.c_str(), 0755);
  // Swaps target/a for a symlink to `outside` right after the file is renamed into it.
  class SwappingEnv : public EnvWrapper {
   public:
    SwappingEnv(std::string target, std::string outside)
        : EnvWrapper(Env::Default()), target_(std::move(target)), outside_(std::move(outside)) {}
    Status RenameInside(const std::string& from, const std::string& root,
                        const std::string& rel) override {
      CV_RETURN_IF_ERROR(EnvWrapper::RenameInside(from, root, rel));
      if (root == target_ && rel == "a/f") {
        SwapForSymlink(target_, outside_);
      }
      return Status::Ok();
    }

   private:
    std::string target_, outside_;
  } env(target_, outside);
  auto s = Run({}, &env);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->failures.size(), 1u);
  EXPECT_EQ(s->failures[0].what, "a");
  EXPECT_EQ(s->failures[0].status.reason(), "unsafe_path");
  struct stat st;
  ASSERT_EQ(::stat(outside.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u) << "the mode stayed inside the target";
}

// The same for a file: a directory swapped for a symlink after the file's directory was
// checked and before its temporary file is created does not take the file outside the
// target; the rename refuses the symlink, and the temporary file goes.
TEST_F(RestorerTest, AFileIsNotPlacedThroughADirectorySwappedForASymlink) {
  Put("a/f", "secret", 100);
  Put("a/big", std::string(300000, 'b'), 100);  // downloaded through the staging area
  const std::string outside = dir_ + "/outside";
  fs::create_directories(outside);
  // Swaps TARGET/a for a symlink to `outside` when the first file whose path starts with
  // `trigger` is about to be created.
  class SwappingEnv : public EnvWrapper {
   public:
    SwappingEnv(std::string target, std::string trigger, std::string outside)
        : EnvWrapper(Env::Default()),
          target_(std::move(target)),
          trigger_(std::move(trigger)),
          outside_(std::move(outside)) {}
    StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path,
                                                            uint32_t mode) override {
      if (path.rfind(trigger_, 0) == 0 && !swapped_.exchange(true)) {
        SwapForSymlink(target_, outside_);
      }
      return EnvWrapper::NewWritableFile(path, mode);
    }

   private:
    std::string target_, trigger_, outside_;
    std::atomic<bool> swapped_{false};
  };
  // While the small file is decrypted: both fail (the download finds the symlink at once).
  RestoreOptions o;
  o.target_dir = dir_ + "/t1";
  SwappingEnv env1(o.target_dir, o.target_dir + "/a/", outside);
  auto s = Run(o, &env1);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->restored, 0u);
  ASSERT_EQ(s->failures.size(), 2u);
  for (const RestoreFailure& f : s->failures) {
    EXPECT_EQ(f.status.reason(), "unsafe_path") << f.what << ": " << f.status.ToString();
  }
  EXPECT_TRUE(fs::is_empty(outside)) << "nothing written, nothing left outside the target";
  // While the large file is downloaded: the small one was placed before, the large fails.
  o.target_dir = dir_ + "/t2";
  SwappingEnv env2(o.target_dir, o.target_dir + "/.cardvault-restore/", outside);
  s = Run(o, &env2);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->restored, 1u);
  ASSERT_EQ(s->failures.size(), 1u);
  EXPECT_EQ(s->failures[0].what, "a/big");
  EXPECT_EQ(s->failures[0].status.reason(), "unsafe_path");
  EXPECT_EQ(ReadText(o.target_dir + "/a-moved/f"), "secret");
  EXPECT_TRUE(fs::is_empty(outside));
}

// The last defence: a swap after every check, at the rename itself. The rename walks the
// file's directories from the target without following a symlink, so it fails and nothing
// lands outside, for a small file and a download alike.
TEST_F(RestorerTest, ASwapAtTheRenameItselfCannotTakeAFileOutside) {
  Put("a/f", "secret", 100);
  Put("a/big", std::string(300000, 'b'), 100);  // downloaded through the staging area
  const std::string outside = dir_ + "/outside";
  fs::create_directories(outside);
  class SwappingEnv : public EnvWrapper {
   public:
    SwappingEnv(std::string target, std::string outside)
        : EnvWrapper(Env::Default()), target_(std::move(target)), outside_(std::move(outside)) {}
    Status RenameInside(const std::string& from, const std::string& root,
                        const std::string& rel) override {
      // Swapped for the rename only and put back after it, so every check passes.
      SwapForSymlink(target_, outside_);
      Status s = EnvWrapper::RenameInside(from, root, rel);
      SwapBack(target_);
      return s;
    }

   private:
    std::string target_, outside_;
  } env(target_, outside);
  auto s = Run({}, &env);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->restored, 0u);
  ASSERT_EQ(s->failures.size(), 2u);
  for (const RestoreFailure& f : s->failures) {
    EXPECT_EQ(f.status.reason(), "unsafe_path") << f.what << ": " << f.status.ToString();
  }
  EXPECT_TRUE(fs::is_empty(outside)) << "nothing placed outside the target";
  EXPECT_FALSE(fs::exists(target_ + "/a/f"));
  EXPECT_FALSE(fs::exists(target_ + "/a/big"));
}

// A staging directory planted in the target as a symlink to elsewhere is refused: no
// download's plaintext goes through it. Files that need no staging are still restored.
TEST_F(RestorerTest, APlantedStagingSymlinkIsRefused) {
  Put("small", "in memory", 100);
  Put("big", std::string(300000, 'b'), 100);  // downloaded through the staging area
  const std::string outside = dir_ + "/outside";
  fs::create_directories(outside);
  fs::create_directories(target_);
  fs::create_directory_symlink(outside, target_ + "/.cardvault-restore");
  auto s = Run({});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->restored, 1u);
  ASSERT_EQ(s->failures.size(), 1u);
  EXPECT_EQ(s->failures[0].what, "big");
  EXPECT_EQ(s->failures[0].status.reason(), "unsafe_path");
  EXPECT_EQ(ReadText(target_ + "/small"), "in memory");
  EXPECT_TRUE(fs::is_empty(outside));
}

TEST_F(RestorerTest, VersionsAreOrderedByWhenTheyWereRecorded) {
  using format::Kind;
  using format::kVersion1;
  Put("reverted", "new content", 200, 0600, Kind::kFile, kVersion1, 1000);
  Put("reverted", "old content, put back", 100, 0600, Kind::kFile, kVersion1, 2000);
  Put("chmod", "same", 100, 0600, Kind::kFile, kVersion1, 1000);
  Put("chmod", "same", 100, 0640, Kind::kFile, kVersion1, 2000);
  Put("dir", "", 100, 0755, Kind::kDirectory, kVersion1, 1000);
  Put("dir", "", 100, 0700, Kind::kDirectory, kVersion1, 2000);
  Put("legacy", "first", 1000);  // no recorded entry: by mtime
  Put("legacy", "second", 3000);
  auto s = Run();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(ReadText(target_ + "/reverted"), "old content, put back");
  EXPECT_EQ(ReadText(target_ + "/legacy"), "second");
  struct stat st;
  ASSERT_EQ(::stat((target_ + "/chmod").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  ASSERT_EQ(::stat((target_ + "/dir").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);

  RestoreOptions at;
  at.at_ns = 1500 * kSecond;
  at.target_dir = dir_ + "/at";
  ASSERT_TRUE(Run(at).ok());
  EXPECT_EQ(ReadText(dir_ + "/at/reverted"), "new content");
  ASSERT_EQ(::stat((dir_ + "/at/dir").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  EXPECT_EQ(ReadText(dir_ + "/at/legacy"), "first");
}

TEST_F(RestorerTest, AtDeletedAndOneVersion) {
  const std::string v1 = Put("f", "one", 100);
  Put("f", "two", 200);
  Put("d", "was here", 100);
  Put("d", "", 300, 0, format::Kind::kDeletion);

  RestoreOptions at;
  at.at_ns = 150 * kSecond;
  at.target_dir = dir_ + "/at";
  ASSERT_TRUE(Run(at).ok());
  EXPECT_EQ(ReadText(dir_ + "/at/f"), "one");
  EXPECT_EQ(ReadText(dir_ + "/at/d"), "was here");  // not deleted yet at 150

  RestoreOptions del;
  del.include_deleted = true;
  del.target_dir = dir_ + "/del";
  ASSERT_TRUE(Run(del).ok());
  EXPECT_EQ(ReadText(dir_ + "/del/f"), "two");
  EXPECT_EQ(ReadText(dir_ + "/del/d"), "was here");

  RestoreOptions one;
  one.version_id = v1;
  one.target_dir = dir_ + "/one";
  auto s = Run(one);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->restored, 1u);
  EXPECT_EQ(ReadText(dir_ + "/one/f"), "one");
  EXPECT_FALSE(fs::exists(dir_ + "/one/d"));

  RestoreOptions globbed;
  globbed.globs = {"d*"};
  globbed.include_deleted = true;
  globbed.target_dir = dir_ + "/glob";
  ASSERT_TRUE(Run(globbed).ok());
  EXPECT_TRUE(fs::exists(dir_ + "/glob/d"));
  EXPECT_FALSE(fs::exists(dir_ + "/glob/f"));

  one.version_id = "ffff";
  EXPECT_EQ(Run(one).status().reason(), "no_such_version");
}

TEST_F(RestorerTest, ConflictsKeepBothOverwriteOrSkipAndIdenticalIsSkipped) {
  Put("notes.txt", "server", 100);
  Put("same", "same", 100);
  fs::create_directories(target_);
  std::ofstream(target_ + "/notes.txt") << "local";
  std::ofstream(target_ + "/same") << "same";
  auto s = Run();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->identical, 1u);
  ASSERT_EQ(s->renamed.size(), 1u);
  const std::string name = s->renamed[0].second;
  EXPECT_EQ(name.rfind("notes (restored 20", 0), 0u) << name;
  EXPECT_EQ(name.substr(name.size() - 5), ").txt");
  EXPECT_EQ(ReadText(target_ + "/notes.txt"), "local");
  EXPECT_EQ(ReadText(target_ + "/" + name), "server");
  // Again: both present and identical, nothing written.
  s = Run();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->restored, 0u);
  EXPECT_EQ(s->identical, 2u);

  RestoreOptions skip;
  skip.conflict = ConflictPolicy::kSkip;
  s = Run(skip);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(ReadText(target_ + "/notes.txt"), "local");
  RestoreOptions over;
  over.conflict = ConflictPolicy::kOverwrite;
  s = Run(over);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->restored, 1u);
  EXPECT_EQ(ReadText(target_ + "/notes.txt"), "server");
}

TEST_F(RestorerTest, RestoredNameKeepsTheExtension) {
  EXPECT_EQ(RestoredName("a/notes.txt", "2026-11-26"), "a/notes (restored 2026-11-26).txt");
  EXPECT_EQ(RestoredName("a.b/Makefile", "2026-11-26"), "a.b/Makefile (restored 2026-11-26)");
  EXPECT_EQ(RestoredName(".bashrc", "2026-11-26"), ".bashrc (restored 2026-11-26)");
}

TEST_F(RestorerTest, UnsafePathsAndSymlinksAreRefused) {
  EXPECT_FALSE(CheckRelativePath("/etc/passwd").ok());
  EXPECT_FALSE(CheckRelativePath("../x").ok());
  EXPECT_FALSE(CheckRelativePath("a/../../x").ok());
  EXPECT_FALSE(CheckRelativePath("a//x").ok());
  EXPECT_FALSE(CheckRelativePath("./x").ok());
  EXPECT_TRUE(CheckRelativePath("a/.x/y z").ok());

  Put("../escape", "evil", 100);
  Put("link/inside", "through a symlink", 100);
  Put("ok", "fine", 100);
  fs::create_directories(target_);
  fs::create_directories(dir_ + "/elsewhere");
  fs::create_directory_symlink(dir_ + "/elsewhere", target_ + "/link");
  auto s = Run();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->restored, 1u);
  ASSERT_EQ(s->failures.size(), 2u);
  EXPECT_FALSE(fs::exists(dir_ + "/escape"));
  EXPECT_FALSE(fs::exists(dir_ + "/elsewhere/inside"));
  for (const RestoreFailure& f : s->failures) EXPECT_EQ(f.status.reason(), "unsafe_path");
}

TEST_F(RestorerTest, TamperedObjectIsReportedByPathAndTheRestContinues) {
  Put("a", std::string(200000, 'a'), 100);  // fetched in two steps (header, then payload)
  const std::string bad = Put("b", std::string(200000, 'b'), 100);
  Put("c", "small", 100);
  Bytes& blob = client_.objects[bad].data;
  blob[blob.size() - 10] ^= 1;
  // An object that vanishes between the listing and its fetch is one failure, not fatal.
  class Vanishing final : public ObjectClientWrapper {
   public:
    Vanishing(MemoryClient* inner, std::string gone)
        : ObjectClientWrapper(inner), gone_(std::move(gone)) {}
    StatusOr<ObjectInfo> Get(std::string_view id, const GetOptions& o,
                             const ByteSink& sink) override {
      if (id == gone_) return NotFoundError("deleted meanwhile");
      return ObjectClientWrapper::Get(id, o, sink);
    }

   private:
    std::string gone_;
  };
  const std::string gone = Put("gone", "x", 100);
  Vanishing vanishing(&client_, gone);
  Restorer r(&vanishing, &card_, Env::Default());
  ASSERT_TRUE(r.Load().ok());
  RestoreOptions o;
  o.target_dir = target_;
  auto s = r.Restore(o);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->restored, 2u);
  ASSERT_EQ(s->failures.size(), 2u);
  EXPECT_EQ(s->failures[0].what, gone);
  EXPECT_EQ(s->failures[0].status.code(), StatusCode::kNotFound);
  s->failures.erase(s->failures.begin());
  EXPECT_EQ(s->failures[0].what, "b");
  EXPECT_EQ(s->failures[0].status.code(), StatusCode::kCorrupt);
  EXPECT_FALSE(fs::exists(target_ + "/b"));
  EXPECT_EQ(ReadText(target_ + "/a"), std::string(200000, 'a'));
  // No leftovers of the failed file in the target.
  int entries = 0;
  for (const auto& e : fs::directory_iterator(target_)) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 2);
}

// The ways an object is damaged on a server's disk, as a reader sees them.
enum class Damage { kFlipLast, kCut100, kFlipFirstChunk };

void DamageBlob(Bytes& blob, Damage d) {
  switch (d) {
    case Damage::kFlipLast:  // the v2 trailer, or a v1 blob's final tag
      blob[blob.size() - 3] ^= 0x01;
      break;
    case Damage::kCut100:
      blob.resize(blob.size() - 100);
      break;
    case Damage::kFlipFirstChunk:
      blob[LoadU32(blob.data() + 10) + format::kPreambleSize + 40] ^= 0x01;
      break;
  }
}

// v1 and v2, small (fetched whole) and large, every kind of damage: the damaged newest
// version is listed by path and marked, and restore places nothing for that path (never
// the older version in its stead) unless asked with allow_older.
TEST_F(RestorerTest, ADamagedNewestVersionIsNeverReplacedByAnOlderOne) {
  struct Case {
    uint16_t version;
    size_t size;
    Damage damage;
  };
  const Case cases[] = {
      {format::kVersion1, 3000, Damage::kFlipLast},
      {format::kVersion1, 3000, Damage::kCut100},
      {format::kVersion1, 200000, Damage::kCut100},
      {format::kVersion1, 200000, Damage::kFlipLast},  // found when it is downloaded
      {format::kVersion2, 3000, Damage::kFlipFirstChunk},
      {format::kVersion2, 200000, Damage::kFlipLast},
      {format::kVersion2, 200000, Damage::kCut100},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::to_string(c.version) + "/" + std::to_string(c.size) + "/" +
                 std::to_string(static_cast<int>(c.damage)));
    client_.objects.clear();
    NewEpoch();
    fs::remove_all(target_);
    const std::string old_content(c.size, 'o'), new_content(c.size, 'n');
    const std::string old_id =
        Put("key.pem", old_content, 100, 0600, format::Kind::kFile, c.version, 100);
    const std::string new_id =
        Put("key.pem", new_content, 200, 0600, format::Kind::kFile, c.version, 200);
    DamageBlob(client_.objects[new_id].data, c.damage);
    auto s = Run();
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    const std::vector<RemoteVersion>& versions = restorer_->history().at("key.pem");
    ASSERT_EQ(versions.size(), 2u) << "the damaged version is still listed";
    const bool found_at_load =
        !(c.version == format::kVersion1 && c.size > 64 * 1024 && c.damage == Damage::kFlipLast);
    EXPECT_EQ(versions[1].damaged(), found_at_load);
    EXPECT_FALSE(versions[0].damaged());
    EXPECT_EQ(s->restored, 0u);
    ASSERT_EQ(s->failures.size(), 1u);
    EXPECT_EQ(s->failures[0].what, "key.pem");
    EXPECT_EQ(s->failures[0].object_id, new_id);
    EXPECT_TRUE(s->failures[0].damaged);
    EXPECT_EQ(s->failures[0].status.code(), StatusCode::kCorrupt);
    if (found_at_load) {
      EXPECT_NE(s->failures[0].status.message().find("--allow-older"), std::string::npos)
          << s->failures[0].status.message();
      EXPECT_NE(s->failures[0].status.message().find(old_id.substr(0, 16)), std::string::npos);
    }
    EXPECT_FALSE(fs::exists(target_ + "/key.pem")) << "no older content in its stead";
    if (!found_at_load) continue;
    RestoreOptions older;
    older.allow_older = true;
    s = Run(older);
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->restored, 1u);
    EXPECT_TRUE(s->failures.empty());
    EXPECT_TRUE(ReadText(target_ + "/key.pem") == old_content);
  }
}

// An object the server refuses to serve (object_damaged: its file is missing or cut short
// on the server's disk) before its header could be read: named by id, and says so.
TEST_F(RestorerTest, AnObjectWhoseHeaderCannotBeReadIsNamedByIdAndSaysSo) {
  Put("a", "alpha", 100);
  const std::string gone = Put("b", "beta", 100);
  class Refusing final : public ObjectClientWrapper {
   public:
    Refusing(MemoryClient* inner, std::string id)
        : ObjectClientWrapper(inner), id_(std::move(id)) {}
    StatusOr<ObjectInfo> Get(std::string_view id, const GetOptions& o,
                             const ByteSink& sink) override {
      if (id == id_) return CorruptError("damaged on the server: missing", "object_damaged");
      return ObjectClientWrapper::Get(id, o, sink);
    }

   private:
    std::string id_;
  };
  Refusing refusing(&client_, gone);
  Restorer r(&refusing, &card_, Env::Default());
  ASSERT_TRUE(r.Load().ok());
  ASSERT_EQ(r.load_failures().size(), 1u);
  EXPECT_EQ(r.load_failures()[0].what, gone);
  EXPECT_EQ(r.load_failures()[0].object_id, gone);
  EXPECT_TRUE(r.load_failures()[0].damaged);
  EXPECT_EQ(r.load_failures()[0].status.reason(), "object_damaged");
  EXPECT_NE(r.load_failures()[0].status.message().find("its path cannot be read"),
            std::string::npos);
}

// A damaged key object: the files of its epoch are named as unreadable because of it; the
// other epochs restore.
TEST_F(RestorerTest, ADamagedKeyObjectNamesTheFilesItMakesUnreadable) {
  Put("one", "first epoch", 100);
  std::string first_key;
  for (const auto& [id, o] : client_.objects) {
    if (o.kind == ObjectKind::kKey) first_key = id;
  }
  NewEpoch();
  Put("two", "second epoch", 200);
  const std::string lost_a = Put("three", "second epoch too", 200);
  std::string second_key;
  for (const auto& [id, o] : client_.objects) {
    if (o.kind == ObjectKind::kKey && id != first_key) second_key = id;
  }
  Bytes& key_object = client_.objects[second_key].data;
  key_object[key_object.size() - 5] ^= 0x01;
  auto s = Run();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->restored, 1u);
  EXPECT_EQ(ReadText(target_ + "/one"), "first epoch");
  int key_failures = 0, file_failures = 0;
  for (const RestoreFailure& f : s->failures) {
    EXPECT_TRUE(f.damaged);
    if (f.what.rfind("key object", 0) == 0) {
      ++key_failures;
    } else {
      ++file_failures;
      EXPECT_EQ(f.status.reason(), "key_object_damaged");
      EXPECT_NE(f.status.message().find(second_key.substr(0, 16)), std::string::npos);
    }
  }
  EXPECT_EQ(key_failures, 1);
  EXPECT_EQ(file_failures, 2);
  EXPECT_TRUE(restorer_->unopenable().empty());
}

// An identity that holds only some epochs (a recovery key added later): the others'
// objects are out of its reach, counted apart, not reported as damaged.
TEST_F(RestorerTest, ObjectsOfEpochsTheIdentityCannotOpenAreCountedNotFailed) {
  for (int i = 0; i < 30; ++i) Put("old/" + std::to_string(i), "x", 100);
  X25519Identity backup = X25519Identity::Generate().value();
  X25519Recipient backup_recipient = backup.recipient();
  NewEpoch(&backup_recipient);
  Put("new", "y", 200);
  Restorer r(&client_, &backup, Env::Default());
  ASSERT_TRUE(r.Load().ok());
  EXPECT_EQ(r.unopenable().size(), 30u);
  EXPECT_TRUE(r.load_failures().empty());
  RestoreOptions o;
  o.target_dir = target_;
  auto s = r.Restore(o);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->restored, 1u);
  EXPECT_TRUE(s->failures.empty());
}

TEST_F(RestorerTest, WrongCardNamesTheExpectedKeysAndWritesNothing) {
  for (int i = 0; i < 20; ++i) Put("f" + std::to_string(i), "secret", 100);
  X25519Identity other = X25519Identity::Generate().value();
  Restorer r(&client_, &other, Env::Default());
  Status s = r.Load();
  EXPECT_EQ(s.reason(), "wrong_card");
  EXPECT_EQ(client_.gets, 1) << "known from the key object, before any file is fetched";
  EXPECT_NE(s.message().find("this card holds none of the keys of this vault"), std::string::npos);
  EXPECT_NE(s.message().find(HexEncode(card_.recipient().key_id())), std::string::npos)
      << s.message();
  EXPECT_FALSE(fs::exists(target_));
}

TEST_F(RestorerTest, BackupKeyAloneRestores) {
  X25519Identity backup = X25519Identity::Generate().value();
  X25519Recipient backup_recipient = backup.recipient();
  client_.objects.clear();
  NewEpoch(&backup_recipient);
  Put("a", "secret", 100);
  Restorer r(&client_, &backup, Env::Default());
  ASSERT_TRUE(r.Load().ok());
  RestoreOptions o;
  o.target_dir = target_;
  auto s = r.Restore(o);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(ReadText(target_ + "/a"), "secret");
}

TEST_F(RestorerTest, ThousandFilesOverTwoEpochsCostTwoCardOperations) {
  for (int i = 0; i < 500; ++i) Put("one/" + std::to_string(i), "x" + std::to_string(i), 100);
  NewEpoch();
  for (int i = 0; i < 500; ++i) Put("two/" + std::to_string(i), "y" + std::to_string(i), 200);
  auto s = Run();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->restored, 1000u);
  EXPECT_TRUE(s->failures.empty());
  EXPECT_EQ(card_.operations, 2);
  EXPECT_EQ(restorer_->card_unwraps(), 2u);
  EXPECT_EQ(restorer_->epochs(), 2u);
  EXPECT_EQ(ReadText(target_ + "/two/499"), "y499");
}

TEST_F(RestorerTest, ResumeDownloadsOnlyWhatIsMissing) {
  Put("big", std::string(300000, 'z'), 100);
  Put("small", "s", 100);
  auto s = Run();
  ASSERT_TRUE(s.ok());
  EXPECT_GT(s->bytes_downloaded, 0u);
  // A second run finds both identical: no payload download at all.
  s = Run();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->identical, 2u);
  EXPECT_EQ(s->bytes_downloaded, 0u);
  // The plaintext an interrupted run left is kept up to its last whole chunk, and the
  // download continues with the next sealed chunk (a Range request).
  std::string big_id;
  for (const auto& [id, o] : client_.objects) {
    if (o.kind == ObjectKind::kBlob && o.data.size() > 300000) big_id = id;
  }
  const Bytes& blob = client_.objects[big_id].data;
  const uint64_t payload_start = format::kPreambleSize + LoadU32(blob.data() + 10);
  const std::string staging = target_ + "/.cardvault-restore/";
  auto interrupted = [&](const std::string& left_behind) {
    fs::remove(target_ + "/big");
    fs::create_directories(staging);
    std::ofstream(staging + big_id + ".partial", std::ios::binary) << left_behind;
    std::ofstream(staging + big_id + ".part", std::ios::binary) << "ciphertext of old versions";
    return Run();
  };
  s = interrupted(std::string(100000, 'z'));  // one whole chunk and a piece of the next
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->restored, 1u);
  EXPECT_EQ(s->bytes_downloaded, blob.size() - payload_start - format::SealedChunkOffset(1));
  EXPECT_EQ(ReadText(target_ + "/big"), std::string(300000, 'z'));
  EXPECT_FALSE(fs::exists(staging)) << "nothing is left in the staging directory";
  // A damaged prefix fails the content hash: the file is downloaded again from the start.
  s = interrupted(std::string(70000, 'y'));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->restored, 1u);
  EXPECT_EQ(s->bytes_downloaded, 2 * blob.size() - payload_start - format::SealedChunkOffset(1));
  EXPECT_EQ(ReadText(target_ + "/big"), std::string(300000, 'z'));
}

// A full disk fails the files it hits, each by name ("disk_full"), and leaves no partial
// plaintext under a final name; the rest is restored, and a rerun once there is room
// completes the restore.
TEST_F(RestorerTest, AFullDiskFailsFilesByNameAndARerunCompletes) {
  const std::string big(300000, 'b');
  Put("big", big, 100);
  for (int i = 0; i < 20; ++i) Put("small/" + std::to_string(i), std::string(5000, 'a' + i), 100);
  FaultInjectionEnv faulty(Env::Default());
  faulty.SetDiskFullAfter(50000);  // about half of the small files, not the big one
  auto s = Run({}, &faulty);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_FALSE(s->failures.empty());
  for (const RestoreFailure& f : s->failures) {
    EXPECT_EQ(f.status.reason(), "disk_full") << f.what << ": " << f.status.ToString();
  }
  EXPECT_EQ(s->restored + s->failures.size(), 21u);
  EXPECT_GT(s->restored, 0u);
  EXPECT_EQ(s->failures.front().what, "big") << "failures are sorted by path";
  // Whatever has its final name is complete; nothing else is left but the big file's
  // staging area (kept only if its failure was transient).
  for (const auto& e : fs::recursive_directory_iterator(target_)) {
    const std::string rel = fs::relative(e.path(), target_).string();
    if (!e.is_regular_file() || rel.rfind(".cardvault-restore/", 0) == 0) continue;
    EXPECT_EQ(rel.find(".cv-tmp-"), std::string::npos) << rel;
    const std::string content = ReadText(e.path().string());
    if (rel == "big") {
      EXPECT_EQ(content, big);
    } else {
      EXPECT_EQ(content, std::string(5000, 'a' + std::stoi(rel.substr(6)))) << rel;
    }
  }
  faulty.ClearFaults();
  s = Run({}, &faulty);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_TRUE(s->failures.empty())
      << s->failures[0].what << ": " << s->failures[0].status.ToString();
  EXPECT_EQ(s->restored + s->identical, 21u);
  EXPECT_EQ(ReadText(target_ + "/big"), big);
  EXPECT_EQ(ReadText(target_ + "/small/19"), std::string(5000, 'a' + 19));
}

// v2 blobs (the agent streams large files as v2): the listing reads a large blob's hash from
// its trailer with a range request, a small one's from the blob it fetched whole; restore,
// the identical check and resume work as for v1, and a damaged trailer is reported.
TEST_F(RestorerTest, VersionTwoBlobsListRestoreAndResume) {
  const std::string big(300000, 'v');
  const std::string big_id = Put("big", big, 100, 0600, format::Kind::kFile, format::kVersion2);
  Put("small", "two", 100, 0644, format::Kind::kFile, format::kVersion2);
  const std::string bad_id =
      Put("bad", std::string(200000, 'b'), 100, 0600, format::Kind::kFile, format::kVersion2);
  Bytes& bad = client_.objects[bad_id].data;
  bad[bad.size() - 3] ^= 0x01;  // inside the trailer
  auto s = Run();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->restored, 2u);
  EXPECT_TRUE(ReadText(target_ + "/big") == big);
  EXPECT_EQ(ReadText(target_ + "/small"), "two");
  EXPECT_EQ(restorer_->history().at("big").at(0).metadata.sha256, Sha256(AsBytes(big)));
  EXPECT_EQ(restorer_->history().at("small").at(0).metadata.sha256, Sha256(AsBytes("two")));
  ASSERT_EQ(s->failures.size(), 1u);  // named by its path, read from its intact header
  EXPECT_EQ(s->failures[0].what, "bad");
  EXPECT_EQ(s->failures[0].object_id, bad_id);
  EXPECT_TRUE(s->failures[0].damaged);
  EXPECT_EQ(s->failures[0].status.reason(), "trailer_corrupt");
  EXPECT_FALSE(fs::exists(target_ + "/bad"));
  s = Run();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->identical, 2u);
  EXPECT_EQ(s->bytes_downloaded, 0u);
  const Bytes& blob = client_.objects[big_id].data;
  const uint64_t payload_start = format::kPreambleSize + LoadU32(blob.data() + 10);
  const std::string staging = target_ + "/.cardvault-restore/";
  fs::remove(target_ + "/big");
  fs::create_directories(staging);
  std::ofstream(staging + big_id + ".partial", std::ios::binary) << std::string(140000, 'v');
  s = Run();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->restored, 1u);
  EXPECT_EQ(s->bytes_downloaded, blob.size() - payload_start - format::SealedChunkOffset(2));
  EXPECT_TRUE(ReadText(target_ + "/big") == big);
}

TEST_F(RestorerTest, ParallelFetchClientsShareTheListing) {
  for (int i = 0; i < 60; ++i) Put("f" + std::to_string(i), "content " + std::to_string(i), 100);
  MemoryClient second;
  second.objects = client_.objects;
  Restorer r(&client_, &card_, Env::Default());
  r.AddFetchClient(&second);
  ASSERT_TRUE(r.Load().ok());
  EXPECT_EQ(r.history().size(), 60u);
  EXPECT_EQ(client_.gets + second.gets, 61);  // one key object and 60 blobs, each fetched once
  RestoreOptions o;
  o.target_dir = target_;
  auto s = r.Restore(o);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->restored, 60u);
  EXPECT_EQ(ReadText(target_ + "/f59"), "content 59");
}

TEST_F(RestorerTest, ParsesTheDocumentedTimeForms) {
  EXPECT_EQ(ParseRestoreTime("@1700000000").value(), 1700000000 * kSecond);
  EXPECT_EQ(ParseRestoreTime("2023-11-14T22:13:20Z").value(), 1700000000 * kSecond);
  EXPECT_EQ(ParseRestoreTime("2023-11-14 22:13Z").value(), 1699999980 * kSecond);
  EXPECT_EQ(ParseRestoreTime("2023-11-14Z").value(), 1700006399 * kSecond + 999'999'999);
  EXPECT_TRUE(ParseRestoreTime("2023-11-14").ok());  // local time
  EXPECT_FALSE(ParseRestoreTime("yesterday").ok());
  EXPECT_FALSE(ParseRestoreTime("@12abc").ok());
  EXPECT_FALSE(ParseRestoreTime("2023-11-14T25:00").ok());
}

}  // namespace
}  // namespace cardvault

namespace cardvault {
namespace {

// The real card layer under the restore, through the test module in front of SoftHSM2
// (tests/core/pkcs11/flag_shim_module.cc): a card pulled or failing while the vault's key
// objects are opened stops the restore with the card's message; no key object or file is
// recorded as damaged (kCorrupt), and nothing is written.
class RestorerCardTest : public SoftHsmTest {};

TEST_F(RestorerCardTest, ACardFailingMidLoadStopsWithTheCardMessageNotADamagedObject) {
  struct Case {
    CardKeyAlgorithm algorithm;
    const char* card;
    const char* fail;
    const char* reason;
  };
  for (const Case& c :
       {Case{CardKeyAlgorithm::kEcP256, "Card A", "C_DeriveKey:1:0x5", "card_failed"},
        Case{CardKeyAlgorithm::kEcP256, "Card A", "C_DeriveKey:2:0x32:removed", "card_removed"},
        Case{CardKeyAlgorithm::kRsa2048, "Card R", "C_Decrypt:1:0x5", "card_failed"},
        Case{CardKeyAlgorithm::kRsa2048, "Card R", "C_Decrypt:2:0x5:removed", "card_removed"}}) {
    SCOPED_TRACE(c.fail);
    if (std::string(c.fail).find(":1:") != std::string::npos) InitToken(c.card);  // once per card
    Bytes key_id;
    std::unique_ptr<CardRecipient> recipient;
    {
      auto module = Pkcs11Module::Open(kSoftHsmModule).value();
      auto token = CardToken::Find(*module, {c.card, ""}).value();
      auto session =
          Pkcs11Session::Open(module, token.slot, Pkcs11Session::Mode::kReadWrite).value();
      SecretData pin = SecretData::CopyFrom(std::string_view(kUserPin));
      ASSERT_TRUE(session->Login(&pin).ok());
      auto key = CardKeyGenerator::Generate(*session, {c.algorithm, "cardvault", {}});
      if (!key.ok() && key.status().reason() == "key_exists") {
        key = CardKey::Find(*session, {"cardvault", {}});
      }
      ASSERT_TRUE(key.ok()) << key.status().ToString();
      key_id = key->public_key->key_id();
      recipient = CardRecipient::New(*key->public_key).value();
    }
    MemoryClient client;
    for (int epoch = 0; epoch < 2; ++epoch) {  // two key objects: two card operations
      std::vector<Recipient*> rs = {recipient.get()};
      cardvault::NewEpoch e = CreateEpoch(rs, 1).value();
      client.objects[KeyObjectId(e.recipient)] = {ObjectKind::kKey, e.key_object};
      format::Metadata m;
      m.path = "f" + std::to_string(epoch);
      m.size = 6;
      Bytes plain = {'s', 'e', 'c', 'r', 'e', 't'};
      MemorySequentialFile src(plain);
      Bytes blob;
      MemoryWritableFile sink(&blob);
      Recipient* blob_rs[] = {&e.recipient};
      ASSERT_TRUE(EncryptStream(src, sink, blob_rs, m, EncryptOptions{}).ok());
      client.objects[std::string(63, '0') + std::to_string(epoch)] = {ObjectKind::kBlob, blob};
    }
    const std::string pin_file = dir() + "/pin";
    std::ofstream(pin_file) << kUserPin << "\n";
    ::chmod(pin_file.c_str(), 0600);
    ::setenv("CV_SHIM_FAIL", c.fail, 1);
    {
      std::shared_ptr<CardBackend> backend = Pkcs11Backend::New(CARDVAULT_FLAG_SHIM).value();
      CardIdentityRequest request;
      request.card.label = c.card;
      request.pin_source = PinSource::FromFile(pin_file);
      auto card = CardIdentitySet::New(backend, request, {key_id}).value();
      Restorer r(&client, card.get(), Env::Default());
      Status s = r.Load();
      EXPECT_EQ(s.reason(), c.reason) << s.ToString();
      EXPECT_NE(s.code(), StatusCode::kCorrupt) << s.ToString();
      EXPECT_NE(s.message().find("card \"" + std::string(c.card) + "\""), std::string::npos)
          << s.ToString();
      EXPECT_TRUE(r.load_failures().empty()) << r.load_failures().front().status.ToString();
    }
    ::unsetenv("CV_SHIM_FAIL");
  }
}

}  // namespace
}  // namespace cardvault
