// S3ByteStore: ByteStore over an S3-compatible object store (AWS S3, Ceph radosgw, MinIO),
// signed with AWS Signature Version 4 (libcurl's CURLOPT_AWS_SIGV4).
#ifndef CARDVAULT_STORAGE_S3_BYTE_STORE_H_
#define CARDVAULT_STORAGE_S3_BYTE_STORE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "core/env.h"
#include "core/secret_data.h"
#include "core/status_or.h"
#include "storage/byte_store.h"

namespace cardvault {

// The most parts of one multipart upload that S3ByteStoreOptions::parts_in_flight allows.
inline constexpr int kMaxPartsInFlight = 8;

// Where the bucket is and how to reach it. The credentials are never logged.
struct S3ByteStoreOptions {
  std::string endpoint;  // "https://s3.example.com" or "http://127.0.0.1:7480" (path-style)
  std::string bucket;
  std::string region = "us-east-1";
  std::string prefix;  // put before every key, e.g. "cardvault/" ("" for none)
  std::string access_key_id;
  SecretData secret_access_key;
  std::string ca_file;  // PEM bundle to verify the endpoint with; "" for the system's
  uint64_t multipart_threshold_bytes = uint64_t{64} << 20;  // larger: a multipart upload
  uint64_t part_bytes = uint64_t{16} << 20;  // 5 MiB to 5 GiB (S3's limits for a part)
  // Parts of one multipart upload sent at once, 1 to kMaxPartsInFlight; a writer holds up
  // to (parts_in_flight + 1) x part_bytes.
  int parts_in_flight = 2;
  int max_attempts = 5;  // per request, on 5xx, SlowDown and connection errors, with backoff
  int retry_base_delay_ms = 100;  // the first backoff; doubled per attempt, with jitter
  int retry_max_delay_ms = 5000;  // the longest backoff
  int connect_timeout_seconds = 10;
  int low_speed_timeout_seconds = 30;  // a transfer slower than 1 byte/s for this long fails
  uint64_t read_ahead_bytes = uint64_t{1} << 20;  // a sequential reader fetches this much at once
  int list_page_keys = 1000;                      // keys per ListObjectsV2 page (S3's maximum)
};

// Reads "access_key_id" and "secret_access_key" from a JSON file that MUST be private to
// its owner (mode 0600 or stricter; otherwise kFailedPrecondition "credentials_not_private");
// anything but a JSON object with both strings is kInvalidArgument "bad_credentials_file".
Status LoadS3Credentials(Env& env, const std::string& path, S3ByteStoreOptions& options);

// Contract (beyond ByteStore's):
// - a writer streams: it never holds a whole object in memory (at most parts_in_flight + 1
//   parts, i.e. (parts_in_flight + 1) x part_bytes: the one being filled and up to
//   parts_in_flight uploading at once, each on a background thread of the writer that never
//   outlives it); a failed background part fails the next Append or Commit;
// - Commit returns only after the store confirmed the object (PUT 200, or
//   CompleteMultipartUpload 200); a failed or abandoned multipart upload is aborted (an
//   abandoned writer first cancels its parts in flight and waits for their threads);
// - the store being unreachable or answering 5xx after the retries is kUnavailable
//   "object_store_unavailable" with what was tried; 403 is kPermissionDenied
//   "object_store_denied"; a missing bucket is kFailedPrecondition "no_such_bucket".
// Open checks the options (kInvalidArgument "bad_s3_options": an http(s) endpoint, a bucket,
// a prefix empty or ending in '/', credentials, part_bytes 5 MiB to 5 GiB, the threshold
// at least part_bytes, parts_in_flight 1 to kMaxPartsInFlight) and that the bucket is reachable (a
// HEAD on it). Layout in the bucket, retries and what is never logged: docs/server.md "Storage
// seams".
StatusOr<std::unique_ptr<ByteStore>> NewS3ByteStore(S3ByteStoreOptions options);

}  // namespace cardvault

#endif  // CARDVAULT_STORAGE_S3_BYTE_STORE_H_
