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
  worker_.WaitForRoom();             // with depth 1: the previous append finished
  CV_RETURN_IF_ERROR(FirstError());  // so its error is known here, never this one's
  worker_.Submit([this, data] {
    if (!FirstError().ok()) return;  // nothing is appended after a failed append
    Status s = file_->Append(data);
    std::lock_guard lock(mu_);
    if (status_.ok()) status_ = std::move(s);
  });
  return Status::Ok();
}

Status BackgroundAppender::Wait() {
  worker_.Wait();
  return FirstError();
}

}  // namespace cardvault
