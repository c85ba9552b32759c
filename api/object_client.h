// ObjectClient: the client-side view of one user's objects on a cardvault server.
#ifndef CARDVAULT_API_OBJECT_CLIENT_H_
#define CARDVAULT_API_OBJECT_CLIENT_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/env.h"
#include "core/status_or.h"
#include "storage/blob_store.h"

namespace cardvault {

// Opens the upload's content from its start; called again for every retry.
using SourceFactory = std::function<StatusOr<std::unique_ptr<SequentialFile>>()>;
// Receives downloaded bytes in order. A non-OK Status stops the download with it.
using ByteSink = std::function<Status(ByteView)>;

struct GetOptions {
  uint64_t offset = 0;  // the first byte wanted (a Range request when above 0)
  // How many bytes from `offset` (a bounded Range request); unset: all up to the end. A
  // bounded request is answered even for an object damaged on the server, as long as the
  // bytes asked for are stored and end before the object's last byte (docs/server.md),
  // so that a client can still read a damaged object's header.
  std::optional<uint64_t> length;
  // Off only for content that authenticates itself (a blob's AEAD checks every byte), so
  // a large download is not hashed twice.
  bool verify_sha256 = true;
};

// True for failures where trying the same request again may succeed: network errors,
// timeouts, HTTP 429 and 5xx. They are all kUnavailable; everything else is permanent, and
// "object_damaged" (the server's copy is damaged) never is retryable, whatever its code.
inline bool IsRetryable(const Status& status) {
  return status.code() == StatusCode::kUnavailable && status.reason() != "object_damaged";
}

// Errors: kInvalidArgument (400/411/416), kPermissionDenied (401, or a TLS certificate
// that fails verification: reason "tls_verification_failed" / "tls_pin_mismatch"),
// kNotFound (404), kAlreadyExists (412 create-only conflict, reason "object_exists"),
// kResourceExhausted (413 "object_too_large", 507 "quota_exceeded"), kCorrupt
// "object_damaged" (410: the server's stored copy is damaged; message "damaged on the
// server: ..."; never retried), kUnavailable (retryable, see IsRetryable; a download that
// ends before its Content-Length is one, reason "network"). The reason is the server's
// error code when it sent one.
class ObjectClient {
 public:
  virtual ~ObjectClient() = default;

  // Uploads options.size bytes from the source under `id`. The server checks the content
  // against its SHA-256 and stores nothing on a mismatch. options.sha256 set (64 lowercase
  // hex): the digest is sent before the body. options.sha256 empty: the digest is computed
  // while sending and appended (the source is read once); the returned ObjectInfo::sha256 is
  // that digest, which the caller records. Either way the server's reply MUST name the
  // digest and size that were sent (else kCorrupt "sha256_mismatch").
  // options.sha256 empty and options.transfer_check == TransferCheck::kXxh128: the content's
  // XXH3-128 is computed while sending and appended instead ("X-Content-XXH128: appended",
  // far cheaper than SHA-256), and the server publishes the object only if it matches. The
  // returned ObjectInfo::sha256 is then the SHA-256 the server computed, which the client
  // CANNOT verify (only the reply's size is checked, else kCorrupt "size_mismatch"): use it
  // only for content that authenticates itself (a blob's AEAD). transfer_check is ignored
  // when options.sha256 is set.
  virtual StatusOr<ObjectInfo> Put(std::string_view id, const PutOptions& options,
                                   const SourceFactory& source) = 0;
  // Streams the object's bytes from `options.offset` to its end into `sink`. A whole
  // object (offset 0) is checked against its SHA-256 unless options.verify_sha256 is off
  // (kCorrupt "sha256_mismatch", after the sink already saw the bytes: sinks MUST treat
  // data as unverified until OK).
  virtual StatusOr<ObjectInfo> Get(std::string_view id, const GetOptions& options,
                                   const ByteSink& sink) = 0;
  virtual StatusOr<ObjectInfo> Head(std::string_view id) = 0;
  virtual Status Delete(std::string_view id) = 0;
  virtual StatusOr<ListPage> List(const ListOptions& options) = 0;
  // The user name the token belongs to.
  virtual StatusOr<std::string> WhoAmI() = 0;
};

// Forwards every call to another client; subclasses override what they change (a test
// that drops a reply, a client whose target is swapped). `target` MUST outlive it.
class ObjectClientWrapper : public ObjectClient {
 public:
  explicit ObjectClientWrapper(ObjectClient* target) : target_(target) {}
  ObjectClient* target() const { return target_; }
  void set_target(ObjectClient* target) { target_ = target; }

  StatusOr<ObjectInfo> Put(std::string_view id, const PutOptions& options,
                           const SourceFactory& source) override {
    return target_->Put(id, options, source);
  }
  StatusOr<ObjectInfo> Get(std::string_view id, const GetOptions& options,
                           const ByteSink& sink) override {
    return target_->Get(id, options, sink);
  }
  StatusOr<ObjectInfo> Head(std::string_view id) override { return target_->Head(id); }
  Status Delete(std::string_view id) override { return target_->Delete(id); }
  StatusOr<ListPage> List(const ListOptions& options) override { return target_->List(options); }
  StatusOr<std::string> WhoAmI() override { return target_->WhoAmI(); }

 private:
  ObjectClient* target_;
};

}  // namespace cardvault

#endif  // CARDVAULT_API_OBJECT_CLIENT_H_
