// RetryingObjectClient: an ObjectClient decorator that retries transient failures.
#ifndef CARDVAULT_API_RETRYING_OBJECT_CLIENT_H_
#define CARDVAULT_API_RETRYING_OBJECT_CLIENT_H_

#include <chrono>
#include <functional>

#include "api/object_client.h"

namespace cardvault {

struct RetryPolicy {
  int max_attempts = 5;
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{10000};
  // Waits between attempts; tests replace it to run without sleeping.
  std::function<void(std::chrono::milliseconds)> sleep;
};

// Retries calls that fail with a retryable Status (IsRetryable) with exponential backoff
// and jitter, up to max_attempts. Permanent errors return at once, among them kCorrupt
// "object_damaged" (the server's copy is damaged: no attempt can succeed), also when a
// resumed Get meets it after a cut connection. Retries are made safe:
//   - Put reopens the source; a create-only Put whose earlier attempt may have landed and
//     now gets kAlreadyExists succeeds if the stored object has the same SHA-256 and size
//     (for a Put with an empty options.sha256, whatever its transfer_check, that digest is
//     computed by reading the source once more, only in this case);
//   - Get resumes from the bytes the sink already received (a Range request), so the sink
//     sees every byte exactly once; a resumed download is not hash-checked end to end;
//   - Delete that gets kNotFound after a failed attempt counts as done.
// `inner` MUST outlive this object. Thread-safety is that of `inner`.
class RetryingObjectClient final : public ObjectClient {
 public:
  RetryingObjectClient(ObjectClient* inner, RetryPolicy policy);

  StatusOr<ObjectInfo> Put(std::string_view id, const PutOptions& options,
                           const SourceFactory& source) override;
  StatusOr<ObjectInfo> Get(std::string_view id, const GetOptions& options,
                           const ByteSink& sink) override;
  StatusOr<ObjectInfo> Head(std::string_view id) override;
  Status Delete(std::string_view id) override;
  StatusOr<ListPage> List(const ListOptions& options) override;
  StatusOr<std::string> WhoAmI() override;

 private:
  // Sleeps before attempt number `attempt` (1 = the first retry).
  void Backoff(int attempt);

  ObjectClient* inner_;
  RetryPolicy policy_;
};

}  // namespace cardvault

#endif  // CARDVAULT_API_RETRYING_OBJECT_CLIENT_H_
