// S3ByteStore's retries against a local fault server on 127.0.0.1 (cpp-httplib) that answers
// 503 SlowDown on demand: radosgw cannot be made to. The server answers every HEAD 200 (the
// bucket check; httplib routes HEAD to the GET handlers) and each PUT with the next scripted
// status. A second fault server speaks enough of the multipart protocol to fail or hold one
// part while the writer goes on.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "storage/s3_byte_store.h"

namespace cardvault {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;

// What both fault servers share: an httplib server on a free 127.0.0.1 port, on a thread of
// its own, and the options of a store that talks to it (bucket "b", 5 MiB parts).
class LocalS3 {
 protected:
  // Call at the end of the subclass's constructor, after the routes are set.
  void Listen() {
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    for (int i = 0; i < 5000 && !server_.is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  // Call first in the subclass's destructor.
  void Stop() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  S3ByteStoreOptions OptionsFor(int max_attempts, int retry_base_delay_ms,
                                uint64_t multipart_threshold_bytes) const {
    S3ByteStoreOptions o;
    o.endpoint = "http://127.0.0.1:" + std::to_string(port_);
    o.bucket = "b";
    o.access_key_id = "k";
    o.secret_access_key = SecretData::CopyFrom("s");
    o.max_attempts = max_attempts;
    o.retry_base_delay_ms = retry_base_delay_ms;
    o.part_bytes = 5 * kMiB;
    o.multipart_threshold_bytes = multipart_threshold_bytes;
    return o;
  }

  httplib::Server server_;

 private:
  std::thread thread_;
  int port_ = 0;
};

class FaultServer : LocalS3 {
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
    Listen();
  }
  ~FaultServer() { Stop(); }

  S3ByteStoreOptions Options() const { return OptionsFor(4, 40, 64 * kMiB); }
  int puts() {
    std::lock_guard lock(mu_);
    return puts_;
  }

 private:
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

// parts_in_flight is bounded (each part in flight is a part of memory): 1 to 8.
TEST(S3RetryTest, PartsInFlightOutsideOneToEightIsRefused) {
  FaultServer server({});
  for (int parts : {0, -1, kMaxPartsInFlight + 1}) {
    S3ByteStoreOptions options = server.Options();
    options.parts_in_flight = parts;
    auto store = NewS3ByteStore(std::move(options));
    EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument) << parts;
    EXPECT_EQ(store.status().reason(), "bad_s3_options") << parts;
  }
  S3ByteStoreOptions options = server.Options();
  options.parts_in_flight = kMaxPartsInFlight;
  EXPECT_TRUE(NewS3ByteStore(std::move(options)).ok());
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

// Multipart uploads whose part `fail_part` always answers 503 SlowDown, and whose parts
// `hold_parts` are answered only on Release or when the server is destroyed (or after 20 s).
// Counts what a store must leave behind: uploads created and neither completed nor aborted.
class MultipartFaultServer : LocalS3 {
 public:
  MultipartFaultServer(int fail_part, std::set<int> hold_parts)
      : fail_part_(fail_part), hold_parts_(std::move(hold_parts)) {
    server_.Get(".*", [](const httplib::Request&, httplib::Response& res) { res.status = 200; });
    server_.Post(".*", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mu_);
      if (req.has_param("uploads")) {
        ++created_;
        res.set_content(
            "<InitiateMultipartUploadResult><UploadId>u1</UploadId>"
            "</InitiateMultipartUploadResult>",
            "application/xml");
      } else {
        ++completed_;
        complete_body_ = req.body;
        res.set_content("<CompleteMultipartUploadResult/>", "application/xml");
      }
    });
    server_.Put(".*", [this](const httplib::Request& req, httplib::Response& res) {
      const int part = std::atoi(req.get_param_value("partNumber").c_str());
      std::unique_lock lock(mu_);
      ++part_puts_[part];
      if (hold_parts_.contains(part)) {
        ++held_;
        cv_.notify_all();
        cv_.wait_for(lock, std::chrono::seconds(20), [&] { return stopping_ || released_; });
      }
      if (part == fail_part_) {
        res.status = 503;
        res.set_content("<Error><Code>SlowDown</Code></Error>", "application/xml");
        return;
      }
      res.set_header("ETag", "\"p" + std::to_string(part) + "\"");
    });
    server_.Delete(".*", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard lock(mu_);
      ++aborted_;
      res.status = 204;
    });
    Listen();
  }
  ~MultipartFaultServer() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    Stop();
  }

  // 5 MiB parts above 10 MiB; 2 attempts per request, 20 ms apart.
  S3ByteStoreOptions Options() const { return OptionsFor(2, 20, 10 * kMiB); }
  // Waits (at most 10 s) until `count` requests of held parts arrived.
  bool WaitHeld(int count = 1) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return held_ >= count; });
  }
  // Answers the held parts (and every later one) at once.
  void Release() {
    {
      std::lock_guard lock(mu_);
      released_ = true;
    }
    cv_.notify_all();
  }
  std::string complete_body() {
    std::lock_guard lock(mu_);
    return complete_body_;
  }
  int in_progress() {
    std::lock_guard lock(mu_);
    return created_ - completed_ - aborted_;
  }
  int completed() {
    std::lock_guard lock(mu_);
    return completed_;
  }
  int aborted() {
    std::lock_guard lock(mu_);
    return aborted_;
  }
  int part_puts(int part) {
    std::lock_guard lock(mu_);
    return part_puts_[part];
  }

 private:
  const int fail_part_;
  const std::set<int> hold_parts_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<int, int> part_puts_;                              // guarded by mu_
  int created_ = 0, completed_ = 0, aborted_ = 0, held_ = 0;  // guarded by mu_
  bool stopping_ = false, released_ = false;                  // guarded by mu_
  std::string complete_body_;                                 // guarded by mu_
};

// Waits until the server answered both attempts of `part` (at most 10 s), then 300 ms more
// for the writer's thread to take the answer (a loaded machine may need that long).
void WaitForFailedPart(MultipartFaultServer& server, int part) {
  for (int i = 0; i < 1000 && server.part_puts(part) < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
}

// Part 1 fails (after its retries: it is buffered) while Append fills part 2: the error
// surfaces on a later Append or on Commit, nothing is completed, and the upload is aborted.
TEST(S3PipelinedPartTest, FailedPartInFlightFailsCleanly) {
  MultipartFaultServer server(/*fail_part=*/1, /*hold_parts=*/{});
  auto store = NewS3ByteStore(server.Options());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto writer = (*store)->NewWriter(30 * kMiB);
  ASSERT_TRUE(writer.ok());
  Status status;
  int appended = 0;
  for (; appended < 30 && status.ok(); ++appended) {
    status = (*writer)->Append(Bytes(kMiB, 1));
    if (appended == 6) WaitForFailedPart(server, 1);
  }
  EXPECT_EQ(appended, 8) << "the failed part surfaces on the Append after it failed";
  if (status.ok()) status = (*writer)->Commit().status();
  EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status.ToString();
  EXPECT_EQ(status.reason(), "object_store_unavailable");
  EXPECT_NE(status.message().find("UploadPart 1"), std::string::npos) << status.message();
  EXPECT_EQ((*writer)->Append(Bytes(1, 1)).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(server.part_puts(1), 2) << "a buffered part is retried";
  EXPECT_EQ(server.completed(), 0);
  EXPECT_EQ(server.aborted(), 1);
  EXPECT_EQ(server.in_progress(), 0);
}

// Part 1 is held by the server while Append fills part 2 (the upload overlaps the reading:
// the Appends do not wait for the 20 s answer); the writer destroyed then cancels the part in
// flight without waiting for its answer, aborts the upload and leaves no thread behind (the test
// would hang or crash otherwise).
TEST(S3PipelinedPartTest, WriterDestroyedWithAPartInFlightLeavesNothing) {
  MultipartFaultServer server(/*fail_part=*/0, /*hold_parts=*/{1});
  auto store = NewS3ByteStore(server.Options());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto writer = (*store)->NewWriter(30 * kMiB);
  ASSERT_TRUE(writer.ok());
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 9; ++i) ASSERT_TRUE((*writer)->Append(Bytes(kMiB, 2)).ok());
  ASSERT_TRUE(server.WaitHeld()) << "part 1 was never sent";
  writer->reset();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(server.part_puts(1), 1);
  EXPECT_EQ(server.part_puts(2), 0);
  EXPECT_EQ(server.completed(), 0);
  EXPECT_EQ(server.aborted(), 1);
  EXPECT_EQ(server.in_progress(), 0);
}

// With parts_in_flight 3, three parts are sent at once while Append goes on (the server
// holds parts 1 to 3 until released), and Complete lists every part in order with its ETag.
TEST(S3PipelinedPartTest, PartsInFlightAreSentAtOnce) {
  MultipartFaultServer server(/*fail_part=*/0, /*hold_parts=*/{1, 2, 3});
  S3ByteStoreOptions options = server.Options();
  options.parts_in_flight = 3;
  auto store = NewS3ByteStore(std::move(options));
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto writer = (*store)->NewWriter(22 * kMiB);
  ASSERT_TRUE(writer.ok());
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 16; ++i) ASSERT_TRUE((*writer)->Append(Bytes(kMiB, 3)).ok());
  EXPECT_TRUE(server.WaitHeld(3)) << "parts 1 to 3 were not in flight at once";
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  server.Release();
  for (int i = 16; i < 22; ++i) ASSERT_TRUE((*writer)->Append(Bytes(kMiB, 3)).ok());
  auto key = (*writer)->Commit();
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_EQ(server.completed(), 1);
  EXPECT_EQ(server.aborted(), 0);
  std::string want = "<CompleteMultipartUpload>";
  for (int part = 1; part <= 5; ++part) {
    EXPECT_EQ(server.part_puts(part), 1) << "part " << part;
    want += "<Part><PartNumber>" + std::to_string(part) + "</PartNumber><ETag>&quot;p" +
            std::to_string(part) + "&quot;</ETag></Part>";
  }
  EXPECT_EQ(server.complete_body(), want + "</CompleteMultipartUpload>");
}

// Parts 1 and 2 are held while part 3 fails (after its retries): the failure surfaces on a
// later Append without waiting for the held parts, which are cancelled; nothing is
// completed, the upload is aborted, and Commit then refuses.
TEST(S3PipelinedPartTest, OneOfSeveralPartsInFlightFailsCleanly) {
  MultipartFaultServer server(/*fail_part=*/3, /*hold_parts=*/{1, 2});
  S3ByteStoreOptions options = server.Options();
  options.parts_in_flight = 3;
  auto store = NewS3ByteStore(std::move(options));
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto writer = (*store)->NewWriter(40 * kMiB);
  ASSERT_TRUE(writer.ok());
  const auto start = std::chrono::steady_clock::now();
  Status status;
  for (int i = 0; i < 40 && status.ok(); ++i) {
    status = (*writer)->Append(Bytes(kMiB, 4));
    if (i == 15) WaitForFailedPart(server, 3);
  }
  EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status.ToString();
  EXPECT_NE(status.message().find("UploadPart 3"), std::string::npos) << status.message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5))
      << "the held parts were waited for, not cancelled";
  EXPECT_EQ((*writer)->Commit().status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(server.part_puts(1), 1);
  EXPECT_EQ(server.part_puts(2), 1);
  EXPECT_EQ(server.part_puts(3), 2) << "a buffered part is retried";
  EXPECT_EQ(server.part_puts(4), 0);
  EXPECT_EQ(server.completed(), 0);
  EXPECT_EQ(server.aborted(), 1);
  EXPECT_EQ(server.in_progress(), 0);
}

}  // namespace
}  // namespace cardvault
