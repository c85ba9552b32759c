// S3ByteStore's retries against a local fault server on 127.0.0.1 (cpp-httplib) that answers
// 503 SlowDown on demand: radosgw cannot be made to. The server answers every HEAD 200 (the
// bucket check; httplib routes HEAD to the GET handlers) and each PUT with the next scripted
// status.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <mutex>
#include <thread>

#include "storage/s3_byte_store.h"

namespace cardvault {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;

class FaultServer {
 public:
  // PUTs get `statuses` in order, then 200.
  explicit FaultServer(std::deque<int> statuses) : statuses_(std::move(statuses)) {
    server_.Get(".*", [](const httplib::Request&, httplib::Response& res) { res.status = 200; });
    server_.Put(".*", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mu_);
      ++puts_;
      body_bytes_ += req.body.size();
      res.status = 200;
      if (!statuses_.empty()) {
        res.status = statuses_.front();
        statuses_.pop_front();
        res.set_content("<Error><Code>SlowDown</Code><Message>slow</Message></Error>",
                        "application/xml");
      } else {
        res.set_header("ETag", "\"0123\"");
      }
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    for (int i = 0; i < 5000 && !server_.is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  ~FaultServer() {
    server_.stop();
    thread_.join();
  }

  S3ByteStoreOptions Options() const {
    S3ByteStoreOptions o;
    o.endpoint = "http://127.0.0.1:" + std::to_string(port_);
    o.bucket = "b";
    o.access_key_id = "k";
    o.secret_access_key = SecretData::CopyFrom("s");
    o.max_attempts = 4;
    o.retry_base_delay_ms = 40;
    o.part_bytes = 5 * kMiB;
    o.multipart_threshold_bytes = 64 * kMiB;
    return o;
  }
  int puts() {
    std::lock_guard lock(mu_);
    return puts_;
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  std::deque<int> statuses_;  // guarded by mu_
  int puts_ = 0;              // guarded by mu_
  size_t body_bytes_ = 0;     // guarded by mu_
};

StatusOr<std::string> Put(ByteStore& store, size_t size) {
  CV_ASSIGN_OR_RETURN(auto writer, store.NewWriter(size));
  CV_RETURN_IF_ERROR(writer->Append(Bytes(size, 7)));
  return writer->Commit();
}

// 503 SlowDown twice, then 200: the buffered PUT is sent again after a backoff and commits.
TEST(S3RetryTest, SlowDownIsRetriedWithBackoff) {
  FaultServer server({503, 503});
  auto store = NewS3ByteStore(server.Options());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  const auto start = std::chrono::steady_clock::now();
  auto key = Put(**store, 1000);
  EXPECT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_EQ(server.puts(), 3);
  // Backoffs of at least half of 40 and 80 ms.
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(60));
}

// 503 on every attempt: kUnavailable after max_attempts, naming the status and S3 code.
TEST(S3RetryTest, PersistentSlowDownIsUnavailableAfterTheAttempts) {
  FaultServer server({503, 503, 503, 503, 503, 503});
  auto store = NewS3ByteStore(server.Options());
  ASSERT_TRUE(store.ok());
  auto key = Put(**store, 1000);
  EXPECT_EQ(key.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(key.status().reason(), "object_store_unavailable");
  EXPECT_NE(key.status().message().find("HTTP 503 SlowDown"), std::string::npos)
      << key.status().message();
  EXPECT_NE(key.status().message().find("failed 4 times"), std::string::npos);
  EXPECT_EQ(server.puts(), 4);
}

// A streamed PUT cannot be replayed: one attempt, then kUnavailable saying so.
TEST(S3RetryTest, StreamedPutIsNotRetried) {
  FaultServer server({503, 503});
  auto store = NewS3ByteStore(server.Options());
  ASSERT_TRUE(store.ok());
  auto key = Put(**store, 6 * kMiB);  // between part_bytes and the threshold: streamed
  EXPECT_EQ(key.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(key.status().message().find("streamed"), std::string::npos) << key.status().message();
  EXPECT_EQ(server.puts(), 1);
}

}  // namespace
}  // namespace cardvault
