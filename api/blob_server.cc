// BlobServer implementation: httplib::SSLServer routes, auth, streaming and error mapping.
#include "api/blob_server.h"

#include <httplib.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <limits>
#include <list>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <tuple>

#include "api/proxy_protocol.h"
#include "api/server_tls_context.h"
#include "api/tls_stream.h"
#include "api/xxh128.h"
#include "core/crypto.h"

namespace cardvault {
namespace {

// The current time as an HTTP Date (IMF-fixdate, RFC 9110).
std::string HttpDateNow() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[64];
  std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return text;
}

using Json = nlohmann::json;

// Bodies of rejected uploads up to this size are read and discarded so the connection
// stays usable; larger ones close the connection instead.
constexpr uint64_t kDrainLimit = 16 << 20;
// Unauthenticated clients get far less of the server's time.
constexpr uint64_t kUnauthenticatedDrainLimit = 64 << 10;
constexpr size_t kDownloadChunk = 256 << 10;
static_assert(kAppendedDigestBytes == std::tuple_size_v<Sha256Digest>);
static_assert(kAppendedXxh128Bytes == std::tuple_size_v<Xxh128Digest>);
static_assert(kMaxAppendedDigestBytes >= kAppendedDigestBytes &&
              kMaxAppendedDigestBytes >= kAppendedXxh128Bytes);

// Per-request context for the access log. Every connection runs on a thread of its own
// (ThreadPerConnection), so thread-local storage is per connection and per request here.
thread_local std::string tls_user;
thread_local int64_t tls_start_ns = 0;
// Set for a connection beyond the limits: every request on it is answered 503 "overloaded".
thread_local bool tls_overloaded = false;
// The connection's stream (nullptr in ProcessRawForTesting): authentication lifts its
// header deadline.
thread_local TlsStream* tls_stream = nullptr;
// Set by ForceClose: the connection ends after this response.
thread_local bool tls_close_after = false;
// Set while the accepting thread runs a connection's closure itself: close it at once.
thread_local bool tls_refuse_now = false;

// Connections beyond max_connections (or a client's share) still get a thread, up to this
// many, to be told 503 "overloaded" over TLS; past that they are closed before TLS.
constexpr size_t kOverflowConnections = 16;
// An overloaded connection gets at most this long for its handshake and request.
constexpr auto kOverflowDeadline = std::chrono::seconds(2);

// httplib's task queue, one thread per connection: httplib's accept loop hands over each
// accepted connection as a closure, which runs on a new thread, so a connection that idles
// or drips bytes holds only its own thread and never one another client needs. At most
// `max_threads` run at once; beyond that the closure runs on the accepting thread with
// tls_refuse_now set, which closes the socket without a read. httplib calls enqueue,
// on_idle and shutdown from its accepting thread only.
class ThreadPerConnection final : public httplib::TaskQueue {
 public:
  explicit ThreadPerConnection(size_t max_threads) : max_threads_(max_threads) {}
  ~ThreadPerConnection() override { shutdown(); }

  void enqueue(std::function<void()> fn) override {
    Reap();
    if (workers_.size() < max_threads_) {
      try {
        Worker& w = workers_.emplace_back();
        w.thread = std::thread([fn, done = &w.done] {
          fn();
          done->store(true);
        });
        return;
      } catch (const std::system_error&) {
        workers_.pop_back();  // no thread to be had: refuse like a connection over the limit
      }
    }
    tls_refuse_now = true;
    fn();
    tls_refuse_now = false;
  }

  void on_idle() override { Reap(); }

  void shutdown() override {
    for (Worker& w : workers_) w.thread.join();
    workers_.clear();
  }

 private:
  struct Worker {
    std::thread thread;
    std::atomic<bool> done{false};
  };
  void Reap() {
    for (auto it = workers_.begin(); it != workers_.end();) {
      if (!it->done.load()) {
        ++it;
        continue;
      }
      it->thread.join();
      it = workers_.erase(it);
    }
  }

  const size_t max_threads_;
  std::list<Worker> workers_;
};

std::string JsonText(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

void SendError(httplib::Response& res, int http_status, std::string_view code,
               std::string_view message) {
  res.status = http_status;
  Json j = {{"error", {{"code", code}, {"message", message}}}};
  res.set_content(JsonText(j), "application/json");
}

// The server's own storage misconfigured: the byte store refusing the server's credentials
// ("object_store_denied", e.g. S3 answering 403) or its bucket missing ("no_such_bucket", a
// bucket deleted or misnamed). A problem for the operator: a 503 for the client, never the
// 401 that would tell it that its token is wrong, nor a 500.
bool IsStorageMisconfigured(const Status& s) {
  return (s.code() == StatusCode::kPermissionDenied && s.reason() == "object_store_denied") ||
         (s.code() == StatusCode::kFailedPrecondition && s.reason() == "no_such_bucket");
}

// What the operator checks for each misconfiguration (the store's message says which
// request failed and how).
const char* StorageCheckHint(const Status& s) {
  if (s.reason() == "no_such_bucket") {
    return "check that the bucket in config.json (s3.bucket) exists at s3.endpoint; "
           "cardvault-server check names it";
  }
  return "check the S3 credentials file and the bucket's policy; cardvault-server check names "
         "the refusal";
}

// Logs a storage misconfiguration once, not per request: the first time a reason is seen,
// then at most once a minute while it lasts, with how many requests failed in between.
void LogStorageMisconfigured(const Status& s) {
  constexpr int64_t kRelogSeconds = 60;
  static std::mutex mu;
  static std::map<std::string, std::pair<int64_t, uint64_t>> seen;  // reason -> (logged, since)
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  uint64_t suppressed = 0;
  {
    std::lock_guard lock(mu);
    auto [it, first] = seen.try_emplace(s.reason(), now, 0);
    if (!first && now - it->second.first < kRelogSeconds) {
      ++it->second.second;
      return;
    }
    suppressed = it->second.second;
    it->second = {now, 0};
  }
  const std::string repeats = suppressed == 0 ? ""
                                              : "; " + std::to_string(suppressed) +
                                                    " more such answers since the last line";
  std::fprintf(stderr,
               "cardvault-server: storage_misconfigured: %s; %s (every request that needs the "
               "storage answers 503 until it is fixed; logged again at most once a minute%s)\n",
               s.ToString().c_str(), StorageCheckHint(s), repeats.c_str());
}

int HttpStatusFor(const Status& s) {
  if (IsStorageMisconfigured(s)) return 503;
  switch (s.code()) {
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kPermissionDenied:
      return 401;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kAlreadyExists:
      return s.reason() == "object_exists" ? 412 : 409;
    case StatusCode::kResourceExhausted:
      return s.reason() == "object_too_large" ? 413 : 507;
    case StatusCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

// The stored bytes of an object do not match its index row (docs/server.md, "Damaged
// objects"): 410, never 200/206 and never a 5xx, which clients retry as transient. The
// store's message names the id and the sizes, never a path.
void SendDamaged(httplib::Response& res, const Status& s) {
  std::fprintf(stderr, "cardvault-server: object_damaged: user=%s %s\n",
               tls_user.empty() ? "-" : tls_user.c_str(), s.message().c_str());
  res.set_header("Cache-Control", "no-store");
  SendError(res, 410, "object_damaged",
            s.message() +
                "; the server cannot serve it (restore another version, or upload it "
                "again; the operator runs cardvault-server check)");
}

// 503 for a store the server cannot reach: the reason names which one (the details, such
// as endpoints, stay in the log), so a client and its user see why and that it is transient.
void SendUnavailable(httplib::Response& res, const Status& s) {
  res.set_header("Retry-After", "5");
  if (s.reason() == "object_store_unavailable") {
    return SendError(res, 503, s.reason(),
                     "the server cannot reach its object store: try again later (the operator "
                     "checks the object store)");
  }
  if (s.reason() == "index_unavailable") {
    return SendError(res, 503, s.reason(),
                     "the server cannot reach its database: try again later (the operator checks "
                     "PostgreSQL)");
  }
  SendError(res, 503, "unavailable", "try again later");
}

// 503 storage_misconfigured: the details (bucket, endpoint, S3 codes) go to the log once.
void SendStorageMisconfigured(httplib::Response& res, const Status& s) {
  LogStorageMisconfigured(s);
  res.set_header("Retry-After", "30");
  SendError(res, 503, "storage_misconfigured",
            "the server's storage is misconfigured (it refused the server's own credentials, "
            "or its bucket is missing): a server configuration problem for its operator (see "
            "the server's log); your token is fine, try again later");
}

void SendStatus(httplib::Response& res, const Status& s) {
  if (s.reason() == "object_damaged") return SendDamaged(res, s);
  int http = HttpStatusFor(s);
  if (http == 507 && (s.reason() == "quota_exceeded" || s.reason() == "retained_quota_exceeded")) {
    return SendError(res, 507, s.reason(), s.message());
  }
  if (IsStorageMisconfigured(s)) return SendStorageMisconfigured(res, s);
  if (http >= 500) {
    // Server-side details (paths, SQLite messages) go to the log, not to the client.
    std::fprintf(stderr, "cardvault-server: error: %s\n", s.ToString().c_str());
    if (http == 507) return SendError(res, 507, "insufficient_storage", "the server is full");
    if (http == 503) return SendUnavailable(res, s);
    return SendError(res, 500, "internal", "internal server error");
  }
  SendError(res, http, s.reason().empty() ? StatusCodeName(s.code()) : s.reason(), s.message());
}

// Seconds `address` stays blocked; a back-off that cannot answer is logged and blocks nothing
// (the token check still refuses bad tokens).
int64_t BlockedSeconds(AuthBackoff& backoff, const std::string& address, int64_t now) {
  StatusOr<int64_t> wait = backoff.Blocked(address, now);
  if (wait.ok()) return *wait;
  std::fprintf(stderr, "cardvault-server: auth back-off: %s\n", wait.status().ToString().c_str());
  return 0;
}

Json InfoJson(const ObjectInfo& info) {
  return {{"id", info.id},
          {"kind", ObjectKindName(info.kind)},
          {"size", info.size},
          {"sha256", info.sha256},
          {"created", info.created_unix}};
}

void SetObjectHeaders(httplib::Response& res, const ObjectInfo& info) {
  res.set_header("ETag", "\"" + info.sha256 + "\"");
  res.set_header("X-Content-SHA256", info.sha256);
  res.set_header("X-Object-Kind", std::string(ObjectKindName(info.kind)));
  res.set_header("X-Object-Created", std::to_string(info.created_unix));
}

std::optional<uint64_t> ParseU64(std::string_view text) {
  uint64_t value = 0;
  if (text.empty()) return std::nullopt;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// How an upload's content is checked (docs/server.md): the SHA-256 in X-Content-SHA256, or a
// digest appended to the body, "X-Content-SHA256: appended" or "X-Content-XXH128: appended".
enum class UploadCheck { kHeaderSha256, kAppendedSha256, kAppendedXxh128 };

// How many trailing bytes of the body are the digest, not the object.
uint64_t AppendedBytes(UploadCheck check) {
  switch (check) {
    case UploadCheck::kHeaderSha256:
      return 0;
    case UploadCheck::kAppendedSha256:
      return kAppendedDigestBytes;
    case UploadCheck::kAppendedXxh128:
      return kAppendedXxh128Bytes;
  }
  return 0;
}

// The upload's check from its headers: exactly one of X-Content-SHA256 (64 lowercase hex, or
// "appended") and X-Content-XXH128 ("appended"). Errors are kInvalidArgument with the
// reason to answer 400 with.
StatusOr<UploadCheck> ParseUploadCheck(const httplib::Request& req) {
  const bool sha = req.has_header("X-Content-SHA256");
  const bool xxh = req.has_header(std::string(kXxh128Header).c_str());
  if (sha && xxh) {
    return InvalidArgumentError("send one of X-Content-SHA256 and X-Content-XXH128, not both",
                                "conflicting_checksums");
  }
  if (xxh) {
    if (req.get_header_value(std::string(kXxh128Header).c_str()) != kXxh128Appended) {
      return InvalidArgumentError("X-Content-XXH128 must be \"appended\"", "bad_xxh128");
    }
    return UploadCheck::kAppendedXxh128;
  }
  if (!sha) {
    return InvalidArgumentError(
        "an upload needs X-Content-SHA256 (64 lowercase hex characters or \"appended\") or "
        "X-Content-XXH128: appended",
        "bad_sha256");
  }
  const std::string value = req.get_header_value("X-Content-SHA256");
  if (value == kAppendedDigest) return UploadCheck::kAppendedSha256;
  if (!IsValidSha256Hex(value)) {
    return InvalidArgumentError(
        "X-Content-SHA256 must be 64 lowercase hex characters or \"appended\"", "bad_sha256");
  }
  return UploadCheck::kHeaderSha256;
}

// Splits an upload body into the object's bytes, appended to the PendingPut, and with an
// appended check the trailing AppendedBytes(check), kept here. Reads may split the body
// anywhere, the digest included.
class BodySplitter {
 public:
  BodySplitter(PendingPut& pending, uint64_t object_size, UploadCheck check)
      : pending_(pending),
        object_size_(object_size),
        check_(check),
        digest_bytes_(static_cast<size_t>(AppendedBytes(check))) {
    if (check_ == UploadCheck::kAppendedXxh128) xxh_.emplace();
  }

  // The next bytes of the body. Not OK: the upload is dead.
  Status Feed(ByteView data) {
    ByteView object_part = data;
    if (digest_bytes_ > 0) {
      const uint64_t object_left = object_size_ - std::min(received_, object_size_);
      object_part = data.first(static_cast<size_t>(std::min<uint64_t>(data.size(), object_left)));
      ByteView rest = data.subspan(object_part.size());
      if (rest.size() > digest_bytes_ - digest_length_) {
        return InvalidArgumentError("more bytes than the Content-Length", "size_mismatch");
      }
      std::copy(rest.begin(), rest.end(), digest_.begin() + digest_length_);
      digest_length_ += rest.size();
    }
    received_ += data.size();
    if (object_part.empty()) return Status::Ok();
    if (xxh_.has_value()) xxh_->Update(object_part);
    return pending_.Append(object_part);
  }

  // After the whole body: hands the appended SHA-256 to the PendingPut (its Commit
  // compares it with the content), or compares the appended XXH3-128 here and lets the
  // PendingPut publish under the SHA-256 it computed.
  Status Finish() {
    if (check_ == UploadCheck::kHeaderSha256) return Status::Ok();
    const ByteView digest(digest_.data(), digest_bytes_);
    const bool xxh128 = check_ == UploadCheck::kAppendedXxh128;
    if (digest_length_ != digest_bytes_) {
      return InvalidArgumentError(xxh128 ? "the body ended before its appended XXH3-128"
                                         : "the body ended before its appended SHA-256",
                                  "incomplete_body");
    }
    if (!xxh128) return pending_.SetExpectedSha256(HexEncode(digest));
    const Xxh128Digest actual = xxh_->Finish();
    if (!std::equal(actual.begin(), actual.end(), digest.begin(), digest.end())) {
      return InvalidArgumentError(
          "content XXH3-128 is " + HexEncode(actual) + ", declared " + HexEncode(digest),
          "xxh128_mismatch");
    }
    return pending_.AcceptComputedSha256();
  }

 private:
  PendingPut& pending_;
  const uint64_t object_size_;
  const UploadCheck check_;
  const size_t digest_bytes_;
  uint64_t received_ = 0;
  std::array<uint8_t, kMaxAppendedDigestBytes> digest_{};
  size_t digest_length_ = 0;
  std::optional<Xxh128Hasher> xxh_;  // kAppendedXxh128: the object's bytes so far
};

// Answers with "Connection: close" (httplib copies the request's Connection header into
// the response), and the connection loop (Routes) ends the connection after this response,
// reading and dropping for a moment what the client still sends so it sees the answer. The
// Request object is not const inside httplib, so the cast is well-defined.
void ForceClose(const httplib::Request& req) {
  tls_close_after = true;
  auto& mutable_req = const_cast<httplib::Request&>(req);
  mutable_req.headers.erase("Connection");
  mutable_req.headers.emplace("Connection", "close");
}

// What makes the request's body length ambiguous (RFC 9112 section 6.3), if anything: more
// than one Content-Length (httplib would use the first), one that is not plain digits, or
// one next to a Transfer-Encoding.
std::optional<std::string> FramingProblem(const httplib::Request& req) {
  const size_t lengths = req.get_header_value_count("Content-Length");
  if (lengths == 0) return std::nullopt;
  if (lengths > 1) return "more than one Content-Length";
  const std::string value = req.get_header_value("Content-Length");
  if (value.empty() || value.find_first_not_of("0123456789") != std::string::npos) {
    return "Content-Length must be a decimal number";
  }
  if (req.has_header("Transfer-Encoding")) return "Content-Length with Transfer-Encoding";
  return std::nullopt;
}

// A body on a request that takes none: anything but an upload with a Transfer-Encoding or a
// Content-Length above 0. Only uploads stream their body (ContentReader); httplib reads any
// other body whole into memory before routing it.
bool UnexpectedBody(const httplib::Request& req) {
  constexpr std::string_view kObjects = "/v1/objects/";
  if (req.method == "PUT" && req.path.compare(0, kObjects.size(), kObjects) == 0) return false;
  if (req.has_header("Transfer-Encoding")) return true;
  auto length = ParseU64(req.get_header_value("Content-Length"));
  return length.has_value() && *length > 0;
}

// Keeps the connection in sync after rejecting an upload without consuming its body.
void DiscardBody(const httplib::Request& req, const httplib::ContentReader& reader,
                 uint64_t limit = kDrainLimit) {
  auto length = ParseU64(req.get_header_value("Content-Length"));
  if (length.has_value() && *length <= limit) {
    if (reader([](const char*, size_t) { return true; })) return;
  }
  ForceClose(req);
}

// A single byte range "bytes=a-b", "bytes=a-" or "bytes=-n" against `size`.
struct RangeResult {
  enum { kIgnore, kUnsatisfiable, kRange } kind = kIgnore;
  uint64_t start = 0;
  uint64_t length = 0;
};

RangeResult ParseRange(std::string_view header, uint64_t size) {
  RangeResult r;
  constexpr std::string_view kPrefix = "bytes=";
  if (header.substr(0, kPrefix.size()) != kPrefix) return r;
  std::string_view spec = header.substr(kPrefix.size());
  if (spec.find(',') != std::string_view::npos) return r;  // multiple ranges: send all
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return r;
  auto first = spec.substr(0, dash);
  auto last = spec.substr(dash + 1);
  if (first.empty()) {
    auto n = ParseU64(last);
    if (!n.has_value()) return r;
    if (*n == 0 || size == 0) {
      r.kind = RangeResult::kUnsatisfiable;
      return r;
    }
    r.kind = RangeResult::kRange;
    r.length = std::min(*n, size);
    r.start = size - r.length;
    return r;
  }
  auto a = ParseU64(first);
  if (!a.has_value()) return r;
  uint64_t end = size == 0 ? 0 : size - 1;
  if (!last.empty()) {
    auto b = ParseU64(last);
    if (!b.has_value() || *b < *a) return r;
    end = std::min(*b, end);
  }
  if (*a >= size) {
    r.kind = RangeResult::kUnsatisfiable;
    return r;
  }
  r.kind = RangeResult::kRange;
  r.start = *a;
  r.length = end - *a + 1;
  return r;
}

std::string Sanitize(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 200)) {
    out.push_back(c >= 0x21 && c <= 0x7e ? c : '?');
  }
  return out;
}

// One connection's bytes in memory, for ProcessRawForTesting.
class MemoryStream final : public httplib::Stream {
 public:
  explicit MemoryStream(std::string_view in) : in_(in) {}
  bool is_readable() const override { return pos_ < in_.size(); }
  bool is_writable() const override { return true; }
  ssize_t read(char* ptr, size_t size) override {
    size_t n = std::min(size, in_.size() - pos_);
    std::memcpy(ptr, in_.data() + pos_, n);
    pos_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    out_.append(ptr, size);
    return static_cast<ssize_t>(size);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 1;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 2;
  }
  socket_t socket() const override { return INVALID_SOCKET; }
  bool exhausted() const { return pos_ >= in_.size(); }
  std::string& out() { return out_; }

 private:
  std::string_view in_;
  size_t pos_ = 0;
  std::string out_;
};

// Sends `length` bytes of `reader` from `start` as the body, in chunks, outside the handler.
void StreamBody(httplib::Response& res, std::shared_ptr<BlobReader> reader, uint64_t start,
                uint64_t length) {
  if (length == 0) return;  // an empty body; httplib sends Content-Length: 0
  auto buffer = std::make_shared<std::vector<uint8_t>>(kDownloadChunk);
  res.set_content_provider(
      static_cast<size_t>(length), "application/octet-stream",
      [reader, buffer, start](size_t offset, size_t want, httplib::DataSink& sink) {
        // Runs outside the handler's exception edge: nothing may escape.
        try {
          size_t chunk = std::min(want, buffer->size());
          auto n = reader->ReadAt(start + offset, std::span(buffer->data(), chunk));
          if (!n.ok()) {
            // The status line is out: the connection is cut, never padded.
            std::fprintf(stderr, "cardvault-server: download cut: user=%s %s\n",
                         tls_user.empty() ? "-" : tls_user.c_str(), n.status().ToString().c_str());
            return false;
          }
          if (*n == 0) return false;  // aborts the response
          return sink.write(reinterpret_cast<const char*>(buffer->data()), *n);
        } catch (...) {
          return false;
        }
      });
}

// A bounded Range request for an object damaged on the disk (docs/server.md, "Damaged
// objects"): the bytes asked for are served (206, "X-Object-Damaged: true") when they are
// stored and end before the object's last byte, so that a client can still read the
// header and name the object; anything else answers the damage (410).
void ServeDamagedPrefix(BlobStore& store, const httplib::Request& req, httplib::Response& res,
                        const std::string& user, const std::string& id, const Status& damage) {
  StatusOr<ObjectInfo> info = store.Head(user, id);
  if (!info.ok()) return SendStatus(res, info.status());
  const RangeResult range = ParseRange(req.get_header_value("Range"), info->size);
  if (range.kind != RangeResult::kRange || range.start + range.length >= info->size) {
    return SendStatus(res, damage);
  }
  auto opened = store.OpenPrefix(user, id, range.start + range.length);
  if (!opened.ok()) return SendStatus(res, opened.status());
  SetObjectHeaders(res, *info);
  res.set_header("X-Object-Damaged", "true");
  res.set_header("Cache-Control", "no-store");
  res.status = 206;
  res.set_header("Content-Range", "bytes " + std::to_string(range.start) + "-" +
                                      std::to_string(range.start + range.length - 1) + "/" +
                                      std::to_string(info->size));
  StreamBody(res, std::move(*opened), range.start, range.length);
}

}  // namespace

// httplib's TLS server with the connection handling replaced (see ThreadPerConnection and
// TlsStream): httplib accepts, parses and routes; this class runs each connection's TLS,
// deadlines, limits and keep-alive. The per-request processing is also reachable for
// ProcessRawForTesting.
class BlobServer::Routes final : public httplib::SSLServer {
 public:
  using httplib::SSLServer::SSLServer;

  bool Relisten(int backlog) { return ::listen(svr_sock_, backlog) == 0; }

  void SetOwner(BlobServer* owner) {
    owner_ = owner;
    const ServerConfig& config = owner->config_;
    limits_.read_timeout = std::chrono::seconds(config.read_timeout_seconds);
    limits_.write_timeout = std::chrono::seconds(config.write_timeout_seconds);
    limits_.max_header_bytes = static_cast<size_t>(config.max_header_bytes);
    // The request line and the blank line after the headers are lines too.
    limits_.max_header_lines = static_cast<size_t>(config.max_header_count) + 2;
  }

  std::string Process(std::string_view bytes) {
    MemoryStream stream(bytes);
    // As the connection loop: requests until the input ends or one closes it.
    for (int i = 0; i < 64 && !stream.exhausted(); ++i) {
      bool closed = false;
      tls_close_after = false;
      if (!process_request(stream, /*close_connection=*/false, closed, nullptr) || closed ||
          tls_close_after) {
        break;
      }
    }
    tls_close_after = false;
    return std::move(stream.out());
  }

 private:
  using Clock = TlsStream::Clock;

  bool stopping() const { return svr_sock_ == INVALID_SOCKET; }

  // One connection, on its own thread: admission, TLS, then requests until the client
  // closes, idles past the keep-alive timeout, or a limit is reached.
  bool process_and_close_socket(socket_t sock) override {
    if (tls_refuse_now) {
      ::shutdown(sock, SHUT_RDWR);
      ::close(sock);
      return false;
    }
    const ServerConfig& config = owner_->config_;
    const auto accepted = Clock::now();
    // This connection keeps the certificate it started with, whatever a reload does later.
    const ServerTlsContext::CtxRef tls_context = owner_->tls_->Current();
    TlsStream stream(sock, tls_context.get(), limits_, [this] { return stopping(); });
    const auto header_deadline = accepted + std::chrono::seconds(config.header_timeout_seconds);
    std::string address;
    int port = 0;
    stream.get_remote_ip_and_port(address, port);
    if (owner_->proxies_.Contains(address)) {
      Status proxied = TakeProxyHeader(stream, address, header_deadline);
      if (!proxied.ok()) {
        std::fprintf(stderr, "cardvault-server: connection from load balancer %s closed: %s\n",
                     address.c_str(), proxied.message().c_str());
        return false;
      }
    }
    ConnectionLimiter::Slot slot = owner_->connections_.Admit(address);
    const bool overloaded = !slot;
    const auto first_deadline =
        overloaded ? std::min(header_deadline, accepted + kOverflowDeadline) : header_deadline;
    if (!stream.Handshake(first_deadline)) return false;
    tls_overloaded = overloaded;
    tls_stream = &stream;
    bool graceful = true;
    for (size_t n = 0;; ++n) {
      if (n > 0) {
        if (!stream.WaitForRequest(std::chrono::seconds(keep_alive_timeout_sec_))) break;
        stream.BeginHeaders(Clock::now() + std::chrono::seconds(config.header_timeout_seconds));
      } else {
        stream.BeginHeaders(first_deadline);
      }
      const bool last = overloaded || n + 1 >= keep_alive_max_count_ || stopping();
      bool closed = false;
      tls_close_after = false;
      const bool ok = process_request(stream, last, closed, [&](httplib::Request& req) {
        req.ssl = stream.ssl();
        stream.EndHeaders();
      });
      if (stream.headers_too_large()) {
        RefuseHeaders(stream, address);
        graceful = false;
        break;
      }
      if (tls_close_after) {
        stream.CloseAfterRefusal();
        break;
      }
      if (!ok || closed || last || stream.broken()) {
        graceful = ok && !stream.broken();
        break;
      }
    }
    tls_stream = nullptr;
    tls_overloaded = false;
    tls_close_after = false;
    stream.Close(graceful);
    return true;
  }

  // A connection from a load balancer in proxy_protocol_from: reads its PROXY header (the
  // header alone, by `deadline`) and makes the client it names the connection's address
  // (`address` and the stream's); LOCAL and UNKNOWN keep the balancer's. An error says why
  // the connection is to be closed.
  static Status TakeProxyHeader(TlsStream& stream, std::string& address,
                                Clock::time_point deadline) {
    std::string bytes;
    // Each round reads at least one more byte, and a header is at most kMaxProxyHeaderBytes.
    for (size_t round = 0; round <= kMaxProxyHeaderBytes; ++round) {
      const ProxyHeader header = ParseProxyHeader(bytes);
      if (header.kind == ProxyHeader::Kind::kInvalid) {
        return InvalidArgumentError("bad PROXY protocol header: " + header.error,
                                    "bad_proxy_header");
      }
      if (header.kind == ProxyHeader::Kind::kHeader) {
        if (header.source.has_value()) {
          address = header.source->address;
          stream.SetRemoteAddress(header.source->address, header.source->port);
        }
        return Status::Ok();
      }
      const size_t have = bytes.size();
      bytes.resize(header.length);
      if (!stream.ReadBeforeTls(bytes.data() + have, header.length - have, deadline)) {
        return UnavailableError(
            "no complete PROXY protocol header within header_timeout_seconds (or the "
            "connection closed before one)",
            "no_proxy_header");
      }
    }
    return InternalError("PROXY header reader did not finish", "internal");
  }

  void RefuseHeaders(TlsStream& stream, const std::string& address) {
    const std::string body = JsonText(
        {{"error",
          {{"code", "headers_too_large"},
           {"message", "the request line and headers exceed " +
                           std::to_string(owner_->config_.max_header_bytes) + " bytes or " +
                           std::to_string(owner_->config_.max_header_count) + " header lines"}}}});
    stream.WriteAll(
        "HTTP/1.1 431 Request Header Fields Too Large\r\n"
        "Content-Type: application/json\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
    stream.CloseAfterRefusal();
    if (owner_->config_.access_log) {
      std::fprintf(stderr, "access %s - - 431 user=- headers too large\n", address.c_str());
    }
  }

  BlobServer* owner_ = nullptr;
  TlsStream::Limits limits_;
};

std::string BlobServer::ProcessRawForTesting(std::string_view bytes) {
  return server_->Process(bytes);
}

BlobServer::BlobServer(const ServerConfig& config, BlobStore* store, TokenStore* tokens, Env* env,
                       AuthBackoff* auth_backoff)
    : config_(config),
      store_(store),
      tokens_(tokens),
      env_(env),
      limiter_(config.auth_failures_before_backoff, config.auth_failure_window_seconds,
               config.auth_backoff_seconds),
      backoff_(auth_backoff != nullptr ? auth_backoff : &limiter_),
      connections_(static_cast<size_t>(config.max_connections),
                   static_cast<size_t>(config.max_connections_per_address)) {}

BlobServer::~BlobServer() { Stop(); }

Status BlobServer::Ready() {
  std::lock_guard lock(ready_mu_);  // callers meanwhile wait for this probe's answer
  if (ready_probed_ && env_->MonotonicNanos() - ready_at_ns_ < kReadyProbeIntervalNanos) {
    return ready_;
  }
  ready_ = store_->Probe();
  ready_at_ns_ = env_->MonotonicNanos();
  ready_probed_ = true;
  if (!ready_.ok()) {
    std::fprintf(stderr, "cardvault-server: not ready: %s\n", ready_.ToString().c_str());
  }
  return ready_;
}

StatusOr<std::unique_ptr<BlobServer>> BlobServer::New(const ServerConfig& config,
                                                      const std::string& cert_file,
                                                      const std::string& key_file, BlobStore* store,
                                                      TokenStore* tokens, Env* env,
                                                      AuthBackoff* auth_backoff) {
  std::unique_ptr<BlobServer> server(new BlobServer(config, store, tokens, env, auth_backoff));
  CV_ASSIGN_OR_RETURN(server->tls_, ServerTlsContext::Load(cert_file, key_file));
  CV_ASSIGN_OR_RETURN(server->proxies_, AddressRanges::Parse(config.proxy_protocol_from));
  // httplib's own context goes unused: every connection takes tls_'s current one.
  server->server_ = std::make_unique<Routes>([](SSL_CTX&) { return true; });
  if (!server->server_->is_valid()) {
    return FailedPreconditionError("TLS setup failed (OpenSSL)", "tls_setup_failed");
  }
  server->server_->SetOwner(server.get());
  const size_t max_threads = static_cast<size_t>(config.max_connections) + kOverflowConnections;
  server->server_->new_task_queue = [max_threads] { return new ThreadPerConnection(max_threads); };
  server->server_->set_read_timeout(config.read_timeout_seconds, 0);
  server->server_->set_write_timeout(config.write_timeout_seconds, 0);
  server->server_->set_keep_alive_timeout(config.keep_alive_timeout_seconds);
  server->server_->set_keep_alive_max_count(static_cast<size_t>(config.keep_alive_max_requests));
  // An appended-digest body carries up to 32 bytes more than the object; the handler checks
  // the object's own size against max_object_bytes.
  server->server_->set_payload_max_length(
      static_cast<size_t>(std::min(config.max_object_bytes,
                                   std::numeric_limits<uint64_t>::max() - kMaxAppendedDigestBytes) +
                          kMaxAppendedDigestBytes));
  server->server_->set_tcp_nodelay(true);
  server->server_->set_idle_interval(0, 100000);
  server->InstallRoutes();
  return server;
}

void BlobServer::InstallRoutes() {
  using httplib::Request;
  using httplib::Response;
  httplib::SSLServer& svr = *server_;

  svr.set_pre_routing_handler([this](const Request& req, Response& res) {
    tls_user.clear();
    tls_start_ns = env_->MonotonicNanos();
    // Ranges are handled by the GET handler itself; httplib MUST NOT slice bodies again
    // (it would also cut error bodies).
    const_cast<Request&>(req).ranges.clear();
    if (auto problem = FramingProblem(req)) {
      ForceClose(req);  // the body's end is unknown: nothing more is read
      SendError(res, 400, "bad_content_length", *problem);
      return httplib::Server::HandlerResponse::Handled;
    }
    if (UnexpectedBody(req)) {
      // httplib would read it into memory (up to the payload limit) before any handler,
      // and so before the token is checked.
      ForceClose(req);
      SendError(res, 413, "unexpected_body", "only uploads (PUT /v1/objects/ID) take a body");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (tls_overloaded) {
      ForceClose(req);
      res.set_header("Retry-After", "1");
      SendError(res, 503, "overloaded", "too many connections; retry later");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });

  svr.set_error_handler(httplib::Server::HandlerWithResponse([](const Request&, Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    if (res.status == 404) {
      SendError(res, 404, "no_such_route", "no such route");
    } else {
      SendError(res, res.status, "http_error", "HTTP error " + std::to_string(res.status));
    }
    return httplib::Server::HandlerResponse::Handled;
  }));

  svr.set_exception_handler([](const Request&, Response& res, std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    std::fprintf(stderr, "cardvault-server: exception in handler: %s\n", what.c_str());
    SendError(res, 500, "internal", "internal server error");
  });

  if (config_.access_log) {
    svr.set_logger([this](const Request& req, const Response& res) {
      double ms = static_cast<double>(env_->MonotonicNanos() - tls_start_ns) / 1e6;
      std::fprintf(stderr, "access %s %s %s %d user=%s %.1fms\n", req.remote_addr.c_str(),
                   Sanitize(req.method).c_str(), Sanitize(req.path).c_str(), res.status,
                   tls_user.empty() ? "-" : tls_user.c_str(), ms);
    });
  }

  // Returns the user, or sends 401/429 and returns nullopt.
  auto authenticate = [this](const Request& req, Response& res) -> std::optional<std::string> {
    int64_t now = env_->NowUnixNanos() / 1000000000;
    if (int64_t wait = BlockedSeconds(*backoff_, req.remote_addr, now); wait > 0) {
      res.set_header("Retry-After", std::to_string(wait));
      SendError(res, 429, "too_many_auth_failures",
                "too many invalid tokens from this address; retry later");
      return std::nullopt;
    }
    std::string header = req.get_header_value("Authorization");
    constexpr std::string_view kBearer = "Bearer ";
    if (header.size() <= kBearer.size() || header.compare(0, kBearer.size(), kBearer) != 0) {
      res.set_header("WWW-Authenticate", "Bearer");
      SendError(res, 401, "missing_token", "an Authorization: Bearer token is required");
      return std::nullopt;
    }
    auto user = tokens_->Authenticate(std::string_view(header).substr(kBearer.size()));
    if (!user.ok()) {
      if (user.status().code() == StatusCode::kPermissionDenied) {
        if (Status recorded = backoff_->RecordFailure(req.remote_addr, now); !recorded.ok()) {
          std::fprintf(stderr, "cardvault-server: auth back-off: %s\n",
                       recorded.ToString().c_str());
        }
        res.set_header("WWW-Authenticate", "Bearer error=\"invalid_token\"");
      }
      SendStatus(res, user.status());
      return std::nullopt;
    }
    if (tls_stream != nullptr) tls_stream->LiftDeadline();  // the body may take its time
    tls_user = *user;
    return *user;
  };

  svr.Get("/v1/health", [](const Request&, Response& res) {
    res.set_header("Date", HttpDateNow());  // clients compare clocks (`cardvault doctor`)
    res.set_content(JsonText({{"status", "ok"}}), "application/json");
  });

  // Readiness for orchestrators and monitoring: the stores' probe, cached (Ready()).
  svr.Get("/v1/ready", [this](const Request&, Response& res) {
    res.set_header("Cache-Control", "no-store");
    const Status ready = Ready();
    if (ready.ok()) return res.set_content(JsonText({{"status", "ready"}}), "application/json");
    if (IsStorageMisconfigured(ready)) return SendStorageMisconfigured(res, ready);
    SendUnavailable(res, ready);
  });

  svr.Get("/v1/whoami", [this, authenticate](const Request& req, Response& res) {
    auto user = authenticate(req, res);
    if (!user) return;
    auto used = store_->UsedBytes(*user);
    if (!used.ok()) return SendStatus(res, used.status());
    auto quota = store_->QuotaBytes(*user);
    if (!quota.ok()) return SendStatus(res, quota.status());
    res.set_content(JsonText({{"user", *user},
                              {"used_bytes", *used},
                              {"quota_bytes", *quota},
                              {"max_object_bytes", config_.max_object_bytes}}),
                    "application/json");
  });

  svr.Get("/v1/objects", [this, authenticate](const Request& req, Response& res) {
    auto user = authenticate(req, res);
    if (!user) return;
    ListOptions options;
    options.prefix = req.get_param_value("prefix");
    options.after = req.get_param_value("after");
    if (req.has_param("limit")) {
      auto limit = ParseU64(req.get_param_value("limit"));
      if (!limit || *limit == 0) {
        return SendError(res, 400, "bad_limit", "limit must be a positive integer");
      }
      options.limit = static_cast<size_t>(std::min<uint64_t>(*limit, kMaxListLimit));
    }
    if (req.has_param("kind")) {
      options.kind = ParseObjectKind(req.get_param_value("kind"));
      if (!options.kind) return SendError(res, 400, "bad_kind", "kind must be blob or key");
    }
    auto page = store_->List(*user, options);
    if (!page.ok()) return SendStatus(res, page.status());
    Json objects = Json::array();
    for (const auto& info : page->objects) objects.push_back(InfoJson(info));
    Json body = {{"objects", std::move(objects)}, {"truncated", page->truncated}};
    if (page->truncated) body["next_after"] = page->objects.back().id;
    res.set_content(JsonText(body), "application/json");
  });

  // "Expect: 100-continue" (curl sends it for large bodies): refuse what the PUT handler
  // would refuse before the client sends the body. The handler repeats every check.
  auto check_upload = [this, authenticate](const Request& req, Response& res) -> int {
    constexpr std::string_view kObjects = "/v1/objects/";
    if (req.method != "PUT" || req.path.compare(0, kObjects.size(), kObjects) != 0) return 100;
    auto user = authenticate(req, res);
    if (!user) return res.status;
    const std::string id = req.path.substr(kObjects.size());
    auto size = ParseU64(req.get_header_value("Content-Length"));
    if (!IsValidObjectId(id) || !size.has_value()) return 100;  // the handler explains
    auto check = ParseUploadCheck(req);
    if (!check.ok()) return 100;  // the handler explains
    const uint64_t digest_bytes = AppendedBytes(*check);
    if (*size < digest_bytes) return 100;  // the handler explains
    *size -= digest_bytes;                 // limits apply to the object, not its digest
    if (*size > config_.max_object_bytes) {
      SendError(res, 413, "object_too_large", "the object exceeds the server's size limit");
      return 413;
    }
    auto used = store_->UsedBytes(*user);
    auto quota = store_->QuotaBytes(*user);
    if (!used.ok() || !quota.ok()) return 100;
    if (*used + *size > *quota) {
      auto existing = store_->Head(*user, id);  // a replacement frees the old size
      uint64_t freed = existing.ok() ? existing->size : 0;
      if (*used - std::min(*used, freed) + *size > *quota) {
        SendError(res, 507, "quota_exceeded", "the upload would exceed the user's quota");
        return 507;
      }
    }
    return 100;
  };
  svr.set_expect_100_continue_handler(
      [check_upload = std::move(check_upload)](const Request& req, Response& res) -> int {
        int status = 100;
        if (auto problem = FramingProblem(req)) {
          SendError(res, 400, "bad_content_length", *problem);
          status = 400;
        } else {
          status = check_upload(req, res);
        }
        if (status != 100) {
          // httplib 0.11 sends this early answer without a Content-Length: add it, and end the
          // connection, whose body the client then never sends.
          res.set_header("Content-Length", std::to_string(res.body.size()));
          ForceClose(req);
        }
        return status;
      });

  svr.Put(R"(/v1/objects/(.*))", [this, authenticate](const Request& req, Response& res,
                                                      const httplib::ContentReader& reader) {
    auto reject = [&](int http, std::string_view code, std::string_view message) {
      SendError(res, http, code, message);
      DiscardBody(req, reader);
    };
    auto user = authenticate(req, res);
    if (!user) return DiscardBody(req, reader, kUnauthenticatedDrainLimit);
    const std::string id = req.matches[1];
    if (!IsValidObjectId(id)) {
      return reject(400, "bad_object_id", "object id must be 64 lowercase hex characters");
    }
    PutOptions options;
    // Appended modes: the body's last 32 (SHA-256) or 16 (XXH3-128) bytes are the raw digest
    // of the bytes before them; options.sha256 stays empty (see BodySplitter).
    auto check = ParseUploadCheck(req);
    if (!check.ok()) return reject(400, check.status().reason(), check.status().message());
    if (*check == UploadCheck::kHeaderSha256) {
      options.sha256 = req.get_header_value("X-Content-SHA256");
    }
    const uint64_t digest_bytes = AppendedBytes(*check);
    if (req.has_header("Transfer-Encoding") || !req.has_header("Content-Length")) {
      return reject(411, "length_required", "uploads need a Content-Length (no chunked bodies)");
    }
    auto length = ParseU64(req.get_header_value("Content-Length"));
    if (!length) return reject(400, "bad_content_length", "invalid Content-Length");
    if (*length < digest_bytes) {
      return reject(400, "bad_content_length",
                    *check == UploadCheck::kAppendedXxh128
                        ? "an appended-XXH3-128 body is at least the 16 bytes of its digest"
                        : "an appended-digest body is at least the 32 bytes of its SHA-256");
    }
    options.size = *length - digest_bytes;
    if (req.has_header("X-Object-Kind")) {
      auto kind = ParseObjectKind(req.get_header_value("X-Object-Kind"));
      if (!kind) return reject(400, "bad_kind", "X-Object-Kind must be blob or key");
      options.kind = *kind;
    }
    if (req.has_header("If-None-Match")) {
      if (req.get_header_value("If-None-Match") != "*") {
        return reject(400, "bad_precondition", "only If-None-Match: * is supported");
      }
      options.create_only = true;
    }
    auto pending = store_->BeginPut(*user, id, options);
    if (!pending.ok()) {
      SendStatus(res, pending.status());
      return DiscardBody(req, reader);
    }
    BodySplitter body(**pending, options.size, *check);
    Status write_status;
    bool complete = true;
    if (*length > 0) {
      complete = reader([&](const char* data, size_t size) {
        write_status = body.Feed(ByteView(reinterpret_cast<const uint8_t*>(data), size));
        return write_status.ok();
      });
    }
    if (!write_status.ok()) {
      ForceClose(req);
      return SendStatus(res, write_status);
    }
    if (!complete) {
      // The client went away or stalled past the read timeout: nothing is stored.
      ForceClose(req);
      return SendError(res, 400, "incomplete_body", "the request body ended early");
    }
    if (Status finished = body.Finish(); !finished.ok()) return SendStatus(res, finished);
    auto info = (*pending)->Commit();
    if (!info.ok()) return SendStatus(res, info.status());
    SetObjectHeaders(res, *info);
    res.status = 201;
    res.set_content(JsonText(InfoJson(*info)), "application/json");
  });

  svr.Get(R"(/v1/objects/(.*))", [this, authenticate](const Request& req, Response& res) {
    auto user = authenticate(req, res);
    if (!user) return;
    const std::string id = req.matches[1];
    if (!IsValidObjectId(id)) {
      return SendError(res, 400, "bad_object_id", "object id must be 64 lowercase hex characters");
    }
    auto opened = store_->Open(*user, id);
    if (!opened.ok() && opened.status().reason() == "object_damaged" && req.has_header("Range")) {
      return ServeDamagedPrefix(*store_, req, res, *user, id, opened.status());
    }
    if (!opened.ok()) return SendStatus(res, opened.status());
    std::shared_ptr<BlobReader> reader = std::move(*opened);
    const ObjectInfo& info = reader->info();
    SetObjectHeaders(res, info);
    res.set_header("Accept-Ranges", "bytes");
    uint64_t start = 0;
    uint64_t length = info.size;
    res.status = 200;
    if (req.has_header("Range")) {
      RangeResult range = ParseRange(req.get_header_value("Range"), info.size);
      if (range.kind == RangeResult::kUnsatisfiable) {
        res.set_header("Content-Range", "bytes */" + std::to_string(info.size));
        return SendError(res, 416, "range_not_satisfiable", "the range is beyond the object");
      }
      if (range.kind == RangeResult::kRange) {
        start = range.start;
        length = range.length;
        res.status = 206;
        res.set_header("Content-Range", "bytes " + std::to_string(start) + "-" +
                                            std::to_string(start + length - 1) + "/" +
                                            std::to_string(info.size));
      }
    }
    StreamBody(res, std::move(reader), start, length);
  });

  svr.Delete(R"(/v1/objects/(.*))", [this, authenticate](const Request& req, Response& res) {
    auto user = authenticate(req, res);
    if (!user) return;
    const std::string id = req.matches[1];
    if (!IsValidObjectId(id)) {
      return SendError(res, 400, "bad_object_id", "object id must be 64 lowercase hex characters");
    }
    Status deleted = store_->Delete(*user, id);
    if (!deleted.ok()) return SendStatus(res, deleted);
    res.status = 204;
  });
}

StatusOr<int> BlobServer::Bind(const std::string& host, int port) {
  if (port == 0) {
    port = server_->bind_to_any_port(host);
    if (port <= 0) return UnavailableError("cannot bind " + host, "bind_failed");
  } else if (!server_->bind_to_port(host, port)) {
    return UnavailableError("cannot bind " + host + ":" + std::to_string(port), "bind_failed");
  }
  // httplib listens with a backlog of 5: a burst of six connections had the sixth's SYN
  // dropped and retried a second later. Listening again only sets the larger backlog.
  if (!server_->Relisten(std::max(config_.max_connections, 128))) {
    return UnavailableError("cannot listen on " + host + ":" + std::to_string(port), "bind_failed");
  }
  return port;
}

Status BlobServer::Serve() {
  if (stopped_) return Status::Ok();
  bool ok = server_->listen_after_bind();
  if (!ok && !stopped_) return UnavailableError("the server stopped listening", "listen_failed");
  return Status::Ok();
}

StatusOr<std::string> BlobServer::ReloadCertificate() { return tls_->Reload(); }

void BlobServer::Stop() {
  stopped_ = true;
  // Closes the listening socket; a Serve() that has not reached its accept loop yet
  // finds it closed and returns at once.
  if (server_) server_->stop();
}

}  // namespace cardvault
