// Status: the result of a fallible operation, returned across every module boundary.
#ifndef CARDVAULT_CORE_STATUS_H_
#define CARDVAULT_CORE_STATUS_H_

#include <string>
#include <string_view>

namespace cardvault {

// Broad classes of failure. Callers branch on the code; people read the message.
enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // the caller passed something malformed
  kNotFound,            // a file, key, object or recipient that does not exist
  kAlreadyExists,       // create-only operation found something in place
  kCorrupt,             // data failed a format or authentication check
  kUnsupported,         // a well-formed input this version cannot handle
  kPermissionDenied,    // wrong PIN, wrong token, access refused
  kFailedPrecondition,  // the system is not in a state to do this (e.g. no key on the card)
  kUnavailable,         // transient: card absent, server down; retrying may help
  kResourceExhausted,   // disk full, quota, limits
  kIoError,             // an operating-system I/O failure
  kCancelled,           // the user or a signal stopped the operation
  kInternal,            // a bug or an unexpected library failure
};

// Returns a stable lower-case name for `code`, e.g. "corrupt".
std::string_view StatusCodeName(StatusCode code);

// A Status is either OK or a code, an optional machine-readable `reason` (a short
// snake_case tag that tests and scripts may match, e.g. "header_mac_mismatch") and a
// human-readable message. Cheap to copy; OK carries no allocation.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message, std::string reason = {});

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::string& reason() const { return reason_; }

  // Returns a copy whose message is "context: message"; OK stays OK.
  Status WithContext(std::string_view context) const;

  // "corrupt (header_mac_mismatch): the header MAC does not match ..." or "OK".
  std::string ToString() const;

  // Marks a Status as deliberately unused.
  void IgnoreError() const {}

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::string reason_;
};

inline bool operator==(const Status& a, const Status& b) {
  return a.code() == b.code() && a.reason() == b.reason() && a.message() == b.message();
}

// Convenience constructors.
Status InvalidArgumentError(std::string message, std::string reason = {});
Status NotFoundError(std::string message, std::string reason = {});
Status AlreadyExistsError(std::string message, std::string reason = {});
Status CorruptError(std::string message, std::string reason = {});
Status UnsupportedError(std::string message, std::string reason = {});
Status PermissionDeniedError(std::string message, std::string reason = {});
Status FailedPreconditionError(std::string message, std::string reason = {});
Status UnavailableError(std::string message, std::string reason = {});
Status ResourceExhaustedError(std::string message, std::string reason = {});
Status IoError(std::string message, std::string reason = {});
Status CancelledError(std::string message, std::string reason = {});
Status InternalError(std::string message, std::string reason = {});

// Maps an errno value from a failed system call on `what` (usually a path) to a Status:
// ENOSPC/EDQUOT -> kResourceExhausted ("disk_full"), ENOENT -> kNotFound,
// EACCES/EPERM -> kPermissionDenied, anything else -> kIoError.
Status ErrnoToStatus(int err, std::string_view operation, std::string_view what);

}  // namespace cardvault

// Returns from the enclosing function if `expr` (a Status) is not OK.
#define CV_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::cardvault::Status cv_status_ = (expr); \
    if (!cv_status_.ok()) return cv_status_; \
  } while (0)

#define CV_CONCAT_INNER_(a, b) a##b
#define CV_CONCAT_(a, b) CV_CONCAT_INNER_(a, b)

// `CV_ASSIGN_OR_RETURN(auto x, StatusOrExpr())` binds the value or returns the error.
#define CV_ASSIGN_OR_RETURN(lhs, expr) \
  CV_ASSIGN_OR_RETURN_IMPL_(CV_CONCAT_(cv_statusor_, __LINE__), lhs, expr)
#define CV_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return std::move(tmp).status();  \
  lhs = std::move(tmp).value()

#endif  // CARDVAULT_CORE_STATUS_H_
