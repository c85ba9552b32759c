// S3MultipartUpload and S3StreamedPut.
#include "storage/s3_upload.h"

#include <algorithm>

#include "storage/s3_xml.h"

namespace cardvault {
namespace {

// The Status of a 200 answer whose body is an S3 <Error> (CopyObject and
// CompleteMultipartUpload report late failures that way), or OK.
Status ErrorInBody(const S3Client& client, const S3Request& request, const S3Response& response) {
  if (response.body.find("<Error>") == std::string::npos) return Status::Ok();
  S3Response as_error = response;
  const bool transient = response.error_code == "InternalError" ||
                         response.error_code == "SlowDown" ||
                         response.error_code == "ServiceUnavailable";
  as_error.http_status = transient ? 503 : 400;
  return client.ErrorFor(request, as_error);
}

}  // namespace

StatusOr<std::unique_ptr<S3MultipartUpload>> S3MultipartUpload::Create(S3Client* client,
                                                                       std::string object) {
  S3Request request{.method = "POST", .object = object, .query = {{"uploads", ""}}};
  request.what = "CreateMultipartUpload of " + object;
  CV_ASSIGN_OR_RETURN(S3Response response, client->Send(request));
  if (response.http_status != 200) return client->ErrorFor(request, response);
  std::string upload_id = XmlText(response.body, "UploadId");
  if (upload_id.empty()) {
    return InternalError(request.what + ": no UploadId in the answer", "object_store_rejected");
  }
  return std::unique_ptr<S3MultipartUpload>(
      new S3MultipartUpload(client, std::move(object), std::move(upload_id)));
}

S3MultipartUpload::~S3MultipartUpload() {
  if (!finished_) Abort();
}

Status S3MultipartUpload::UploadPart(int number, ByteView data) {
  if (finished_) return FailedPreconditionError("multipart upload already finished");
  if (number < 1 || number > kMaxParts) {
    return ResourceExhaustedError("object needs more than " + std::to_string(kMaxParts) +
                                      " parts: raise part_bytes in the object store configuration",
                                  "object_too_large");
  }
  S3Request request{.method = "PUT",
                    .object = object_,
                    .query = {{"partNumber", std::to_string(number)}, {"uploadId", upload_id_}},
                    .body = data};
  request.cancel = &cancelled_;
  request.what = "UploadPart " + std::to_string(number) + " of " + object_;
  CV_ASSIGN_OR_RETURN(S3Response response, client_->Send(request));
  if (response.http_status != 200) return client_->ErrorFor(request, response);
  if (response.etag.empty()) {
    return InternalError(request.what + ": no ETag in the answer", "object_store_rejected");
  }
  std::lock_guard lock(mu_);
  if (etags_.size() < static_cast<size_t>(number)) etags_.resize(static_cast<size_t>(number));
  etags_[static_cast<size_t>(number - 1)] = response.etag;
  bytes_ += data.size();
  return Status::Ok();
}

Status S3MultipartUpload::Complete() {
  if (finished_) return FailedPreconditionError("multipart upload already finished");
  std::string xml = "<CompleteMultipartUpload>";
  {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < etags_.size(); ++i) {
      if (etags_[i].empty()) {
        return FailedPreconditionError("part " + std::to_string(i + 1) + " of " + object_ +
                                       " was not stored before the upload was completed");
      }
      xml += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" +
             XmlEscape(etags_[i]) + "</ETag></Part>";
    }
  }
  xml += "</CompleteMultipartUpload>";
  S3Request request{.method = "POST",
                    .object = object_,
                    .query = {{"uploadId", upload_id_}},
                    .body = AsBytes(xml)};
  request.what = "CompleteMultipartUpload of " + object_;
  CV_ASSIGN_OR_RETURN(S3Response response, client_->Send(request));
  if (response.http_status == 404 && response.error_code == "NoSuchUpload" && CompletedBefore()) {
    finished_ = true;
    return Status::Ok();
  }
  if (response.http_status != 200) return client_->ErrorFor(request, response);
  CV_RETURN_IF_ERROR(ErrorInBody(*client_, request, response));
  finished_ = true;
  return Status::Ok();
}

bool S3MultipartUpload::CompletedBefore() {
  S3Request head{.method = "HEAD", .object = object_};
  head.what = "HEAD of " + object_;
  StatusOr<S3Response> response = client_->Send(head);
  std::lock_guard lock(mu_);
  return response.ok() && response->http_status == 200 &&
         response->content_length == static_cast<int64_t>(bytes_);
}

void S3MultipartUpload::Abort() {
  finished_ = true;
  S3Request request{.method = "DELETE", .object = object_, .query = {{"uploadId", upload_id_}}};
  request.what = "AbortMultipartUpload of " + object_;
  client_->Send(request).status().IgnoreError();  // what stays is for a lifecycle rule
}

S3StreamedPut::S3StreamedPut(S3Client* client, std::string object, uint64_t size)
    : client_(client), object_(std::move(object)), size_(size) {
  thread_ = std::thread([this] { Run(); });
}

S3StreamedPut::~S3StreamedPut() {
  {
    std::lock_guard lock(mu_);
    if (!finishing_) abandoned_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void S3StreamedPut::Run() {
  S3Request request{.method = "PUT", .object = object_};
  request.stream = [this](std::span<uint8_t> out) { return Read(out); };
  request.stream_size = size_;
  request.what = "PUT of " + object_;
  StatusOr<S3Response> response = client_->Send(request);
  Status result = response.status();
  if (response.ok() && response->http_status != 200) {
    result = client_->ErrorFor(request, *response);
  }
  std::lock_guard lock(mu_);
  result_ = std::move(result);
  done_ = true;
  cv_.notify_all();
}

size_t S3StreamedPut::Read(std::span<uint8_t> out) {
  std::unique_lock lock(mu_);
  // The last byte waits for Finish: a request that never ends stores nothing.
  auto sendable = [&] { return pipe_.size() - pipe_at_ - (finishing_ ? 0 : 1); };
  cv_.wait(lock, [&] { return abandoned_ || finishing_ || pipe_.size() - pipe_at_ > 1; });
  if (abandoned_) return SIZE_MAX;
  const size_t n = std::min(out.size(), sendable());
  std::copy_n(pipe_.data() + pipe_at_, n, out.data());
  pipe_at_ += n;
  if (pipe_at_ == pipe_.size()) {
    pipe_.clear();
    pipe_at_ = 0;
  }
  cv_.notify_all();
  return n;  // 0 only when finishing with nothing left: the end
}

Status S3StreamedPut::Write(ByteView data) {
  if (data.size() > size_ - written_) {
    return InvalidArgumentError("more bytes than the declared size " + std::to_string(size_),
                                "size_mismatch");
  }
  std::unique_lock lock(mu_);
  while (!data.empty()) {
    cv_.wait(lock, [&] { return done_ || pipe_.size() - pipe_at_ < kPipeBytes; });
    if (done_) {
      return result_.ok() ? InternalError("PUT of " + object_ + " ended before its body") : result_;
    }
    if (pipe_at_ > 0) {  // move the unsent bytes to the front before growing
      pipe_.erase(pipe_.begin(), pipe_.begin() + static_cast<ptrdiff_t>(pipe_at_));
      pipe_at_ = 0;
    }
    const size_t n = std::min(data.size(), kPipeBytes - pipe_.size());
    pipe_.insert(pipe_.end(), data.begin(), data.begin() + static_cast<ptrdiff_t>(n));
    data = data.subspan(n);
    written_ += n;
    cv_.notify_all();
  }
  return Status::Ok();
}

Status S3StreamedPut::Finish() {
  if (written_ != size_) {
    return InvalidArgumentError(
        "wrote " + std::to_string(written_) + " bytes, declared " + std::to_string(size_),
        "size_mismatch");
  }
  std::unique_lock lock(mu_);
  finishing_ = true;
  cv_.notify_all();
  cv_.wait(lock, [&] { return done_; });
  return result_;
}

}  // namespace cardvault
