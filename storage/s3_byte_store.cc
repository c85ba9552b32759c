// S3ByteStore: the bucket layout, the writer (buffered PUT, multipart or streamed PUT), the
// reader (HEAD, then ranged GETs with read-ahead), listing and quarantine.
#include "storage/s3_byte_store.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "storage/byte_key.h"
#include "storage/s3_client.h"
#include "storage/s3_upload.h"
#include "storage/s3_xml.h"

namespace cardvault {
namespace {

constexpr uint64_t kMinPartBytes = uint64_t{5} << 20;  // S3's limits for a part
constexpr uint64_t kMaxPartBytes = uint64_t{5} << 30;
constexpr int kMaxListPages = 1000000;  // 10^9 keys: a bound on a listing that never ends

// Bytes being written. Up to one part is buffered. The first overflow starts a multipart
// upload; each full part is then uploaded on a background thread of its own while Append
// fills the next one, up to `parts_in_flight` at once (so at most parts_in_flight + 1 parts
// in memory), and a background part's error surfaces on the next Append or Commit. A writer
// told at least part_bytes but under the multipart threshold streams a single PUT instead.
class S3Writer final : public ByteWriter {
 public:
  S3Writer(S3Client* client, std::string object, std::string key, uint64_t part_bytes,
           int parts_in_flight, std::unique_ptr<S3StreamedPut> streamed)
      : client_(client),
        object_(std::move(object)),
        key_(std::move(key)),
        part_bytes_(part_bytes),
        streamed_(std::move(streamed)),
        parts_(static_cast<size_t>(std::max(1, parts_in_flight))) {}

  // Abandoned (or done): cancels the parts in flight, joins their threads, aborts the upload.
  ~S3Writer() override { Fail(); }

  Status Append(ByteView data) override {
    if (failed_ || done_) return FailedPreconditionError("write already finished");
    Status status = streamed_ != nullptr ? streamed_->Write(data) : Buffer(data);
    if (!status.ok()) Fail();
    return status;
  }

  StatusOr<std::string> Commit() override {
    if (failed_ || done_) return FailedPreconditionError("write already finished");
    done_ = true;
    Status status = Finish();
    if (!status.ok()) {
      Fail();
      return status;
    }
    return key_;
  }

 private:
  // One part uploading on its own thread. The thread reads `data` and writes `status`
  // until it sets `ended` (under the writer's mu_); both are the writer's once it is joined.
  struct Part {
    Bytes data;
    std::thread thread;
    Status status;
    bool ended = false;  // guarded by the writer's mu_
  };

  Status Buffer(ByteView data) {
    if (parts_ended_.load() > 0) CV_RETURN_IF_ERROR(JoinEnded());  // a failed part: stop now
    while (!data.empty()) {
      if (buffer_.size() == part_bytes_) CV_RETURN_IF_ERROR(FlushPart());
      const size_t n = std::min<size_t>(data.size(), part_bytes_ - buffer_.size());
      buffer_.insert(buffer_.end(), data.begin(), data.begin() + static_cast<ptrdiff_t>(n));
      data = data.subspan(n);
    }
    return Status::Ok();
  }

  // Joins every part that ended; the first error among them. Keeps their memory for reuse.
  Status JoinEnded() {
    Status first;
    for (Part& part : parts_) {
      {
        std::lock_guard lock(mu_);
        if (!part.thread.joinable() || !part.ended) continue;
      }
      part.thread.join();
      --parts_ended_;
      if (first.ok()) first = part.status;
    }
    return first;
  }

  // A slot with no part in flight, once one ended (waiting while all are in flight).
  StatusOr<Part*> FreeSlot() {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] {
        return std::any_of(parts_.begin(), parts_.end(),
                           [](const Part& p) { return !p.thread.joinable() || p.ended; });
      });
    }
    CV_RETURN_IF_ERROR(JoinEnded());
    for (Part& part : parts_) {
      if (!part.thread.joinable()) return &part;
    }
    return InternalError("no free part slot after a part ended");  // unreachable
  }

  // Hands the full buffer to a background upload, once a slot is free.
  Status FlushPart() {
    CV_ASSIGN_OR_RETURN(Part * part, FreeSlot());
    if (multipart_ == nullptr) {
      CV_ASSIGN_OR_RETURN(multipart_, S3MultipartUpload::Create(client_, object_));
    }
    std::swap(buffer_, part->data);
    buffer_.clear();  // keeps an earlier part's memory for the next one
    buffer_.reserve(static_cast<size_t>(part_bytes_));
    part->ended = false;
    const int number = ++parts_started_;
    part->thread = std::thread([this, part, number] {
      Status status = multipart_->UploadPart(number, part->data);
      std::lock_guard lock(mu_);
      part->status = std::move(status);
      part->ended = true;
      ++parts_ended_;
      cv_.notify_all();
    });
    return Status::Ok();
  }

  // Waits for every part in flight; the first error.
  Status WaitForParts() {
    Status first;
    for (Part& part : parts_) {
      if (!part.thread.joinable()) continue;
      part.thread.join();
      if (part.ended) --parts_ended_;
      if (first.ok()) first = part.status;
    }
    return first;
  }

  Status Finish() {
    if (streamed_ != nullptr) return streamed_->Finish();
    if (multipart_ != nullptr) {
      CV_RETURN_IF_ERROR(FlushPart());
      CV_RETURN_IF_ERROR(WaitForParts());
      return multipart_->Complete();
    }
    S3Request request{.method = "PUT", .object = object_, .body = buffer_};
    request.what = "PUT of " + object_;
    CV_ASSIGN_OR_RETURN(S3Response response, client_->Send(request));
    if (response.http_status != 200) return client_->ErrorFor(request, response);
    return Status::Ok();
  }

  // Drops what was sent: the parts in flight (cancelled, their threads joined), the
  // multipart upload (aborted unless completed) or the streamed PUT (abandoned).
  void Fail() {
    failed_ = true;
    if (multipart_ != nullptr) multipart_->Cancel();
    WaitForParts().IgnoreError();
    multipart_.reset();
    streamed_.reset();
    buffer_ = Bytes();
    for (Part& part : parts_) part.data = Bytes();
  }

  S3Client* client_;
  const std::string object_, key_;
  const uint64_t part_bytes_;
  std::unique_ptr<S3StreamedPut> streamed_;
  std::unique_ptr<S3MultipartUpload> multipart_;
  Bytes buffer_;             // the part being filled
  std::vector<Part> parts_;  // parts_in_flight slots; sized once (the threads point into it)
  int parts_started_ = 0;    // the number of the last part handed to a thread
  std::mutex mu_;
  std::condition_variable cv_;       // a part ended
  std::atomic<int> parts_ended_{0};  // ended and not yet joined
  bool failed_ = false, done_ = false;
};

// A 404 for the object, not for the bucket: a missing bucket (deleted, or misnamed in the
// configuration) is the server's misconfiguration, never "these bytes are gone".
bool IsMissingKey(const S3Response& response) {
  return response.http_status == 404 && response.error_code != "NoSuchBucket";
}

// Stored bytes: ranged GETs; a read that continues the previous one (a sequential reader)
// fetches read_ahead bytes at once and serves the next reads from them.
class S3Reader final : public ByteReader {
 public:
  // `first`: the object's first bytes, fetched by Open.
  S3Reader(S3Client* client, std::string object, uint64_t size, uint64_t read_ahead, Bytes first)
      : client_(client),
        object_(std::move(object)),
        size_(size),
        read_ahead_(read_ahead),
        cache_(std::move(first)) {}

  uint64_t size() const override { return size_; }

  StatusOr<size_t> ReadAt(uint64_t offset, std::span<uint8_t> buf) override {
    if (offset >= size_ || buf.empty()) return size_t{0};
    std::lock_guard lock(mu_);
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), size_ - offset));
    if (offset < cache_at_ || offset >= cache_at_ + cache_.size()) {
      const bool sequential = offset == 0 || offset == next_;
      if (!sequential || want >= read_ahead_) {
        CV_ASSIGN_OR_RETURN(size_t n, Get(offset, buf.first(want)));
        next_ = offset + n;
        return n;
      }
      const size_t ahead = static_cast<size_t>(std::min<uint64_t>(read_ahead_, size_ - offset));
      cache_.resize(ahead);
      cache_at_ = offset;
      StatusOr<size_t> n = Get(offset, cache_);
      cache_.resize(n.ok() ? *n : 0);
      CV_RETURN_IF_ERROR(n.status());
    }
    const size_t from = static_cast<size_t>(offset - cache_at_);
    const size_t n = std::min(want, cache_.size() - from);
    std::copy_n(cache_.data() + from, n, buf.data());
    next_ = offset + n;
    return n;
  }

 private:
  // GET of [offset, offset + into.size()) into `into`; how many bytes came.
  StatusOr<size_t> Get(uint64_t offset, std::span<uint8_t> into) {
    S3Request request{.method = "GET", .object = object_, .into = into};
    request.headers.push_back("Range: bytes=" + std::to_string(offset) + "-" +
                              std::to_string(offset + into.size() - 1));
    request.what = "GET of " + object_;
    CV_ASSIGN_OR_RETURN(S3Response response, client_->Send(request));
    if (response.http_status == 416) return size_t{0};  // cut short since Open
    if (response.http_status != 206 && response.http_status != 200) {
      return client_->ErrorFor(request, response);
    }
    return response.into_bytes;
  }

  S3Client* client_;
  const std::string object_;
  const uint64_t size_, read_ahead_;
  std::mutex mu_;
  Bytes cache_;            // guarded by mu_: bytes [cache_at_, cache_at_ + size)
  uint64_t cache_at_ = 0;  // guarded by mu_
  uint64_t next_ = 0;      // guarded by mu_: where the last read ended
};

// Layout in the bucket, under the configured prefix:
//   <prefix>blobs/<key>        committed bytes
//   <prefix>quarantine/<name>  bytes moved aside by Quarantine and QuarantineCopy
class S3ByteStore final : public ByteStore {
 public:
  explicit S3ByteStore(S3ByteStoreOptions options)
      : options_(std::move(options)), client_(options_) {}

  // A HEAD on the bucket: reachable, the credentials accepted, the bucket there.
  Status CheckBucket() {
    S3Request request{.method = "HEAD"};
    request.what = "HEAD of bucket " + options_.bucket;
    CV_ASSIGN_OR_RETURN(S3Response response, client_.Send(request));
    if (response.http_status == 200) return Status::Ok();
    if (response.http_status == 404) response.error_code = "NoSuchBucket";  // HEAD: no body
    return client_.ErrorFor(request, response);
  }

  // The bucket's HEAD; errors other than refused credentials or a missing bucket (both the
  // operator's to fix) are the store being unavailable.
  Status Probe() override {
    Status s = CheckBucket();
    if (s.ok() || s.reason() == "object_store_denied" || s.reason() == "no_such_bucket" ||
        s.reason() == "object_store_unavailable") {
      return s;
    }
    return UnavailableError(s.message(), "object_store_unavailable");
  }

  StatusOr<std::unique_ptr<ByteWriter>> NewWriter(uint64_t size) override {
    CV_ASSIGN_OR_RETURN(std::string key, NewByteKey(*Env::Default()));
    std::string object = BlobObject(key);
    std::unique_ptr<S3StreamedPut> streamed;
    if (size >= options_.part_bytes && size < options_.multipart_threshold_bytes) {
      streamed = std::make_unique<S3StreamedPut>(&client_, object, size);
    }
    return std::unique_ptr<ByteWriter>(new S3Writer(&client_, std::move(object), std::move(key),
                                                    options_.part_bytes, options_.parts_in_flight,
                                                    std::move(streamed)));
  }

  // One GET of the first read_ahead_bytes: the size comes from Content-Range, and a small
  // object is read whole by this one request.
  StatusOr<std::unique_ptr<ByteReader>> Open(std::string_view key) override {
    if (!IsValidByteKey(key)) return BadByteKey();
    Bytes first(static_cast<size_t>(std::max<uint64_t>(options_.read_ahead_bytes, 1)));
    S3Request request{.method = "GET", .object = BlobObject(key), .into = first};
    request.headers.push_back("Range: bytes=0-" + std::to_string(first.size() - 1));
    request.what = "GET of " + request.object;
    CV_ASSIGN_OR_RETURN(S3Response response, client_.Send(request));
    int64_t size = -1;
    if (IsMissingKey(response)) return NotFoundError("no stored bytes", "no_stored_bytes");
    if (response.http_status == 206) size = response.range_total;
    if (response.http_status == 200) size = static_cast<int64_t>(response.into_bytes);
    if (response.http_status == 416) size = 0;  // an empty object has no byte 0
    if (size < 0 && response.http_status < 300) {
      return InternalError(request.what + ": no object size in the answer",
                           "object_store_rejected");
    }
    if (size < 0) return client_.ErrorFor(request, response);
    first.resize(std::min<size_t>(response.into_bytes, static_cast<size_t>(size)));
    first.shrink_to_fit();
    return std::unique_ptr<ByteReader>(new S3Reader(&client_, request.object,
                                                    static_cast<uint64_t>(size),
                                                    options_.read_ahead_bytes, std::move(first)));
  }

  Status Delete(std::string_view key) override {
    if (!IsValidByteKey(key)) return BadByteKey();
    return DeleteObject(BlobObject(key));
  }

  Status ForEach(const std::function<Status(const StoredKey&)>& fn) override {
    const std::string prefix = options_.prefix + "blobs/";
    std::string token;
    for (int page = 0; page < kMaxListPages; ++page) {
      S3Request request{.method = "GET",
                        .query = {{"list-type", "2"},
                                  {"max-keys", std::to_string(options_.list_page_keys)},
                                  {"prefix", prefix}}};
      if (!token.empty()) request.query.emplace_back("continuation-token", token);
      request.what = "ListObjectsV2 of " + prefix;
      CV_ASSIGN_OR_RETURN(S3Response response, client_.Send(request));
      if (response.http_status != 200) return client_.ErrorFor(request, response);
      CV_RETURN_IF_ERROR(ForEachListed(response.body, prefix, fn));
      if (XmlText(response.body, "IsTruncated") != "true") return Status::Ok();
      std::string next = XmlText(response.body, "NextContinuationToken");
      if (next.empty() || next == token) {
        return InternalError(request.what + ": truncated without a new continuation token",
                             "object_store_rejected");
      }
      token = std::move(next);
    }
    return InternalError("listing " + prefix + " did not end", "object_store_rejected");
  }

  Status Quarantine(std::string_view key) override {
    if (!IsValidByteKey(key)) return BadByteKey();
    const std::string from = BlobObject(key);
    S3Request copy{.method = "PUT", .object = QuarantineObject(key)};
    copy.headers.push_back("x-amz-copy-source: /" + S3UriEncode(options_.bucket, false) + "/" +
                           S3UriEncode(from, true));
    copy.what = "copy of " + from + " to " + copy.object;
    CV_ASSIGN_OR_RETURN(S3Response response, client_.Send(copy));
    if (response.http_status == 404 && response.error_code == "NoSuchKey") return Status::Ok();
    if (response.http_status != 200 || response.body.find("<Error>") != std::string::npos) {
      if (response.http_status == 200) response.http_status = 500;
      return client_.ErrorFor(copy, response);
    }
    return DeleteObject(from);
  }

  Status QuarantineCopy(std::string_view name, ByteView data) override {
    if (!IsValidQuarantineName(name)) return InvalidArgumentError("bad quarantine name");
    S3Request request{.method = "PUT", .object = QuarantineObject(name), .body = data};
    request.what = "PUT of " + request.object;
    CV_ASSIGN_OR_RETURN(S3Response response, client_.Send(request));
    if (response.http_status != 200) return client_.ErrorFor(request, response);
    return Status::Ok();
  }

 private:
  std::string BlobObject(std::string_view key) const {
    return options_.prefix + "blobs/" + std::string(key);
  }
  std::string QuarantineObject(std::string_view name) const {
    return options_.prefix + "quarantine/" + std::string(name);
  }

  Status DeleteObject(const std::string& object) {
    S3Request request{.method = "DELETE", .object = object};
    request.what = "DELETE of " + object;
    CV_ASSIGN_OR_RETURN(S3Response response, client_.Send(request));
    if (response.http_status == 204 || response.http_status == 200 || IsMissingKey(response)) {
      return Status::Ok();
    }
    return client_.ErrorFor(request, response);
  }

  // Calls `fn` for each <Contents> of a listing page whose name is a key under `prefix`.
  static Status ForEachListed(const std::string& body, const std::string& prefix,
                              const std::function<Status(const StoredKey&)>& fn) {
    for (std::string_view contents : XmlElements(body, "Contents")) {
      const std::string name = XmlText(contents, "Key");
      if (!name.starts_with(prefix)) continue;
      const std::string key = name.substr(prefix.size());
      if (!IsValidByteKey(key)) continue;  // not written here
      const int64_t modified = ParseIso8601Utc(XmlText(contents, "LastModified")).value_or(0);
      CV_RETURN_IF_ERROR(fn(StoredKey{key, modified}));
    }
    return Status::Ok();
  }

  const S3ByteStoreOptions options_;
  S3Client client_;
};

Status CheckOptions(const S3ByteStoreOptions& o) {
  if (!o.endpoint.starts_with("https://") && !o.endpoint.starts_with("http://")) {
    return InvalidArgumentError("object store endpoint must start with https:// or http://",
                                "bad_s3_options");
  }
  if (o.bucket.empty() || o.bucket.find('/') != std::string::npos) {
    return InvalidArgumentError("object store bucket must be a bucket name", "bad_s3_options");
  }
  if (o.prefix.starts_with('/') || (!o.prefix.empty() && !o.prefix.ends_with('/'))) {
    return InvalidArgumentError("object store prefix must be empty or end with '/' (not start)",
                                "bad_s3_options");
  }
  if (o.access_key_id.empty() || o.secret_access_key.empty()) {
    return InvalidArgumentError("object store credentials are missing", "bad_s3_options");
  }
  if (o.parts_in_flight < 1 || o.parts_in_flight > kMaxPartsInFlight) {
    return InvalidArgumentError("parts_in_flight must be 1 to " + std::to_string(kMaxPartsInFlight),
                                "bad_s3_options");
  }
  if (o.part_bytes < kMinPartBytes || o.part_bytes > kMaxPartBytes ||
      o.multipart_threshold_bytes < o.part_bytes) {
    return InvalidArgumentError(
        "part_bytes must be 5 MiB to 5 GiB and multipart_threshold_bytes at least part_bytes",
        "bad_s3_options");
  }
  return Status::Ok();
}

}  // namespace

Status LoadS3Credentials(Env& env, const std::string& path, S3ByteStoreOptions& options) {
  CV_ASSIGN_OR_RETURN(FileInfo info, env.Stat(path));
  if ((info.mode & 077) != 0) {
    return FailedPreconditionError(
        "credentials file " + path + " is readable or writable by others: chmod 600 " + path,
        "credentials_not_private");
  }
  CV_ASSIGN_OR_RETURN(Bytes bytes, ReadFileToBytes(env, path));
  SecretData text = SecretData::CopyFrom(ByteView(bytes));
  std::fill(bytes.begin(), bytes.end(), 0);
  const nlohmann::json json = nlohmann::json::parse(text.AsStringView(), nullptr, false);
  const bool valid = json.is_object() && json.contains("access_key_id") &&
                     json["access_key_id"].is_string() && json.contains("secret_access_key") &&
                     json["secret_access_key"].is_string();
  if (!valid) {
    return InvalidArgumentError("credentials file " + path +
                                    " must be a JSON object with the strings access_key_id and "
                                    "secret_access_key",
                                "bad_credentials_file");
  }
  options.access_key_id = json["access_key_id"].get<std::string>();
  options.secret_access_key =
      SecretData::CopyFrom(json["secret_access_key"].get_ref<const std::string&>());
  return Status::Ok();
}

StatusOr<std::unique_ptr<ByteStore>> NewS3ByteStore(S3ByteStoreOptions options) {
  CV_RETURN_IF_ERROR(CheckOptions(options));
  auto store = std::make_unique<S3ByteStore>(std::move(options));
  CV_RETURN_IF_ERROR(store->CheckBucket());
  return std::unique_ptr<ByteStore>(std::move(store));
}

}  // namespace cardvault
