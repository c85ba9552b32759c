// Tests for Status, StatusOr and errno mapping.
#include "core/status.h"

#include <gtest/gtest.h>

#include <cerrno>

#include "core/status_or.h"

namespace cardvault {
namespace {

TEST(StatusTest, OkHasNoMessage) {
  Status s = Status::Ok();
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "OK");
  EXPECT_TRUE(Status(StatusCode::kOk, "ignored", "ignored").message().empty());
}

TEST(StatusTest, ErrorCarriesCodeReasonAndMessage) {
  Status s = CorruptError("bad header", "header_mac_mismatch");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kCorrupt);
  EXPECT_EQ(s.reason(), "header_mac_mismatch");
  EXPECT_EQ(s.ToString(), "corrupt (header_mac_mismatch): bad header");
  EXPECT_EQ(s.WithContext("file.cv").message(), "file.cv: bad header");
  EXPECT_EQ(s.WithContext("file.cv").reason(), "header_mac_mismatch");
}

TEST(StatusTest, ErrnoMapping) {
  EXPECT_EQ(ErrnoToStatus(ENOSPC, "write", "/x").code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(ErrnoToStatus(ENOSPC, "write", "/x").reason(), "disk_full");
  EXPECT_EQ(ErrnoToStatus(ENOENT, "open", "/x").code(), StatusCode::kNotFound);
  EXPECT_EQ(ErrnoToStatus(EACCES, "open", "/x").code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(ErrnoToStatus(EIO, "read", "/x").code(), StatusCode::kIoError);
  EXPECT_NE(ErrnoToStatus(EIO, "read", "/x").message().find("/x"), std::string::npos);
}

StatusOr<int> Half(int x) {
  if (x % 2 != 0) return InvalidArgumentError("odd");
  return x / 2;
}

Status UseHalf(int x, int* out) {
  CV_ASSIGN_OR_RETURN(*out, Half(x));
  return Status::Ok();
}

TEST(StatusOrTest, ValueOrError) {
  int out = 0;
  EXPECT_TRUE(UseHalf(8, &out).ok());
  EXPECT_EQ(out, 4);
  Status s = UseHalf(7, &out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(out, 4);
}

TEST(StatusOrTest, OkStatusBecomesInternalError) {
  StatusOr<int> v(Status::Ok());
  EXPECT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kInternal);
}

TEST(StatusOrDeathTest, ValueOfErrorAborts) {
  StatusOr<int> v(NotFoundError("nothing here"));
  EXPECT_DEATH((void)v.value(), "nothing here");
}

}  // namespace
}  // namespace cardvault
