// BackgroundAppender implementation over WorkerThread.
#include "core/background_appender.h"

namespace cardvault {

Status BackgroundAppender::Submit(ByteView data) {
  worker_.Wait();
  if (!status_.ok()) return status_;
  if (data.size() < kInlineLimit) {
    status_ = file_->Append(data);
    return status_;
  }
  worker_.Submit([this, data] { status_ = file_->Append(data); });
  return Status::Ok();
}

Status BackgroundAppender::Wait() {
  worker_.Wait();
  return status_;
}

}  // namespace cardvault
