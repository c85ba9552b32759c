// S3Client: signed HTTP requests to one bucket of an S3-compatible store (libcurl with
// CURLOPT_AWS_SIGV4, path-style URLs), with a pool of connections and retries.
#ifndef CARDVAULT_STORAGE_S3_CLIENT_H_
#define CARDVAULT_STORAGE_S3_CLIENT_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/bytes.h"
#include "core/status_or.h"
#include "storage/s3_byte_store.h"

namespace cardvault {

// One request. `object` is the object's full name in the bucket (unencoded; "" for the
// bucket itself). The body is one of: none, `body` (in memory: the request may be retried),
// or `stream` + `stream_size` (read once: never retried).
struct S3Request {
  std::string method = "GET";  // GET, HEAD, PUT, POST, DELETE
  std::string object;
  std::vector<std::pair<std::string, std::string>> query;  // unencoded; sorted when sent
  std::vector<std::string> headers;                        // "Name: value"
  ByteView body;
  // Fills the buffer with the next bytes and returns how many (0: no more, which before
  // stream_size bytes fails the request); returning SIZE_MAX aborts the request.
  std::function<size_t(std::span<uint8_t>)> stream;
  uint64_t stream_size = 0;
  // GET: the response body goes here (at most into.size() bytes), not into S3Response::body.
  std::span<uint8_t> into;
  std::string what;  // for messages: "PUT of blobs/ab12..."
  // When set and it turns true, the request stops within about a second (the transfer
  // is aborted, no retry starts): kCancelled "upload_abandoned". MUST outlive the request.
  const std::atomic<bool>* cancel = nullptr;
};

struct S3Response {
  long http_status = 0;
  std::string body;       // the body (not for GET with `into`), up to 1 MiB
  size_t into_bytes = 0;  // bytes written to S3Request::into
  std::string etag;       // the ETag header, quotes included
  int64_t content_length = -1;
  int64_t range_total = -1;  // the object's size from Content-Range ("bytes a-b/total")
  std::string request_id;    // x-amz-request-id, for messages
  std::string error_code;    // <Code> of an S3 error body ("NoSuchKey", "SlowDown", ...)
};

// MUST be thread-safe (each request takes a pooled connection). Messages name the request,
// the HTTP status, the S3 error code and the request id, never the credentials.
class S3Client {
 public:
  explicit S3Client(const S3ByteStoreOptions& options);
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  // Sends `request`, retried with exponential backoff and jitter on connection errors, 5xx
  // and SlowDown (up to max_attempts; a streamed body is never retried). OK with the
  // response for any HTTP status below 500 (the caller judges 4xx, see ErrorFor); after the
  // attempts, kUnavailable "object_store_unavailable" saying what was tried.
  StatusOr<S3Response> Send(const S3Request& request);

  // The Status for an unexpected answer: 403 kPermissionDenied "object_store_denied",
  // NoSuchBucket kFailedPrecondition "no_such_bucket", 404 kNotFound, 5xx kUnavailable
  // "object_store_unavailable", other 4xx kInternal "object_store_rejected".
  Status ErrorFor(const S3Request& request, const S3Response& response) const;

  const std::string& bucket() const { return bucket_; }

 private:
  class Connection;
  struct Attempt;
  std::unique_ptr<Connection> Acquire();
  void Release(std::unique_ptr<Connection> connection);
  Attempt Perform(Connection& connection, const S3Request& request);
  std::string UrlOf(const S3Request& request) const;
  int BackoffMs(int attempt);

  const std::string endpoint_, bucket_, sigv4_, ca_file_;
  const std::string access_key_id_;
  const SecretData secret_access_key_;
  const int max_attempts_, connect_timeout_seconds_, low_speed_timeout_seconds_;
  const int retry_base_delay_ms_, retry_max_delay_ms_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mu_
  uint64_t jitter_state_;                          // guarded by mu_
  struct Share;
  std::unique_ptr<Share> share_;  // DNS and TLS sessions shared by the connections
};

// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters stay, everything
// else is %XX (upper case); '/' stays too when `keep_slash`.
std::string S3UriEncode(std::string_view text, bool keep_slash);

}  // namespace cardvault

#endif  // CARDVAULT_STORAGE_S3_CLIENT_H_
