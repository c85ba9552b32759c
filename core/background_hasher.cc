// BackgroundHasher implementation over WorkerThread.
#include "core/background_hasher.h"

namespace cardvault {

void BackgroundHasher::Submit(ByteView data) {
  if (data.size() < kInlineLimit) {
    worker_.Wait();
    hasher_.Update(data);
    return;
  }
  worker_.Submit([this, data] { hasher_.Update(data); });
}

Sha256Digest BackgroundHasher::Finish() {
  worker_.Wait();
  return hasher_.Finish();
}

}  // namespace cardvault
