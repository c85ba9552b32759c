// S3Client implementation: libcurl easy handles kept in a pool (each keeps its connection
// alive between requests), a share for DNS and TLS sessions, SigV4 by libcurl.
#include "storage/s3_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <random>
#include <thread>

#include "storage/s3_xml.h"

namespace cardvault {
namespace {

constexpr size_t kMaxBodyBytes = size_t{1} << 20;  // error and listing bodies
constexpr size_t kMaxIdleConnections = 16;
constexpr long kUploadBufferBytes = 512L << 10;  // per handle; curl allows up to 2 MiB

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

bool StartsWithNoCase(std::string_view line, std::string_view prefix) {
  if (line.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(line[i])) != prefix[i]) return false;
  }
  return true;
}

std::string Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == '\r' || text.back() == '\n' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  return std::string(text);
}

// Transport failures that a new attempt may cure.
bool IsTransient(CURLcode rc) {
  switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

}  // namespace

std::string S3UriEncode(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out += {'%', kHex[c >> 4], kHex[c & 15]};
    }
  }
  return out;
}

// A curl easy handle; the connection it keeps alive stays with it in the pool.
class S3Client::Connection {
 public:
  Connection() : handle_(curl_easy_init()) {}
  ~Connection() { curl_easy_cleanup(handle_); }
  CURL* handle() const { return handle_; }

 private:
  CURL* handle_;
};

// DNS and TLS sessions shared by every connection of a client (with the locks curl asks for).
struct S3Client::Share {
  Share() : share(curl_share_init()) {
    curl_share_setopt(share, CURLSHOPT_LOCKFUNC, &Lock);
    curl_share_setopt(share, CURLSHOPT_UNLOCKFUNC, &Unlock);
    curl_share_setopt(share, CURLSHOPT_USERDATA, this);
    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  }
  ~Share() { curl_share_cleanup(share); }
  static void Lock(CURL*, curl_lock_data data, curl_lock_access, void* self) {
    static_cast<Share*>(self)->locks[static_cast<size_t>(data) % kLocks].lock();
  }
  static void Unlock(CURL*, curl_lock_data data, void* self) {
    static_cast<Share*>(self)->locks[static_cast<size_t>(data) % kLocks].unlock();
  }
  static constexpr size_t kLocks = 16;
  CURLSH* share;
  std::array<std::mutex, kLocks> locks;
};

// One try of a request: curl's result and what came back.
struct S3Client::Attempt {
  CURLcode rc = CURLE_OK;
  std::string curl_error;
  S3Response response;
};

namespace {

// What the curl callbacks of one attempt read from and write to.
struct Transfer {
  CURL* handle;
  const S3Request* request;
  S3Response* response;
  size_t body_at = 0;  // next byte of request->body to send
  bool aborted = false;
};

size_t ReadBody(char* buf, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::span<uint8_t> out(reinterpret_cast<uint8_t*>(buf), size * n);
  if (t->request->stream) {
    const size_t got = t->request->stream(out);
    if (got == SIZE_MAX) {
      t->aborted = true;
      return CURL_READFUNC_ABORT;
    }
    return got;
  }
  const ByteView body = t->request->body;
  const size_t take = std::min(out.size(), body.size() - t->body_at);
  std::copy_n(body.data() + t->body_at, take, out.data());
  t->body_at += take;
  return take;
}

// curl's progress callback (about every second, and whenever data moves): non-zero aborts.
int CheckCancel(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* t = static_cast<const Transfer*>(user);
  return t->request->cancel->load() ? 1 : 0;
}

// Sleeps `ms`, waking early (in steps of 10 ms) when `cancel` turns true.
void SleepUnlessCancelled(int ms, const std::atomic<bool>* cancel) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < until) {
    if (cancel != nullptr && cancel->load()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(ms, 10)));
  }
}

bool Cancelled(const S3Request& request) {
  return request.cancel != nullptr && request.cancel->load();
}

size_t WriteBody(char* buf, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t len = size * n;
  long status = 0;
  curl_easy_getinfo(t->handle, CURLINFO_RESPONSE_CODE, &status);
  std::span<uint8_t> into = t->request->into;
  if (!into.empty() && status >= 200 && status < 300) {
    size_t& at = t->response->into_bytes;
    if (len > into.size() - at) return 0;  // more than asked for: CURLE_WRITE_ERROR
    std::copy_n(reinterpret_cast<const uint8_t*>(buf), len, into.data() + at);
    at += len;
    return len;
  }
  std::string& body = t->response->body;
  body.append(buf, std::min(len, kMaxBodyBytes - std::min(kMaxBodyBytes, body.size())));
  return len;
}

size_t ReadHeader(char* buf, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::string_view line(buf, size * n);
  if (StartsWithNoCase(line, "etag:")) t->response->etag = Trim(line.substr(5));
  if (StartsWithNoCase(line, "x-amz-request-id:")) t->response->request_id = Trim(line.substr(17));
  if (StartsWithNoCase(line, "content-range:")) {
    const std::string value = Trim(line.substr(14));
    const size_t slash = value.rfind('/');
    int64_t total = -1;
    if (slash != std::string::npos) {
      std::from_chars(value.data() + slash + 1, value.data() + value.size(), total);
    }
    t->response->range_total = total;
  }
  return size * n;
}

}  // namespace

S3Client::S3Client(const S3ByteStoreOptions& options)
    : endpoint_(options.endpoint.ends_with('/')
                    ? options.endpoint.substr(0, options.endpoint.size() - 1)
                    : options.endpoint),
      bucket_(options.bucket),
      sigv4_("aws:amz:" + options.region + ":s3"),
      ca_file_(options.ca_file),
      access_key_id_(options.access_key_id),
      secret_access_key_([&] {
        // NUL-terminated for curl, wiped like the original.
        SecretData s(options.secret_access_key.size() + 1);
        std::copy_n(options.secret_access_key.data(), options.secret_access_key.size(), s.data());
        return s;
      }()),
      max_attempts_(std::max(1, options.max_attempts)),
      connect_timeout_seconds_(options.connect_timeout_seconds),
      low_speed_timeout_seconds_(options.low_speed_timeout_seconds),
      retry_base_delay_ms_(std::max(1, options.retry_base_delay_ms)),
      retry_max_delay_ms_(std::max(1, options.retry_max_delay_ms)),
      jitter_state_(std::random_device{}()) {
  GlobalInit();
  share_ = std::make_unique<Share>();
}

S3Client::~S3Client() {
  idle_.clear();  // before the share they use
  share_.reset();
}

std::unique_ptr<S3Client::Connection> S3Client::Acquire() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      std::unique_ptr<Connection> c = std::move(idle_.back());
      idle_.pop_back();
      return c;
    }
  }
  return std::make_unique<Connection>();
}

void S3Client::Release(std::unique_ptr<Connection> connection) {
  std::lock_guard lock(mu_);
  if (idle_.size() < kMaxIdleConnections) idle_.push_back(std::move(connection));
}

std::string S3Client::UrlOf(const S3Request& request) const {
  std::string url = endpoint_ + "/" + S3UriEncode(bucket_, false);
  if (!request.object.empty()) url += "/" + S3UriEncode(request.object, true);
  // SigV4 signs the query as sent: sorted by name, each part encoded, "name=" when empty.
  std::vector<std::pair<std::string, std::string>> query;
  for (const auto& [name, value] : request.query) {
    query.emplace_back(S3UriEncode(name, false), S3UriEncode(value, false));
  }
  std::sort(query.begin(), query.end());
  for (size_t i = 0; i < query.size(); ++i) {
    url += (i == 0 ? "?" : "&") + query[i].first + "=" + query[i].second;
  }
  return url;
}

S3Client::Attempt S3Client::Perform(Connection& connection, const S3Request& request) {
  Attempt a;
  CURL* h = connection.handle();
  curl_easy_reset(h);  // keeps the live connection and the caches
  Transfer t{h, &request, &a.response};
  char error[CURL_ERROR_SIZE] = {0};
  const std::string url = UrlOf(request);
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_SHARE, share_->share);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4_.c_str());
  curl_easy_setopt(h, CURLOPT_USERNAME, access_key_id_.c_str());
  curl_easy_setopt(h, CURLOPT_PASSWORD, reinterpret_cast<const char*>(secret_access_key_.data()));
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, static_cast<long>(connect_timeout_seconds_));
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, static_cast<long>(low_speed_timeout_seconds_));
  curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
  // A body goes out in sends of this much (curl's default, 64 KiB, costs 8x the calls).
  curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, kUploadBufferBytes);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
  if (!ca_file_.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, ca_file_.c_str());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &WriteBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &ReadHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(h, CURLOPT_READFUNCTION, &ReadBody);
  curl_easy_setopt(h, CURLOPT_READDATA, &t);
  if (request.cancel != nullptr) {
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, &CheckCancel);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &t);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  }
  const auto body_size =
      static_cast<curl_off_t>(request.stream ? request.stream_size : request.body.size());
  if (request.method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (request.method == "PUT") {
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, body_size);
  } else if (request.method == "POST") {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, body_size);
  } else if (request.method != "GET") {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  // Bodies are not hashed: TLS protects them on the way (docs/server.md). No header may be
  // removed with "Name:" here: curl 7.88 would sign it all the same (a 403).
  curl_slist* headers = curl_slist_append(nullptr, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
  if (request.method == "POST")
    headers = curl_slist_append(headers, "Content-Type: application/xml");
  for (const std::string& header : request.headers) {
    headers = curl_slist_append(headers, header.c_str());
  }
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  a.rc = curl_easy_perform(h);
  curl_slist_free_all(headers);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);
  a.curl_error = error[0] != 0 ? error : curl_easy_strerror(a.rc);
  if (t.aborted) a.rc = CURLE_ABORTED_BY_CALLBACK;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a.response.http_status);
  curl_off_t length = -1;
  curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
  a.response.content_length = static_cast<int64_t>(length);
  if (!a.response.body.empty()) a.response.error_code = XmlText(a.response.body, "Code");
  return a;
}

int S3Client::BackoffMs(int attempt) {
  const int64_t ceiling = std::min<int64_t>(retry_max_delay_ms_,
                                            int64_t{retry_base_delay_ms_} << std::min(attempt, 20));
  std::lock_guard lock(mu_);
  jitter_state_ = jitter_state_ * 6364136223846793005ULL + 1442695040888963407ULL;
  // Half fixed, half random ("equal jitter"): never 0, never in step with other clients.
  return static_cast<int>(
      ceiling / 2 +
      static_cast<int64_t>((jitter_state_ >> 33) % static_cast<uint64_t>(ceiling / 2 + 1)));
}

StatusOr<S3Response> S3Client::Send(const S3Request& request) {
  const auto started = std::chrono::steady_clock::now();
  std::string last;
  int attempt = 0;
  while (true) {
    ++attempt;
    if (Cancelled(request)) {
      return CancelledError(request.what + ": abandoned by its writer", "upload_abandoned");
    }
    std::unique_ptr<Connection> connection = Acquire();
    Attempt a = Perform(*connection, request);
    Release(std::move(connection));
    if (a.rc == CURLE_ABORTED_BY_CALLBACK) {
      return CancelledError(request.what + ": abandoned by its writer", "upload_abandoned");
    }
    if (a.rc == CURLE_OK && a.response.http_status < 500 && a.response.error_code != "SlowDown") {
      return std::move(a.response);
    }
    if (a.rc != CURLE_OK && !IsTransient(a.rc)) {
      return UnavailableError(request.what + " at " + endpoint_ + " failed: " + a.curl_error +
                                  " (check the endpoint and ca_file)",
                              "object_store_unavailable");
    }
    last = a.rc != CURLE_OK ? a.curl_error : ErrorFor(request, a.response).message();
    if (request.stream) {
      return UnavailableError(request.what + " at " + endpoint_ + " failed: " + last +
                                  "; the body was streamed and is not replayed here: retry "
                                  "the upload",
                              "object_store_unavailable");
    }
    if (attempt >= max_attempts_) break;
    SleepUnlessCancelled(BackoffMs(attempt), request.cancel);
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - started)
                      .count();
  return UnavailableError(request.what + " at " + endpoint_ + " failed " + std::to_string(attempt) +
                              " times over " + std::to_string(ms) + " ms, last: " + last +
                              "; the object store is down or overloaded: check it, then retry",
                          "object_store_unavailable");
}

Status S3Client::ErrorFor(const S3Request& request, const S3Response& response) const {
  std::string detail = request.what + ": HTTP " + std::to_string(response.http_status);
  if (!response.error_code.empty()) detail += " " + response.error_code;
  if (!response.request_id.empty()) detail += " (request " + response.request_id + ")";
  const long status = response.http_status;
  if (status == 403) {
    return PermissionDeniedError(detail +
                                     "; the object store refused the request: check "
                                     "access_key_id and secret_access_key in the credentials "
                                     "file, and the bucket's policy",
                                 "object_store_denied");
  }
  if (response.error_code == "NoSuchBucket") {
    return FailedPreconditionError(detail + "; bucket " + bucket_ + " does not exist at " +
                                       endpoint_ +
                                       ": create it or correct the bucket in the configuration",
                                   "no_such_bucket");
  }
  if (status == 404) return NotFoundError(detail, "no_stored_bytes");
  if (status >= 500) return UnavailableError(detail, "object_store_unavailable");
  return InternalError(detail + "; the object store rejected the request", "object_store_rejected");
}

}  // namespace cardvault
