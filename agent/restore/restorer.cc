// Restorer implementation.
#include "agent/restore/restorer.h"

#include <algorithm>
#include <atomic>
#include <ctime>
#include <filesystem>
#include <iomanip>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>
#include <vector>

#include "agent/sync/stream_pipe.h"
#include "core/decryptor.h"
#include "core/glob_match.h"
#include "core/memory_file.h"
#include "core/platform.h"

namespace cardvault {

// Forwards to the card and remembers whether the card itself failed, which tells a wrong
// card apart from a blob whose epoch has no key object.
class Restorer::CardGuard final : public Identity {
 public:
  CardGuard(Identity* card, uint64_t* unwraps) : card_(card), unwraps_(unwraps) {}
  StatusOr<SecretData> Unwrap(std::span<const Stanza> stanzas) override {
    StatusOr<SecretData> key = card_->Unwrap(stanzas);
    if (key.ok()) {
      ++*unwraps_;
    } else {
      failed_ = key.status();
    }
    return key;
  }
  void Reset() { failed_.reset(); }
  const std::optional<Status>& failed() const { return failed_; }

 private:
  Identity* card_;
  uint64_t* unwraps_;
  std::optional<Status> failed_;
};

// What a fetch thread learns about one blob without the card: its bytes, its header and,
// when an already opened epoch holds its key, its file key and metadata.
struct Restorer::Prepared {
  StatusOr<Bytes> blob = InternalError("not fetched");
  StatusOr<format::Header> header = InternalError("not parsed");
  std::optional<SecretData> file_key;
  std::optional<StatusOr<format::Metadata>> metadata;
  Status damage;  // of the content, once the metadata opened (CheckContent)
};

namespace {

constexpr char kStagingDir[] = ".cardvault-restore";
constexpr size_t kWriteThreads = 4;     // the file system calls of small files overlap well
constexpr size_t kRunFiles = 256;       // files of one directory a write thread takes in a row
constexpr size_t kPipeBytes = 4 << 20;  // how far a download may run ahead of its decryption

// The directory part of a relative path ("" for a top-level file).
std::string_view ParentDir(std::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string_view() : path.substr(0, slash);
}

// The kinds a restore acts on (kinds from later versions are skipped).
bool IsKnownKind(format::Kind kind) {
  return kind == format::Kind::kFile || kind == format::Kind::kDeletion ||
         kind == format::Kind::kDirectory;
}

void Merge(RestoreSummary& into, RestoreSummary&& one) {
  into.restored += one.restored;
  into.identical += one.identical;
  into.skipped += one.skipped;
  into.bytes_written += one.bytes_written;
  into.bytes_downloaded += one.bytes_downloaded;
  for (auto& r : one.renamed) into.renamed.push_back(std::move(r));
}

// The keyring's opened epochs as an Identity that never opens a key object or touches the
// card (safe from several fetch threads).
class OpenedEpochs final : public Identity {
 public:
  explicit OpenedEpochs(const EpochKeyring& keyring) : keyring_(keyring) {}
  StatusOr<SecretData> Unwrap(std::span<const Stanza> stanzas) override {
    return keyring_.UnwrapWithOpenedEpochs(stanzas);
  }

 private:
  const EpochKeyring& keyring_;
};

StatusOr<format::Metadata> OpenMetadataWith(const SecretData& file_key,
                                            const format::Header& header) {
  CV_ASSIGN_OR_RETURN(SecretData key, format::DeriveMetadataKey(file_key, header));
  return format::OpenMetadata(key, header.metadata_ciphertext, header.version);
}

StatusOr<Bytes> Fetch(ObjectClient& client, const std::string& id, bool header_only) {
  Bytes data;
  size_t want = 0;  // bytes of preamble and header, once known
  GetOptions whole;
  whole.verify_sha256 = false;  // a blob authenticates itself: its AEAD checks every byte
  StatusOr<ObjectInfo> r = client.Get(id, whole, [&](ByteView b) -> Status {
    data.insert(data.end(), b.begin(), b.end());
    if (!header_only) return Status::Ok();
    if (want == 0 && data.size() >= format::kPreambleSize) {
      CV_ASSIGN_OR_RETURN(uint32_t length,
                          format::ParsePreamble(ByteView(data).subspan(0, format::kPreambleSize)));
      want = format::kPreambleSize + length;
    }
    if (want != 0 && data.size() >= want) return CancelledError("header read", "enough");
    return Status::Ok();
  });
  if (!r.ok() && r.status().reason() != "enough") return r.status();
  return data;
}

// The preamble and header of an object the server will not serve whole (object_damaged),
// by bounded range requests, which the server answers while the bytes asked for are stored
// and end before the object's last byte: enough to name a damaged object by its path.
StatusOr<Bytes> FetchDamagedHeader(ObjectClient& client, const ObjectInfo& info) {
  auto prefix = [&](uint64_t n) -> StatusOr<Bytes> {
    Bytes data;
    GetOptions get;
    get.length = std::min(n, info.size - 1);
    get.verify_sha256 = false;  // a header authenticates itself
    auto collect = [&](ByteView b) -> Status {
      data.insert(data.end(), b.begin(), b.end());
      return Status::Ok();
    };
    CV_RETURN_IF_ERROR(client.Get(info.id, get, collect).status());
    return data;
  };
  if (info.size <= format::kPreambleSize)
    return CorruptError("too small to hold a header", "truncated");
  CV_ASSIGN_OR_RETURN(Bytes head, prefix(4096));
  if (head.size() < format::kPreambleSize) return CorruptError("no preamble", "truncated");
  CV_ASSIGN_OR_RETURN(uint32_t length,
                      format::ParsePreamble(ByteView(head).first(format::kPreambleSize)));
  const uint64_t want = format::kPreambleSize + length;
  if (head.size() < want) {
    CV_ASSIGN_OR_RETURN(head, prefix(want));
  }
  if (head.size() < want) return CorruptError("the header is cut short", "truncated");
  head.resize(want);
  return head;
}

// A sink that drops the plaintext: Load decrypts a blob it fetched whole only to check it.
class DiscardingFile final : public WritableFile {
 public:
  Status Append(ByteView) override { return Status::Ok(); }
  Status WriteAt(uint64_t, ByteView) override { return Status::Ok(); }
  Status Sync() override { return Status::Ok(); }
  Status Close() override { return Status::Ok(); }
};

// Every chunk and the content hash of a blob held whole; for v2 this also reads the hash.
Status VerifyWhole(const Bytes& blob, const SecretData& file_key, format::Metadata& m) {
  MemorySequentialFile src(blob);
  CV_ASSIGN_OR_RETURN(format::Header header, ReadHeader(src));
  CV_ASSIGN_OR_RETURN(auto decryptor, Decryptor::New(&src, std::move(header),
                                                     SecretData::CopyFrom(file_key.span())));
  DiscardingFile sink;
  CV_RETURN_IF_ERROR(decryptor->DecryptTo(sink));
  m.sha256 = decryptor->metadata().sha256;
  return Status::Ok();
}

// The last `n` bytes of a blob of `size` bytes, by a range request (which the server
// refuses for an object damaged on its disk).
StatusOr<Bytes> FetchTail(ObjectClient& client, const std::string& id, uint64_t size, size_t n) {
  Bytes tail;
  GetOptions get;
  get.offset = size - n;
  get.verify_sha256 = false;  // what is read authenticates itself
  auto collect = [&](ByteView b) -> Status {
    if (tail.size() + b.size() > n) return CorruptError("more than asked for", "trailing_data");
    tail.insert(tail.end(), b.begin(), b.end());
    return Status::Ok();
  };
  CV_RETURN_IF_ERROR(client.Get(id, get, collect).status());
  if (tail.size() != n) return CorruptError("object " + id + " ends early", "truncated");
  return tail;
}

// Whether the content of a blob whose metadata opened is whole, as far as it can be told
// without downloading it: the listing's size against the header's; a blob fetched whole,
// every chunk and the content hash; a larger one, its end by a range request (for v2 the
// sealed trailer, which gives the content hash). A failure is the version's damage.
Status CheckContent(ObjectClient& client, const ObjectInfo& info, const Bytes& fetched,
                    const SecretData& file_key, const format::Header& header, format::Metadata& m) {
  // `fetched` begins with the preamble ReadHeader parsed.
  CV_ASSIGN_OR_RETURN(uint32_t header_length,
                      format::ParsePreamble(ByteView(fetched).first(format::kPreambleSize)));
  const uint64_t size = format::BlobSize(header.version, header_length, m.size);
  if (info.size != size) {
    return CorruptError("the server lists " + std::to_string(info.size) +
                            " bytes; its header says " + std::to_string(size),
                        "truncated");
  }
  if (fetched.size() == size) return VerifyWhole(fetched, file_key, m);
  if (header.version != format::kVersion2) {
    return FetchTail(client, info.id, size, format::kTagSize).status();
  }
  CV_ASSIGN_OR_RETURN(Bytes trailer, FetchTail(client, info.id, size, format::kTrailerSize));
  CV_ASSIGN_OR_RETURN(SecretData trailer_key, format::DeriveTrailerKey(file_key, header));
  CV_ASSIGN_OR_RETURN(m.sha256, format::OpenTrailer(trailer_key, trailer));
  return Status::Ok();
}

bool Matches(const std::vector<std::string>& globs, const std::string& path) {
  if (globs.empty()) return true;
  for (const std::string& g : globs) {
    std::string dir = g;
    while (!dir.empty() && dir.back() == '/') dir.pop_back();
    if (path == dir || (!dir.empty() && path.rfind(dir + "/", 0) == 0)) return true;
    if (GlobMatch(g, path)) return true;
  }
  return false;
}

// A blob the server could not serve whole (object_damaged), or that is gone since the
// listing: a failure of that object alone.
bool IsDamageOrGone(const Status& s) {
  return s.code() == StatusCode::kCorrupt || s.code() == StatusCode::kNotFound;
}

// A failure of an object whose path cannot be read, which says so.
RestoreFailure PathUnknown(const std::string& id, const Status& status) {
  return {id, status.WithContext("its path cannot be read"), id, /*damaged=*/true};
}

bool IsCardMiss(const Status& s) {
  const std::string& r = s.reason();
  return r == "wrong_card" || r == "no_key_on_card" || r == "no_matching_stanza";
}

std::string Today(Env& env) {
  std::tm tm_buf = {};
  LocalCalendarTime(env.NowUnixNanos() / 1'000'000'000, &tm_buf);
  char out[16];
  std::strftime(out, sizeof out, "%Y-%m-%d", &tm_buf);
  return out;
}

}  // namespace

int64_t VersionTime(const format::Metadata& m) { return m.recorded_ns.value_or(m.mtime_ns); }

std::string RestoredName(const std::string& path, const std::string& date) {
  const size_t slash = path.find_last_of('/');
  const size_t base = slash == std::string::npos ? 0 : slash + 1;
  size_t dot = path.find_last_of('.');
  if (dot == std::string::npos || dot <= base) dot = path.size();
  return path.substr(0, dot) + " (restored " + date + ")" + path.substr(dot);
}

StatusOr<int64_t> ParseRestoreTime(const std::string& text) {
  if (!text.empty() && text[0] == '@') {
    try {
      size_t used = 0;
      const long long secs = std::stoll(text.substr(1), &used);
      if (used == text.size() - 1) return static_cast<int64_t>(secs) * 1'000'000'000;
    } catch (...) {
    }
    return InvalidArgumentError("bad time " + text + ": expected @SECONDS");
  }
  std::string t = text;
  const bool utc = !t.empty() && (t.back() == 'Z' || t.back() == 'z');
  if (utc) t.pop_back();
  std::tm tm_buf = {};
  // A date alone means the end of that day. Decided by the text, not by which format parses:
  // std::get_time stops without failing when the input ends before the format does.
  const bool end_of_day = t.find_first_of("Tt ") == std::string::npos;
  const std::vector<const char*> formats =
      end_of_day ? std::vector<const char*>{"%Y-%m-%d"}
                 : std::vector<const char*>{"%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S",
                                            "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"};
  bool parsed = false;
  for (const char* fmt : formats) {
    tm_buf = {};
    std::istringstream in(t);
    in >> std::get_time(&tm_buf, fmt);
    if (!in.fail() && in.peek() == std::char_traits<char>::eof()) {
      parsed = true;
      break;
    }
  }
  if (!parsed) {
    return InvalidArgumentError("bad time " + text +
                                ": expected YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS][Z] or @SECONDS");
  }
  if (end_of_day) {
    tm_buf.tm_hour = 23;
    tm_buf.tm_min = 59;
    tm_buf.tm_sec = 59;
  }
  tm_buf.tm_isdst = -1;
  const int64_t secs =
      utc ? UnixSecondsFromUtc(tm_buf) : static_cast<int64_t>(std::mktime(&tm_buf));
  int64_t ns = static_cast<int64_t>(secs) * 1'000'000'000;
  if (end_of_day) ns += 999'999'999;
  return ns;
}

Status CheckRelativePath(const std::string& path) {
  if (path.empty() || path.size() > format::kMaxPathLength) {
    return PermissionDeniedError("empty or overlong path", "unsafe_path");
  }
  if (path[0] == '/') return PermissionDeniedError("absolute path " + path, "unsafe_path");
  if (path.find('\0') != std::string::npos) {
    return PermissionDeniedError("path with a NUL byte", "unsafe_path");
  }
  return PlainPathComponents(path).status();
}

Restorer::Restorer(ObjectClient* client, Identity* card, Env* env)
    : client_(client),
      env_(env),
      guard_(std::make_unique<CardGuard>(card, &card_unwraps_)),
      keyring_(guard_.get()) {}

Restorer::~Restorer() = default;

Status Restorer::Load() {
  std::vector<ObjectInfo> blobs;
  for (ObjectKind kind : {ObjectKind::kKey, ObjectKind::kBlob}) {
    ListOptions lo;
    lo.kind = kind;
    lo.limit = kMaxListLimit;
    while (true) {
      CV_ASSIGN_OR_RETURN(ListPage page, client_->List(lo));
      for (const ObjectInfo& info : page.objects) {
        if (kind == ObjectKind::kBlob) {
          blobs.push_back(info);
          continue;
        }
        StatusOr<Bytes> blob = Fetch(*client_, info.id, /*header_only=*/false);
        std::optional<Bytes> hint = HexDecode(info.id.substr(0, 16));
        if (!blob.ok() && !IsDamageOrGone(blob.status())) {
          return blob.status().WithContext("key object " + info.id);
        }
        Status added =
            blob.ok() ? keyring_.AddKeyObject(*blob, hint ? *hint : Bytes{}) : blob.status();
        if (!added.ok()) {
          NoteDamagedKeyObject(info.id, hint ? *hint : Bytes{}, added);
          continue;
        }
        if (hint) epoch_ids_.push_back(*hint);
        MemorySequentialFile src(*blob);
        StatusOr<format::Header> header = ReadHeader(src);
        if (!header.ok()) continue;
        for (const Stanza& s : header->stanzas) {
          if (std::find(card_key_ids_.begin(), card_key_ids_.end(), s.key_id) ==
              card_key_ids_.end()) {
            card_key_ids_.push_back(s.key_id);
          }
        }
      }
      if (!page.truncated || page.objects.empty()) break;
      lo.after = page.objects.back().id;
    }
    if (kind == ObjectKind::kKey) CV_RETURN_IF_ERROR(OpenEpochs());
  }
  // Fetch in parallel and, with the epochs opened above, unwrap and open the metadata there
  // too; then record in order on this thread, which alone may use the card (for a blob
  // whose epoch did not open) and the catalog.
  std::vector<Prepared> prepared(blobs.size());
  std::atomic<size_t> next{0};
  auto worker = [&](ObjectClient* client) {
    OpenedEpochs view(keyring_);
    for (size_t i = next++; i < blobs.size(); i = next++) {
      Prepared& p = prepared[i];
      p.blob = Fetch(*client, blobs[i].id, blobs[i].size > kWholeFetchLimit);
      if (!p.blob.ok() && p.blob.status().reason() == "object_damaged") {
        // Damaged on the server: its header may still be there, to name it by path.
        if (StatusOr<Bytes> head = FetchDamagedHeader(*client, blobs[i]); head.ok()) {
          p.damage = p.blob.status();
          p.blob = std::move(*head);
        }
      }
      if (!p.blob.ok()) continue;
      MemorySequentialFile src(*p.blob);
      p.header = ReadHeader(src);
      if (!p.header.ok()) continue;
      StatusOr<SecretData> key = UnwrapFileKey(*p.header, view);
      if (!key.ok()) continue;
      p.metadata = OpenMetadataWith(*key, *p.header);
      if (p.metadata->ok() && p.damage.ok()) {
        p.damage = CheckContent(*client, blobs[i], *p.blob, *key, *p.header, **p.metadata);
      }
      p.file_key = std::move(*key);
    }
  };
  std::vector<std::thread> threads;
  for (ObjectClient* extra : fetch_clients_) threads.emplace_back(worker, extra);
  worker(client_);
  for (std::thread& t : threads) t.join();
  for (size_t i = 0; i < blobs.size(); ++i) {
    CV_RETURN_IF_ERROR(LoadBlob(blobs[i], std::move(prepared[i])));
  }
  for (auto& [path, versions] : history_) {
    std::sort(versions.begin(), versions.end(), [](const RemoteVersion& a, const RemoteVersion& b) {
      return std::make_tuple(VersionTime(a.metadata), a.uploaded_unix, std::cref(a.object_id)) <
             std::make_tuple(VersionTime(b.metadata), b.uploaded_unix, std::cref(b.object_id));
    });
  }
  return Status::Ok();
}

Status Restorer::OpenEpochs() {
  std::optional<Status> miss;
  for (size_t i = 0; i < keyring_.unopened_key_objects();) {
    guard_->Reset();
    const size_t before = keyring_.unopened_key_objects();
    const Bytes hint(keyring_.unopened_hint(i).begin(), keyring_.unopened_hint(i).end());
    Status opened = keyring_.OpenKeyObjectAt(i);
    if (opened.ok()) continue;  // the next one moved to index i
    if (opened.code() == StatusCode::kCorrupt) {
      NoteDamagedKeyObject("", hint, opened);
      if (keyring_.unopened_key_objects() == before) ++i;
      continue;
    }
    if (!IsCardMiss(opened)) return opened;  // card absent, PIN wrong or locked: stop
    miss = opened;
    ++i;
  }
  if (keyring_.opened_epochs() > 0 || !miss.has_value()) return Status::Ok();
  return WrongCardError(*miss);
}

Status Restorer::WrongCardError(const Status& miss) const {
  std::string ids;
  for (const Bytes& id : card_key_ids_) ids += (ids.empty() ? "" : ", ") + HexEncode(id);
  // The miss names what the inserted cards show; never advice to create a key (a new key
  // opens nothing of this vault).
  return PermissionDeniedError("insert the card with key id " + ids +
                                   ": this card holds none of the keys of this vault, whose key "
                                   "objects are wrapped to that key id (" +
                                   miss.message() + ")",
                               "wrong_card");
}

void Restorer::NoteDamagedKeyObject(const std::string& id, const Bytes& hint,
                                    const Status& status) {
  const std::string name = id.empty() ? HexEncode(hint) + "..." : id;
  load_failures_.push_back({"key object " + name,
                            status.WithContext("the files of its key epoch cannot be read"), id,
                            /*damaged=*/true});
  if (!hint.empty()) damaged_epochs_.push_back(hint);
}

Status Restorer::NoteUnopened(const ObjectInfo& info, const format::Header& header,
                              const Status& status) {
  for (const Stanza& s : header.stanzas) {
    if (std::find(damaged_epochs_.begin(), damaged_epochs_.end(), s.key_id) !=
        damaged_epochs_.end()) {
      load_failures_.push_back(
          {info.id,
           CorruptError("its path cannot be read: the key object of its epoch " +
                            HexEncode(s.key_id) + " is damaged on the server",
                        "key_object_damaged"),
           info.id, /*damaged=*/true});
      return Status::Ok();
    }
  }
  if (status.reason() == "no_matching_stanza") {
    unopenable_.push_back(info.id);  // another identity's epoch: not a damaged object
    return Status::Ok();
  }
  load_failures_.push_back(PathUnknown(info.id, status));
  return Status::Ok();
}

Status Restorer::LoadBlob(const ObjectInfo& info, Prepared prepared) {
  StatusOr<Bytes>& blob = prepared.blob;
  if (!blob.ok()) {
    // Damaged, or deleted since the listing: this object only. Anything else (network,
    // token) stops the whole load.
    if (!IsDamageOrGone(blob.status())) return blob.status().WithContext("object " + info.id);
    load_failures_.push_back(PathUnknown(info.id, blob.status()));
    return Status::Ok();
  }
  StatusOr<format::Header>& header = prepared.header;
  if (!header.ok()) {
    load_failures_.push_back(PathUnknown(info.id, header.status()));
    return Status::Ok();
  }
  if (prepared.file_key.has_value()) {
    return Record(info, std::move(*prepared.file_key), std::move(*prepared.metadata),
                  std::move(*blob), std::move(prepared.damage));
  }
  // No opened epoch holds its key: ask the keyring, which may open a key object not
  // opened before (with the card).
  guard_->Reset();
  StatusOr<SecretData> file_key = UnwrapFileKey(*header, keyring_);
  if (!file_key.ok()) {
    const std::optional<Status>& card = guard_->failed();
    if (card.has_value() && card->code() != StatusCode::kCorrupt) {
      // The card could not open the epoch's key object. With no epoch open at all this is
      // the wrong card; otherwise only this epoch is out of reach.
      if (!IsCardMiss(*card)) return *card;
      if (keyring_.opened_epochs() == 0) return WrongCardError(*card);
    }
    return NoteUnopened(info, *header, file_key.status());
  }
  StatusOr<format::Metadata> metadata = OpenMetadataWith(*file_key, *header);
  Status damage = std::move(prepared.damage);
  if (metadata.ok() && damage.ok()) {
    damage = CheckContent(*client_, info, *blob, *file_key, *header, *metadata);
  }
  return Record(info, std::move(*file_key), std::move(metadata), std::move(*blob),
                std::move(damage));
}

Status Restorer::Record(const ObjectInfo& info, SecretData file_key,
                        StatusOr<format::Metadata> metadata, Bytes fetched, Status damage) {
  if (!metadata.ok()) {
    load_failures_.push_back(PathUnknown(info.id, metadata.status()));
    return Status::Ok();
  }
  if (metadata->kind == format::Kind::kKeyObject) {
    load_failures_.push_back({info.id, CorruptError("a key object stored as a blob"), info.id});
    return Status::Ok();
  }
  if (!IsKnownKind(metadata->kind)) {
    ++unknown_kinds_;  // written by a later version of cardvault: not ours to restore
    return Status::Ok();
  }
  if (Status safe = CheckRelativePath(metadata->path); !safe.ok()) {
    load_failures_.push_back({info.id, safe, info.id});
    return Status::Ok();
  }
  RemoteVersion v;
  v.object_id = info.id;
  v.metadata = std::move(*metadata);
  v.uploaded_unix = info.created_unix;
  v.blob_size = info.size;
  v.damage = std::move(damage);
  // A small blob was fetched whole: keep it for Restore (a large one, only its header).
  if (info.size <= kWholeFetchLimit && !v.damaged()) whole_blobs_[info.id] = std::move(fetched);
  file_keys_.insert_or_assign(info.id, std::move(file_key));
  history_[v.metadata.path].push_back(std::move(v));
  return Status::Ok();
}

StatusOr<std::vector<RemoteVersion>> Restorer::Select(const RestoreOptions& options) const {
  std::vector<RemoteVersion> out;
  if (!options.version_id.empty()) {
    for (const auto& [path, versions] : history_) {
      for (const RemoteVersion& v : versions) {
        if (v.object_id.rfind(options.version_id, 0) == 0) out.push_back(v);
      }
    }
    if (out.empty()) return NotFoundError("no version " + options.version_id, "no_such_version");
    if (out.size() > 1) {
      return InvalidArgumentError("version " + options.version_id + " is ambiguous",
                                  "ambiguous_version");
    }
    if (out[0].metadata.kind == format::Kind::kDeletion) {
      return InvalidArgumentError(
          "version " + options.version_id + " records the deletion of " + out[0].metadata.path,
          "deletion_marker");
    }
    return out;
  }
  // The latest version of each path as of options.at_ns, and its latest content (a file
  // or a directory): what a deleted path had last.
  auto latest_of = [&](const std::vector<RemoteVersion>& versions) {
    std::pair<const RemoteVersion*, const RemoteVersion*> r = {nullptr, nullptr};
    for (const RemoteVersion& v : versions) {
      if (options.at_ns.has_value() && VersionTime(v.metadata) > *options.at_ns) break;
      // Asked for: a damaged file or directory gives way to the intact version before it.
      if (options.allow_older && v.damaged() && v.metadata.kind != format::Kind::kDeletion) {
        continue;
      }
      r.first = &v;
      if (v.metadata.kind != format::Kind::kDeletion) r.second = &v;
    }
    return r;
  };
  std::set<std::string> chosen;
  for (const auto& [path, versions] : history_) {
    if (!Matches(options.globs, path)) continue;
    auto [latest, content] = latest_of(versions);
    if (content == nullptr) continue;
    if (latest != content && !options.include_deleted) continue;
    out.push_back(*content);
    chosen.insert(path);
  }
  // The recorded directories above what was chosen come too, so that they get their modes.
  std::set<std::string> parents;
  for (const RemoteVersion& v : out) {
    for (std::string_view p = ParentDir(v.metadata.path); !p.empty(); p = ParentDir(p)) {
      if (!parents.emplace(p).second) break;  // and its parents were seen already
    }
  }
  for (const std::string& p : parents) {
    auto it = history_.find(p);
    if (it == history_.end() || chosen.count(p) > 0) continue;
    auto [latest, content] = latest_of(it->second);
    if (latest != nullptr && latest == content &&
        latest->metadata.kind == format::Kind::kDirectory) {
      out.push_back(*latest);
    }
  }
  std::sort(out.begin(), out.end(), [](const RemoteVersion& a, const RemoteVersion& b) {
    return a.metadata.path < b.metadata.path;
  });
  return out;
}

StatusOr<RestoreSummary> Restorer::Restore(
    const RestoreOptions& options, const std::function<void(const RestoreProgress&)>& progress) {
  CV_ASSIGN_OR_RETURN(std::vector<RemoteVersion> chosen, Select(options));
  if (options.target_dir.empty()) return InvalidArgumentError("no target directory");
  std::vector<RemoteVersion> directories;
  std::erase_if(chosen, [&](RemoteVersion& v) {
    if (v.metadata.kind != format::Kind::kDirectory) return false;
    directories.push_back(std::move(v));
    return true;
  });
  RestoreSummary summary;
  summary.failures = load_failures_;
  CV_RETURN_IF_ERROR(env_->CreateDirs(options.target_dir));
  StatusOr<FileInfo> target = env_->Stat(options.target_dir);
  if (!target.ok() || !target->is_directory) {
    return FailedPreconditionError(options.target_dir + " is not a directory", "bad_target");
  }
  const std::string staging = options.target_dir + "/" + kStagingDir;
  // One flush of the whole file system at the end where the system allows it (not Windows
  // without administrator rights): otherwise each file is made durable before its rename.
  sync_each_file_ = !env_->CanSyncFileSystem(options.target_dir);
  RestoreProgress p;
  p.files_total = chosen.size();
  for (const RemoteVersion& v : chosen) p.bytes_total += v.metadata.size;
  std::mutex mu;  // guards summary, p and the progress callback
  std::vector<RestoreFailure> failed;
  // Directories first (parents before children: `directories` is in path order), so that
  // an empty one is restored too; their modes and mtimes are set after the files.
  std::vector<const RemoteVersion*> to_finish;
  for (const RemoteVersion& d : directories) {
    if (d.damaged()) {
      failed.push_back(DamagedFailure(d));
      continue;
    }
    Status safe = CheckRelativePath(d.metadata.path);
    StatusOr<bool> created =
        safe.ok() ? MakeDirectory(options.target_dir, d.metadata.path) : StatusOr<bool>(safe);
    if (!created.ok()) {
      failed.push_back({d.metadata.path, created.status()});
    } else if (*created || options.conflict != ConflictPolicy::kSkip) {
      to_finish.push_back(&d);  // --skip-existing leaves a local directory as it is
    }
  }
  auto restore = [&](const RemoteVersion& v) {
    RestoreSummary one;
    Status s = v.damaged() ? Status::Ok() : RestoreOne(options, v, staging, one);
    if (s.code() == StatusCode::kCorrupt && options.allow_older) {
      // Found damaged only now, while downloaded: the older version was asked for.
      if (const RemoteVersion* older = OlderIntact(v); older != nullptr) {
        s = RestoreOne(options, *older, staging, one);
      }
    }
    std::lock_guard lock(mu);
    if (v.damaged()) {
      failed.push_back(DamagedFailure(v));
    } else if (!s.ok()) {
      // A blob that fails its checks while it is restored is damaged on the server too.
      failed.push_back({v.metadata.path, s, v.object_id, s.code() == StatusCode::kCorrupt});
    }
    Merge(summary, std::move(one));
    ++p.files_done;
    p.bytes_done += v.metadata.size;
    p.path = v.metadata.path;
    if (progress) progress(p);
  };
  // Files Load holds in memory are decrypted and written by several threads (each file's
  // work is mostly file system calls); the others are downloaded one at a time after.
  std::vector<const RemoteVersion*> in_memory, remote;
  for (const RemoteVersion& v : chosen) {
    (whole_blobs_.count(v.object_id) > 0 ? in_memory : remote).push_back(&v);
  }
  // A thread takes a directory's files at a time (at most kRunFiles of them; `chosen` is in
  // path order), so that the threads do not queue on one directory's lock for every file
  // they create and rename.
  std::vector<std::pair<size_t, size_t>> runs;
  for (size_t i = 0; i < in_memory.size();) {
    const std::string_view dir = ParentDir(in_memory[i]->metadata.path);
    size_t j = i + 1;
    while (j < in_memory.size() && j - i < kRunFiles &&
           ParentDir(in_memory[j]->metadata.path) == dir) {
      ++j;
    }
    runs.emplace_back(i, j);
    i = j;
  }
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t r = next++; r < runs.size(); r = next++) {
      for (size_t i = runs[r].first; i < runs[r].second; ++i) restore(*in_memory[i]);
    }
  };
  std::vector<std::thread> threads;
  const size_t extra =
      std::min({kWriteThreads - 1, in_memory.size() / 64, runs.empty() ? 0 : runs.size() - 1});
  for (size_t t = 0; t < extra; ++t) threads.emplace_back(worker);
  worker();
  for (std::thread& t : threads) t.join();
  for (const RemoteVersion* v : remote) restore(*v);
  // Children before parents: a mode without write permission must not stop the rest, and
  // setting a child's mtime changes its parent's.
  for (auto it = to_finish.rbegin(); it != to_finish.rend(); ++it) {
    const format::Metadata& m = (*it)->metadata;
    // Walked to again without following a symlink: one may have replaced the directory
    // since it was made, and chmod would follow it.
    Status s = env_->SetDirectoryTimesAndModeInside(options.target_dir, m.path, m.mtime_ns, m.mode);
    if (s.ok()) {
      ++summary.directories;
    } else {
      failed.push_back({m.path, s});
    }
  }
  std::sort(failed.begin(), failed.end(),
            [](const RestoreFailure& a, const RestoreFailure& b) { return a.what < b.what; });
  summary.failures.insert(summary.failures.end(), failed.begin(), failed.end());
  std::sort(summary.renamed.begin(), summary.renamed.end());
  std::error_code ignored;  // the staging directory goes if empty (what is resumable stays)
  std::filesystem::remove(std::filesystem::path(std::u8string(staging.begin(), staging.end())),
                          ignored);
  // One flush of the whole file system instead of an fsync per file. If it fails, the
  // files are there but may not survive a power cut: say so.
  if (Status flushed = sync_each_file_ ? Status::Ok() : env_->SyncFileSystem(options.target_dir);
      !flushed.ok()) {
    summary.failures.push_back({options.target_dir, flushed});
  }
  return summary;
}

const RemoteVersion* Restorer::OlderIntact(const RemoteVersion& v) const {
  const RemoteVersion* older = nullptr;
  for (const RemoteVersion& o : history_.at(v.metadata.path)) {
    if (o.object_id == v.object_id) break;  // history is oldest first
    if (!o.damaged() && o.metadata.kind == v.metadata.kind) older = &o;
  }
  return older;
}

RestoreFailure Restorer::DamagedFailure(const RemoteVersion& v) const {
  std::string message = "version " + v.object_id.substr(0, 16) + " is damaged on the server (" +
                        v.damage.message() + "); nothing was restored for this path";
  if (const RemoteVersion* older = OlderIntact(v); older != nullptr) {
    message += ". The newest intact version before it is " + older->object_id.substr(0, 16) +
               ": restore it with --allow-older or --version " + older->object_id.substr(0, 16);
  }
  return {v.metadata.path, Status(StatusCode::kCorrupt, message, v.damage.reason()), v.object_id,
          /*damaged=*/true};
}

StatusOr<bool> Restorer::MakeDirectory(const std::string& target, std::string_view path) {
  // Every directory on the way MUST be a real directory inside the target, never a symlink.
  std::string dir = target;
  bool created = false;
  size_t start = 0;
  while (start < path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    dir += "/";
    dir += path.substr(start, slash - start);
    start = slash + 1;
    StatusOr<FileInfo> info = env_->Stat(dir);
    if (!info.ok()) {
      CV_RETURN_IF_ERROR(env_->CreateDirs(dir));
      created = true;
      continue;
    }
    if (info->is_symlink) {
      return PermissionDeniedError("refusing to restore through the symlink " + dir, "unsafe_path");
    }
    if (!info->is_directory) return FailedPreconditionError(dir + " is not a directory");
    created = false;
  }
  return created;
}

Status Restorer::RestoreOne(const RestoreOptions& options, const RemoteVersion& version,
                            const std::string& staging, RestoreSummary& summary) {
  const format::Metadata& m = version.metadata;
  CV_RETURN_IF_ERROR(CheckRelativePath(m.path));
  CV_RETURN_IF_ERROR(MakeDirectory(options.target_dir, ParentDir(m.path)).status());
  std::string rel = m.path;
  std::string dest = options.target_dir + "/" + rel;
  for (int attempt = 1;; ++attempt) {
    StatusOr<FileInfo> info = env_->Stat(dest);
    if (!info.ok()) break;
    if (info->is_symlink) {
      return PermissionDeniedError("refusing to replace the symlink " + dest, "unsafe_path");
    }
    if (!info->is_regular) return FailedPreconditionError(dest + " is not a regular file");
    CV_ASSIGN_OR_RETURN(Sha256Digest local, Sha256OfPath(*env_, dest));
    if (local == m.sha256) {
      ++summary.identical;
      return Status::Ok();
    }
    if (options.conflict == ConflictPolicy::kOverwrite) break;
    if (options.conflict == ConflictPolicy::kSkip) {
      ++summary.skipped;
      return Status::Ok();
    }
    std::string name = RestoredName(m.path, Today(*env_));
    if (attempt > 1) {
      const std::string mark = ")";
      const size_t at = name.rfind(" (restored ");
      name.insert(name.find(mark, at), " " + std::to_string(attempt));
    }
    rel = name;
    dest = options.target_dir + "/" + rel;
  }
  StatusOr<format::Metadata> written = [&]() -> StatusOr<format::Metadata> {
    auto cached = whole_blobs_.find(version.object_id);
    if (cached != whole_blobs_.end()) {
      MemorySequentialFile src(cached->second);
      return DecryptToPath(version.object_id, src, options.target_dir, rel);
    }
    // A real directory of the target, never a symlink planted there.
    CV_RETURN_IF_ERROR(MakeDirectory(options.target_dir, kStagingDir).status());
    // The plaintext decrypted so far; ".part" held ciphertext in earlier versions.
    const std::string part = staging + "/" + version.object_id + ".partial";
    env_->RemoveFile(staging + "/" + version.object_id + ".part").IgnoreError();
    StatusOr<format::Metadata> m =
        DownloadAndDecrypt(version, part, options.target_dir, rel, summary);
    // Keep a partial download for the next run only if the failure was transient.
    if (m.ok() || !IsRetryable(m.status())) env_->RemoveFile(part).IgnoreError();
    return m;
  }();
  if (!written.ok()) return written.status();
  if (written->path != m.path || written->sha256 != m.sha256) {
    env_->RemoveFile(dest).IgnoreError();
    return CorruptError("object " + version.object_id + " changed since it was listed",
                        "object_changed");
  }
  if (rel != m.path) summary.renamed.emplace_back(m.path, rel);
  ++summary.restored;
  summary.bytes_written += m.size;
  return Status::Ok();
}

StatusOr<format::Metadata> Restorer::DecryptToPath(const std::string& object_id,
                                                   SequentialFile& source,
                                                   const std::string& target,
                                                   const std::string& rel) {
  auto key = file_keys_.find(object_id);
  if (key == file_keys_.end()) return InternalError("no file key loaded for " + object_id);
  CV_ASSIGN_OR_RETURN(format::Header header, ReadHeader(source));
  // The header MAC is checked again under the same key: a blob replaced on the server
  // since Load fails here.
  CV_ASSIGN_OR_RETURN(auto decryptor, Decryptor::New(&source, std::move(header),
                                                     SecretData::CopyFrom(key->second.span())));
  uint8_t r[6];
  CV_RETURN_IF_ERROR(env_->RandomBytes(r));
  const std::string tmp = target + "/" + rel + ".cv-tmp-" + HexEncode(r);
  Status s;
  {
    CV_ASSIGN_OR_RETURN(auto sink, env_->NewWritableFile(tmp, 0600));
    s = decryptor->DecryptTo(*sink);
    if (s.ok() && sync_each_file_) s = sink->Sync();
    if (s.ok()) s = sink->Close();
  }
  const format::Metadata& m = decryptor->metadata();
  if (s.ok()) s = env_->SetFileTimesAndMode(tmp, m.mtime_ns, m.mode);
  if (s.ok()) s = env_->RenameInside(tmp, target, rel);
  if (!s.ok()) {
    env_->RemoveFile(tmp).IgnoreError();
    return s;
  }
  return m;
}

StatusOr<format::Metadata> Restorer::DownloadAndDecrypt(const RemoteVersion& version,
                                                        const std::string& part,
                                                        const std::string& target,
                                                        const std::string& rel,
                                                        RestoreSummary& summary) {
  // An earlier run's plaintext is kept up to its last whole chunk; the final chunk is
  // always decrypted again.
  const uint64_t chunks = format::ChunkCount(version.metadata.size);
  uint64_t first_chunk = 0;
  if (StatusOr<FileInfo> info = env_->Stat(part); info.ok() && info->is_regular) {
    first_chunk = std::min<uint64_t>(info->size / format::kChunkSize, chunks - 1);
  }
  StatusOr<format::Metadata> m = DecryptFromServer(version, part, first_chunk, summary);
  if (!m.ok() && first_chunk > 0 && m.status().reason() == "content_hash_mismatch") {
    // What the earlier run left was damaged (a power cut, a hand edit): start over.
    m = DecryptFromServer(version, part, 0, summary);
  }
  if (!m.ok()) return m;
  Status s = env_->SetFileTimesAndMode(part, m->mtime_ns, m->mode);
  if (s.ok()) s = env_->RenameInside(part, target, rel);
  if (!s.ok()) return s;
  return m;
}

StatusOr<format::Metadata> Restorer::DecryptFromServer(const RemoteVersion& version,
                                                       const std::string& part,
                                                       uint64_t first_chunk,
                                                       RestoreSummary& summary) {
  auto key = file_keys_.find(version.object_id);
  if (key == file_keys_.end()) return InternalError("no file key loaded for " + version.object_id);
  // Resuming: the header is fetched alone and the download starts at the first chunk that
  // is missing. Otherwise the header is read from the download itself.
  std::optional<format::Header> header;
  uint64_t offset = 0;
  std::unique_ptr<SequentialFile> prefix;
  std::unique_ptr<WritableFile> file;
  if (first_chunk > 0) {
    CV_ASSIGN_OR_RETURN(Bytes head, Fetch(*client_, version.object_id, /*header_only=*/true));
    MemorySequentialFile src(head);
    CV_ASSIGN_OR_RETURN(header, ReadHeader(src));  // checks the preamble parsed next
    const uint32_t header_length =
        format::ParsePreamble(ByteView(head).subspan(0, format::kPreambleSize)).value();
    offset = format::kPreambleSize + header_length + format::SealedChunkOffset(first_chunk);
    CV_ASSIGN_OR_RETURN(prefix, env_->NewSequentialFile(part));
    CV_ASSIGN_OR_RETURN(file, env_->ReopenWritableFile(part, first_chunk * format::kChunkSize));
  } else {
    CV_ASSIGN_OR_RETURN(file, env_->NewWritableFile(part, 0600));
  }
  file->AdviseWriteOnce();  // 1 MiB blocks go to the disk without a copy in the page cache
  // The download runs on its own thread into a bounded pipe that the decryption reads, so
  // the network, the decryption, the hash and the writes overlap in constant memory.
  StreamPipe pipe(kPipeBytes);
  Status downloaded;
  std::thread downloader([&] {
    GetOptions get;
    get.offset = offset;
    get.verify_sha256 = false;  // the blob's AEAD checks every byte, and the content hash
    StatusOr<ObjectInfo> r = client_->Get(version.object_id, get, [&](ByteView b) -> Status {
      summary.bytes_downloaded += b.size();
      return pipe.Write(b);
    });
    downloaded = r.status();
    pipe.Finish(downloaded);
  });
  std::optional<format::Metadata> metadata;
  Status s = [&]() -> Status {
    if (!header.has_value()) {
      CV_ASSIGN_OR_RETURN(header, ReadHeader(pipe));
    }
    // The header MAC is checked again under the key Load unwrapped: a blob replaced on the
    // server since then fails here.
    CV_ASSIGN_OR_RETURN(auto decryptor, Decryptor::New(&pipe, std::move(*header),
                                                       SecretData::CopyFrom(key->second.span())));
    DecryptOptions options;
    options.first_chunk = first_chunk;
    options.plaintext_prefix = prefix.get();
    CV_RETURN_IF_ERROR(decryptor->DecryptTo(*file, options));
    metadata = decryptor->metadata();  // a v2 blob's hash is known only now
    if (sync_each_file_) CV_RETURN_IF_ERROR(file->Sync());
    return file->Close();
  }();
  if (!s.ok()) pipe.Cancel();
  downloader.join();
  // A failed download (not one stopped by us) explains the failed decryption that read it.
  if (!s.ok() && !downloaded.ok() && downloaded.code() != StatusCode::kCancelled) {
    return downloaded;
  }
  if (!s.ok()) return s;
  return *metadata;
}

}  // namespace cardvault
