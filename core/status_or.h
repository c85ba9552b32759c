// StatusOr<T>: a value or the Status that explains why there is none.
#ifndef CARDVAULT_CORE_STATUS_OR_H_
#define CARDVAULT_CORE_STATUS_OR_H_

#include <optional>
#include <utility>

#include "core/status.h"

namespace cardvault {
namespace internal {
[[noreturn]] void DieOnBadValueAccess(const Status& status);
}  // namespace internal

// Holds either a T or a non-OK Status. Constructing from an OK Status is a bug and
// becomes an internal error. value() on an error is a bug: it prints the status and aborts
// (in every build type), never returns garbage.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(const T& value) : value_(value) {}             // NOLINT(google-explicit-constructor)
  StatusOr(T&& value) : value_(std::move(value)) {}       // NOLINT(google-explicit-constructor)
  StatusOr(Status status) : status_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    if (status_.ok()) status_ = InternalError("StatusOr constructed from an OK status");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const& { return status_; }
  Status status() && { return std::move(status_); }

  const T& value() const& {
    CheckOk();
    return *value_;
  }
  T& value() & {
    CheckOk();
    return *value_;
  }
  // By value, not T&&: `for (auto& x : F().value())` then iterates a live object
  // instead of a reference into the destroyed temporary StatusOr.
  T value() && {
    CheckOk();
    return std::move(*value_);
  }

  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

 private:
  void CheckOk() const {
    if (!ok()) internal::DieOnBadValueAccess(status_);
  }

  Status status_;
  std::optional<T> value_;
};

}  // namespace cardvault

#endif  // CARDVAULT_CORE_STATUS_OR_H_
