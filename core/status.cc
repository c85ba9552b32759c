// Status implementation: names, messages and errno mapping.
#include "core/status.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "core/status_or.h"

namespace cardvault {

std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kInvalidArgument:
      return "invalid_argument";
    case StatusCode::kNotFound:
      return "not_found";
    case StatusCode::kAlreadyExists:
      return "already_exists";
    case StatusCode::kCorrupt:
      return "corrupt";
    case StatusCode::kUnsupported:
      return "unsupported";
    case StatusCode::kPermissionDenied:
      return "permission_denied";
    case StatusCode::kFailedPrecondition:
      return "failed_precondition";
    case StatusCode::kUnavailable:
      return "unavailable";
    case StatusCode::kResourceExhausted:
      return "resource_exhausted";
    case StatusCode::kIoError:
      return "io_error";
    case StatusCode::kCancelled:
      return "cancelled";
    case StatusCode::kInternal:
      return "internal";
  }
  return "unknown";
}

Status::Status(StatusCode code, std::string message, std::string reason)
    : code_(code), message_(std::move(message)), reason_(std::move(reason)) {
  if (code_ == StatusCode::kOk) {
    message_.clear();
    reason_.clear();
  }
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  return Status(code_, std::string(context) + ": " + message_, reason_);
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out(StatusCodeName(code_));
  if (!reason_.empty()) out += " (" + reason_ + ")";
  out += ": " + message_;
  return out;
}

#define CV_DEFINE_ERROR_(Name, Code)                                        \
  Status Name(std::string message, std::string reason) {                    \
    return Status(StatusCode::Code, std::move(message), std::move(reason)); \
  }
CV_DEFINE_ERROR_(InvalidArgumentError, kInvalidArgument)
CV_DEFINE_ERROR_(NotFoundError, kNotFound)
CV_DEFINE_ERROR_(AlreadyExistsError, kAlreadyExists)
CV_DEFINE_ERROR_(CorruptError, kCorrupt)
CV_DEFINE_ERROR_(UnsupportedError, kUnsupported)
CV_DEFINE_ERROR_(PermissionDeniedError, kPermissionDenied)
CV_DEFINE_ERROR_(FailedPreconditionError, kFailedPrecondition)
CV_DEFINE_ERROR_(UnavailableError, kUnavailable)
CV_DEFINE_ERROR_(ResourceExhaustedError, kResourceExhausted)
CV_DEFINE_ERROR_(IoError, kIoError)
CV_DEFINE_ERROR_(CancelledError, kCancelled)
CV_DEFINE_ERROR_(InternalError, kInternal)
#undef CV_DEFINE_ERROR_

namespace internal {
void DieOnBadValueAccess(const Status& status) {
  std::fprintf(stderr, "cardvault: value() called on an error StatusOr: %s\n",
               status.ToString().c_str());
  std::abort();
}
}  // namespace internal

Status ErrnoToStatus(int err, std::string_view operation, std::string_view what) {
  std::string message =
      std::string(operation) + " " + std::string(what) + ": " + std::strerror(err);
  switch (err) {
    case ENOSPC:
#ifdef EDQUOT  // not on Windows
    case EDQUOT:
#endif
      return ResourceExhaustedError(std::move(message), "disk_full");
    case ENOENT:
      return NotFoundError(std::move(message));
    case EACCES:
    case EPERM:
      return PermissionDeniedError(std::move(message));
    case EEXIST:
      return AlreadyExistsError(std::move(message));
    default:
      return IoError(std::move(message));
  }
}

}  // namespace cardvault
