// BackgroundAppender implementation over WorkerThread.
#include "core/background_appender.h"

namespace cardvault {

Status BackgroundAppender::FirstError() {
  std::lock_guard lock(mu_);
  return status_;
}

Status BackgroundAppender::Submit(ByteView data) {
  if (data.size() < kInlineLimit) {
    worker_.Wait();
    std::lock_guard lock(mu_);
    if (status_.ok()) status_ = file_->Append(data);
    return status_;
  }
  CV_RETURN_IF_ERROR(FirstError());
  worker_.Submit([this, data] {
    if (!FirstError().ok()) return;  // nothing is appended after a failed append
    Status s = file_->Append(data);
    std::lock_guard lock(mu_);
    if (status_.ok()) status_ = std::move(s);
  });
  return FirstError();  // with depth 1, that of the append before this one too
}

Status BackgroundAppender::Wait() {
  worker_.Wait();
  return FirstError();
}

}  // namespace cardvault
