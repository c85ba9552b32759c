// The two ways S3ByteStore sends a large object: a multipart upload (buffered parts, each
// retried) and a single PUT streamed from the writer (never retried).
#ifndef CARDVAULT_STORAGE_S3_UPLOAD_H_
#define CARDVAULT_STORAGE_S3_UPLOAD_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/bytes.h"
#include "core/status_or.h"
#include "storage/s3_client.h"

namespace cardvault {

// A multipart upload of one object (CreateMultipartUpload, UploadPart, Complete). Destroyed
// before Complete succeeded, it is aborted (AbortMultipartUpload), so the store drops the
// parts. `client` MUST outlive it.
class S3MultipartUpload {
 public:
  static constexpr int kMaxParts = 10000;  // S3's limit
  static StatusOr<std::unique_ptr<S3MultipartUpload>> Create(S3Client* client, std::string object);
  ~S3MultipartUpload();

  // Uploads part `number` (1 to kMaxParts; at least 5 MiB but for the last one). Thread-safe
  // with itself and Cancel: several parts MAY upload at once on their own threads, each
  // number once. Complete and Abort MUST NOT run while a part does.
  Status UploadPart(int number, ByteView data);
  // Thread-safe: makes a running UploadPart (and every later one) stop within about a
  // second with kCancelled "upload_abandoned". Abort and the destructor still work after it.
  void Cancel() { cancelled_ = true; }
  // Returns once the store confirmed the object of parts 1..n; kFailedPrecondition when a
  // part below the highest uploaded one has not been stored.
  Status Complete();
  // Drops the upload (best effort; also what the destructor does when not completed).
  void Abort();

 private:
  S3MultipartUpload(S3Client* client, std::string object, std::string upload_id)
      : client_(client), object_(std::move(object)), upload_id_(std::move(upload_id)) {}
  // Whether the object exists with the parts' total size (Complete answered NoSuchUpload
  // because an earlier attempt, whose answer was lost, completed it).
  bool CompletedBefore();

  S3Client* client_;
  std::string object_, upload_id_;
  std::mutex mu_;
  std::vector<std::string> etags_;  // guarded by mu_: of part i + 1 ("" while not stored)
  uint64_t bytes_ = 0;              // guarded by mu_: of the stored parts
  bool finished_ = false;           // completed or aborted
  std::atomic<bool> cancelled_{false};
};

// A single PUT of `size` bytes whose body is fed by Write as it comes (through a pipe of at
// most kPipeBytes to the thread that runs the request). The last byte is held back until
// Finish, so the object cannot appear before the writer commits; destroyed before Finish,
// the request is abandoned and nothing is stored. `client` MUST outlive it.
class S3StreamedPut {
 public:
  static constexpr size_t kPipeBytes = size_t{1} << 20;
  S3StreamedPut(S3Client* client, std::string object, uint64_t size);
  ~S3StreamedPut();

  // Blocks while the pipe is full. An error once the request failed, or when more than
  // `size` bytes are written (kInvalidArgument "size_mismatch").
  Status Write(ByteView data);
  // Sends the rest and waits for the store's answer: OK once it confirmed the object.
  Status Finish();

 private:
  void Run();
  // The curl read callback's side of the pipe.
  size_t Read(std::span<uint8_t> out);

  S3Client* client_;
  const std::string object_;
  const uint64_t size_;
  uint64_t written_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  Bytes pipe_;          // guarded by mu_: bytes [pipe_at_, end) are not sent yet
  size_t pipe_at_ = 0;  // guarded by mu_
  bool finishing_ = false, abandoned_ = false, done_ = false;  // guarded by mu_
  Status result_;                                              // guarded by mu_, once done_
  std::thread thread_;
};

}  // namespace cardvault

#endif  // CARDVAULT_STORAGE_S3_UPLOAD_H_
