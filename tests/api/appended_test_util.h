// Test helpers for appended-digest uploads: the check modes, varying content and raw requests.
#ifndef CARDVAULT_TESTS_API_APPENDED_TEST_UTIL_H_
#define CARDVAULT_TESTS_API_APPENDED_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>

#include "api/xxh128.h"
#include "tests/api/server_test_util.h"

namespace cardvault {

inline constexpr uint64_t kInlineMax = 64 * 1024;  // FileBlobStore::Options::inline_max_bytes

// Content whose bytes vary, so a digest over a wrong range cannot match by accident.
inline std::string Pattern(size_t size, char seed = 'a') {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i) s[i] = static_cast<char>(seed + (i * 7 + i / 251) % 26);
  return s;
}

// The raw (binary) SHA-256 of `data`, as appended in "X-Content-SHA256: appended" mode.
inline std::string RawSha256(std::string_view data) {
  Sha256Digest d = Sha256(AsBytes(data));
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

// The raw (canonical, big-endian) XXH3-128 of `data`, as appended in "X-Content-XXH128: appended".
inline std::string RawXxh128(std::string_view data) {
  Xxh128Digest d = Xxh128(AsBytes(data));
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

// One appended check mode: the body is the object followed by `digest_bytes` of its digest.
struct AppendedCheck {
  std::string name;                             // "Sha256", "Xxh128": the test name suffix
  std::string header_name;                      // "X-Content-SHA256", "X-Content-XXH128"
  size_t digest_bytes;                          // 32 or 16
  std::string (*raw_digest)(std::string_view);  // the raw digest bytes of the content
  TransferCheck transfer_check;                 // for PutOptions
  std::string mismatch_code;                    // the error code of a wrong digest
  std::string bad_header_code;                  // the error code of a bad header value

  // The header line announcing the mode with `value`.
  std::string HeaderLine(std::string_view value = "appended") const {
    return header_name + ": " + std::string(value) + "\r\n";
  }
};

inline const AppendedCheck kSha256Check = {"Sha256",    "X-Content-SHA256",     32,
                                           &RawSha256,  TransferCheck::kSha256, "sha256_mismatch",
                                           "bad_sha256"};
inline const AppendedCheck kXxh128Check = {"Xxh128",    "X-Content-XXH128",     16,
                                           &RawXxh128,  TransferCheck::kXxh128, "xxh128_mismatch",
                                           "bad_xxh128"};

// Test parameters print as their mode's name.
inline void PrintTo(const AppendedCheck& check, std::ostream* os) { *os << check.name; }

// An appended-digest PUT of `id` as raw HTTP; `body` is sent as is with `content_length`.
// `checksum_headers` are the checksum header line(s), e.g. "X-Content-SHA256: appended\r\n".
inline std::string RawPut(const std::string& token, const std::string& id, const std::string& body,
                          uint64_t content_length, const std::string& checksum_headers,
                          const std::string& extra_headers = "") {
  return "PUT /v1/objects/" + id + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
         "\r\n" + checksum_headers + extra_headers +
         "Content-Length: " + std::to_string(content_length) + "\r\n\r\n" + body;
}

// A FileBlobStore in a fresh temporary directory, objects and quota limited to 1 MiB.
class AppendedStoreFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cv-appended-store-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    FileBlobStore::Options options;
    options.max_object_bytes = 1 << 20;
    options.quota_bytes = 1 << 20;
    store_ = FileBlobStore::Open(Env::Default(), dir_, options).value();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string dir_;
  std::unique_ptr<FileBlobStore> store_;
};

inline std::string GetAll(ObjectClient& client, std::string_view id) {
  std::string out;
  auto info = client.Get(id, {}, [&](ByteView b) {
    out.append(AsStringView(b));
    return Status::Ok();
  });
  EXPECT_TRUE(info.ok()) << info.status().ToString();
  return out;
}

// PutOptions of an upload of `data` without a known SHA-256, checked in transfer by `check`.
inline PutOptions AppendedPut(std::string_view data, TransferCheck check = TransferCheck::kSha256,
                              bool create_only = false) {
  PutOptions options{ObjectKind::kBlob, data.size(), "", create_only};
  options.transfer_check = check;
  return options;
}

inline PutOptions XxhPut(std::string_view data, bool create_only = false) {
  return AppendedPut(data, TransferCheck::kXxh128, create_only);
}

}  // namespace cardvault

#endif  // CARDVAULT_TESTS_API_APPENDED_TEST_UTIL_H_
