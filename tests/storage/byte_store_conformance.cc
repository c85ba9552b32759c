// The ByteStore conformance tests: what every byte store backend MUST do (storage/byte_store.h).
#include "tests/storage/byte_store_conformance.h"

#include <stdlib.h>

#include <filesystem>
#include <set>
#include <thread>
#include <vector>

#include "core/crypto.h"

namespace cardvault {
namespace {

Bytes Pattern(size_t size, uint8_t seed) {
  Bytes b(size);
  for (size_t i = 0; i < size; ++i) b[i] = static_cast<uint8_t>(seed + i * 7 + i / 251);
  return b;
}

// Writes `data` in appends of `chunk` bytes and commits it.
StatusOr<std::string> Write(ByteStore& store, const Bytes& data, size_t chunk = 4096) {
  CV_ASSIGN_OR_RETURN(auto writer, store.NewWriter(data.size()));
  for (size_t at = 0; at < data.size(); at += chunk) {
    const size_t n = std::min(chunk, data.size() - at);
    CV_RETURN_IF_ERROR(writer->Append(ByteView(data.data() + at, n)));
  }
  return writer->Commit();
}

// Everything stored under `key`, read in pieces of `piece` bytes.
StatusOr<Bytes> ReadAll(ByteStore& store, const std::string& key, size_t piece = 10000) {
  CV_ASSIGN_OR_RETURN(auto reader, store.Open(key));
  Bytes out(static_cast<size_t>(reader->size()));
  size_t done = 0;
  while (done < out.size()) {
    const size_t want = std::min(piece, out.size() - done);
    CV_ASSIGN_OR_RETURN(size_t n, reader->ReadAt(done, std::span(out.data() + done, want)));
    if (n == 0) return CorruptError("stored bytes ended early");
    done += n;
  }
  return out;
}

std::set<std::string> Keys(ByteStore& store) {
  std::set<std::string> keys;
  EXPECT_TRUE(store
                  .ForEach([&](const StoredKey& k) {
                    keys.insert(k.key);
                    return Status::Ok();
                  })
                  .ok());
  return keys;
}

}  // namespace

void ByteStoreConformance::SetUp() {
  if (std::string why = GetParam().unavailable(); !why.empty()) GTEST_SKIP() << why;
  char tmpl[] = "/tmp/cv-bytes-conformance-XXXXXX";
  dir_ = ::mkdtemp(tmpl);
  auto store = GetParam().create(dir_);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  store_ = std::move(*store);
}

void ByteStoreConformance::TearDown() {
  store_.reset();
  if (!dir_.empty()) std::filesystem::remove_all(dir_);
}

void ByteStoreConformance::Reopen() {
  store_.reset();
  auto store = GetParam().reopen(dir_);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  store_ = std::move(*store);
}

std::string ByteStoreSuiteName(const ::testing::TestParamInfo<ByteStoreSuite>& info) {
  return info.param.name;
}

// Bytes written in appends read back whole and by ranges, at any offset; past the end is 0.
TEST_P(ByteStoreConformance, WriteCommitReadRanges) {
  const Bytes data = Pattern(300000, 1);
  auto key = Write(*store_, data, 65536);
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_EQ(ReadAll(*store_, *key).value(), data);
  auto reader = store_->Open(*key);
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ((*reader)->size(), data.size());
  uint8_t buf[100];
  for (uint64_t offset : {uint64_t{0}, uint64_t{65535}, uint64_t{123457}, uint64_t{299950}}) {
    auto n = (*reader)->ReadAt(offset, buf);
    ASSERT_TRUE(n.ok());
    ASSERT_GT(*n, 0u);
    ASSERT_LE(*n, std::min<size_t>(100, data.size() - offset));
    EXPECT_TRUE(std::equal(buf, buf + *n, data.begin() + static_cast<ptrdiff_t>(offset)));
  }
  EXPECT_EQ((*reader)->ReadAt(data.size(), buf).value(), 0u);
  EXPECT_EQ((*reader)->ReadAt(data.size() + 5, buf).value(), 0u);
  auto empty = Write(*store_, Bytes());
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(store_->Open(*empty).value()->size(), 0u);
}

// The readiness probe answers OK for a store that works, and stores nothing: an empty store
// stays empty, stored bytes stay as they were.
TEST_P(ByteStoreConformance, ProbeAnswersAndStoresNothing) {
  EXPECT_TRUE(store_->Probe().ok()) << store_->Probe().ToString();
  EXPECT_EQ(Keys(*store_), std::set<std::string>{});
  const Bytes data = Pattern(1000, 7);
  auto key = Write(*store_, data);
  ASSERT_TRUE(key.ok());
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(store_->Probe().ok());
  EXPECT_EQ(Keys(*store_), std::set<std::string>{*key});
  EXPECT_EQ(ReadAll(*store_, *key).value(), data);
}

// Every commit gets a new key; a writer destroyed without a commit leaves nothing.
TEST_P(ByteStoreConformance, KeysAreNewAndAbortsLeaveNothing) {
  const Bytes data = Pattern(5000, 2);
  auto a = Write(*store_, data), b = Write(*store_, data);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  {
    auto writer = store_->NewWriter(5000);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Append(data).ok());
  }  // destroyed: aborted
  ASSERT_NO_FATAL_FAILURE(Reopen());
  EXPECT_EQ(Keys(*store_), (std::set<std::string>{*a, *b}));
}

// Delete removes the bytes for good and is OK when there are none; a key the store could
// not have made is refused before any use.
TEST_P(ByteStoreConformance, DeleteIsFinalAndIdempotentAndKeysAreChecked) {
  auto key = Write(*store_, Pattern(2000, 3));
  ASSERT_TRUE(key.ok());
  ASSERT_TRUE(store_->Delete(*key).ok());
  EXPECT_EQ(store_->Open(*key).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->Delete(*key).ok());
  EXPECT_TRUE(Keys(*store_).empty());
  for (const std::string& bad :
       std::vector<std::string>{"", "../index.db", "ab/../../x", "AB", std::string(300, 'a')}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(store_->Open(bad).status().reason(), "bad_byte_key");
    EXPECT_EQ(store_->Delete(bad).reason(), "bad_byte_key");
    EXPECT_EQ(store_->Quarantine(bad).reason(), "bad_byte_key");
  }
}

// ForEach names every committed key once, with a modification time near now.
TEST_P(ByteStoreConformance, ForEachListsCommittedKeysWithTheirTimes) {
  std::set<std::string> written;
  for (int i = 0; i < 20; ++i) written.insert(Write(*store_, Pattern(100 + i, 4)).value());
  const int64_t now = Env::Default()->NowUnixNanos() / 1000000000;
  std::vector<StoredKey> seen;
  ASSERT_TRUE(store_
                  ->ForEach([&](const StoredKey& k) {
                    seen.push_back(k);
                    return Status::Ok();
                  })
                  .ok());
  ASSERT_EQ(seen.size(), written.size());
  for (const StoredKey& k : seen) {
    EXPECT_TRUE(written.count(k.key)) << k.key;
    EXPECT_LE(std::abs(k.modified_unix - now), 120) << k.key;
  }
  int calls = 0;
  Status stopped = store_->ForEach([&](const StoredKey&) {
    ++calls;
    return CancelledError("enough");
  });
  EXPECT_EQ(stopped.code(), StatusCode::kCancelled);
  EXPECT_EQ(calls, 1);
}

// Quarantined bytes are out of reach (Open, ForEach) and a copy can be kept beside them.
TEST_P(ByteStoreConformance, QuarantineTakesBytesOutOfReach) {
  auto key = Write(*store_, Pattern(3000, 5));
  auto other = Write(*store_, Pattern(10, 6));
  ASSERT_TRUE(key.ok() && other.ok());
  ASSERT_TRUE(store_->Quarantine(*key).ok());
  EXPECT_EQ(store_->Open(*key).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Keys(*store_), (std::set<std::string>{*other}));
  EXPECT_TRUE(store_->Quarantine(*key).ok()) << "nothing left: OK";
  EXPECT_TRUE(store_->QuarantineCopy("12-" + std::string(64, 'a') + ".inline", Pattern(8, 7)).ok());
  EXPECT_EQ(Keys(*store_), (std::set<std::string>{*other}));
}

// Committed bytes survive a reopen of the store; writes from several threads at once keep
// their own bytes.
TEST_P(ByteStoreConformance, CommittedBytesSurviveReopenAndConcurrentWrites) {
  constexpr int kThreads = 4, kPerThread = 5;
  std::vector<std::vector<std::pair<std::string, Bytes>>> written(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        Bytes data = Pattern(1000 + 997 * i, static_cast<uint8_t>(t * 16 + i));
        auto key = Write(*store_, data, 333);
        if (key.ok()) written[t].emplace_back(*key, std::move(data));
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_NO_FATAL_FAILURE(Reopen());
  size_t count = 0;
  for (const auto& per_thread : written) {
    for (const auto& [key, data] : per_thread) {
      EXPECT_EQ(ReadAll(*store_, key).value(), data) << key;
      ++count;
    }
  }
  EXPECT_EQ(count, size_t{kThreads * kPerThread});
  EXPECT_EQ(Keys(*store_).size(), count);
}

}  // namespace cardvault
