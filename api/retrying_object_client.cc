// RetryingObjectClient implementation: backoff loop and per-operation idempotence rules.
#include "api/retrying_object_client.h"

#include <random>
#include <thread>

#include "core/crypto.h"

namespace cardvault {

RetryingObjectClient::RetryingObjectClient(ObjectClient* inner, RetryPolicy policy)
    : inner_(inner), policy_(std::move(policy)) {
  if (!policy_.sleep) {
    policy_.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
  }
  if (policy_.max_attempts < 1) policy_.max_attempts = 1;
}

void RetryingObjectClient::Backoff(int attempt) {
  auto delay = policy_.initial_backoff * (int64_t{1} << std::min(attempt - 1, 20));
  delay = std::min<std::chrono::milliseconds>(delay, policy_.max_backoff);
  // Jitter in [delay/2, delay] so clients that failed together do not retry together.
  thread_local std::minstd_rand rng(std::random_device{}());
  auto half = delay.count() / 2;
  std::uniform_int_distribution<int64_t> dist(half, std::max<int64_t>(half, delay.count()));
  policy_.sleep(std::chrono::milliseconds(dist(rng)));
}

StatusOr<ObjectInfo> RetryingObjectClient::Put(std::string_view id, const PutOptions& options,
                                               const SourceFactory& source) {
  for (int attempt = 1;; ++attempt) {
    auto result = inner_->Put(id, options, source);
    if (!result.ok() && attempt > 1 && options.create_only &&
        result.status().code() == StatusCode::kAlreadyExists) {
      // An earlier attempt may have been stored before its reply was lost.
      auto head = Head(id);
      if (!head.ok() || head->size != options.size) return result;
      std::string expected = options.sha256;
      if (expected.empty()) {
        // An appended-digest put (SHA-256 or XXH3-128, see PutOptions::transfer_check) has no
        // SHA-256 of its own: hash what it sent, as the stored object is named by its SHA-256.
        auto file = source();
        uint64_t hashed = 0;
        auto digest = file.ok() ? Sha256OfStream(**file, &hashed, options.size) : file.status();
        if (!digest.ok() || hashed != options.size) return result;
        expected = HexEncode(*digest);
      }
      if (head->sha256 == expected) return head;
      return result;
    }
    if (result.ok() || !IsRetryable(result.status()) || attempt >= policy_.max_attempts) {
      return result;
    }
    Backoff(attempt);
  }
}

StatusOr<ObjectInfo> RetryingObjectClient::Get(std::string_view id, const GetOptions& options,
                                               const ByteSink& sink) {
  uint64_t delivered = 0;
  ByteSink counting = [&](ByteView bytes) {
    CV_RETURN_IF_ERROR(sink(bytes));
    delivered += bytes.size();
    return Status::Ok();
  };
  for (int attempt = 1;; ++attempt) {
    // A retry continues where the last attempt stopped (no longer a whole-object check).
    GetOptions rest = options;
    rest.offset += delivered;
    auto result = inner_->Get(id, rest, counting);
    if (!result.ok() && delivered > 0 && result.status().reason() == "range_not_satisfiable") {
      // Everything had arrived; only the end of the reply was lost.
      auto head = Head(id);
      if (head.ok() && head->size == options.offset + delivered) return head;
    }
    if (result.ok() || !IsRetryable(result.status()) || attempt >= policy_.max_attempts) {
      return result;
    }
    Backoff(attempt);
  }
}

StatusOr<ObjectInfo> RetryingObjectClient::Head(std::string_view id) {
  for (int attempt = 1;; ++attempt) {
    auto result = inner_->Head(id);
    if (result.ok() || !IsRetryable(result.status()) || attempt >= policy_.max_attempts) {
      return result;
    }
    Backoff(attempt);
  }
}

Status RetryingObjectClient::Delete(std::string_view id) {
  for (int attempt = 1;; ++attempt) {
    Status status = inner_->Delete(id);
    if (attempt > 1 && status.code() == StatusCode::kNotFound) return Status::Ok();
    if (status.ok() || !IsRetryable(status) || attempt >= policy_.max_attempts) return status;
    Backoff(attempt);
  }
}

StatusOr<ListPage> RetryingObjectClient::List(const ListOptions& options) {
  for (int attempt = 1;; ++attempt) {
    auto result = inner_->List(options);
    if (result.ok() || !IsRetryable(result.status()) || attempt >= policy_.max_attempts) {
      return result;
    }
    Backoff(attempt);
  }
}

StatusOr<std::string> RetryingObjectClient::WhoAmI() {
  for (int attempt = 1;; ++attempt) {
    auto result = inner_->WhoAmI();
    if (result.ok() || !IsRetryable(result.status()) || attempt >= policy_.max_attempts) {
      return result;
    }
    Backoff(attempt);
  }
}

}  // namespace cardvault
