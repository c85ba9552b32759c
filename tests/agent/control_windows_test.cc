// What only the named-pipe transport does: the default pipe is named for the user's SID, and
// the pipe's DACL lets in that user only. Run under Wine by scripts/test-windows.sh.
#define WIN32_LEAN_AND_MEAN
#define NOMINMAX
#include <windows.h>
// clang-format off: after windows.h
#include <aclapi.h>
#include <sddl.h>
// clang-format on

#include <gtest/gtest.h>

#include <random>

#include "agent/control/control_client.h"
#include "agent/control/control_server.h"
#include "tests/agent/control_test_address.h"

namespace cardvault {

std::string ControlTestAddress(const std::string&) {
  std::random_device random;
  return "\\\\.\\pipe\\cardvault-test-" + std::to_string(random()) + std::to_string(random());
}

namespace {

std::string UserSid() {
  HANDLE token = nullptr;
  EXPECT_NE(::OpenProcessToken(::GetCurrentProcess(), TOKEN_QUERY, &token), 0);
  char buffer[512];
  DWORD size = sizeof buffer;
  EXPECT_NE(::GetTokenInformation(token, TokenUser, buffer, size, &size), 0);
  ::CloseHandle(token);
  char* text = nullptr;
  EXPECT_NE(::ConvertSidToStringSidA(reinterpret_cast<TOKEN_USER*>(buffer)->User.Sid, &text), 0);
  std::string sid = text;
  ::LocalFree(text);
  return sid;
}

TEST(ControlWindowsTest, TheDefaultPipeIsNamedForTheUser) {
  EXPECT_EQ(DefaultControlSocketPath(), "\\\\.\\pipe\\cardvault-" + UserSid());
}

TEST(ControlWindowsTest, ThePipeLetsInThisUserOnly) {
  const std::string name = ControlTestAddress("");
  auto server =
      ControlServer::Start(name, [](const std::string&) { return StatusOr<std::string>("{}"); });
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  HANDLE h = ::CreateFileA(name.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, OPEN_EXISTING, 0,
                           nullptr);
  ASSERT_NE(h, INVALID_HANDLE_VALUE) << ::GetLastError();
  PACL dacl = nullptr;
  PSECURITY_DESCRIPTOR descriptor = nullptr;
  ASSERT_EQ(::GetSecurityInfo(h, SE_KERNEL_OBJECT, DACL_SECURITY_INFORMATION, nullptr, nullptr,
                              &dacl, nullptr, &descriptor),
            static_cast<DWORD>(ERROR_SUCCESS));
  ASSERT_NE(dacl, nullptr) << "a NULL DACL would let everyone in";
  ASSERT_EQ(dacl->AceCount, 1u);
  void* ace = nullptr;
  ASSERT_NE(::GetAce(dacl, 0, &ace), 0);
  auto* allowed = static_cast<ACCESS_ALLOWED_ACE*>(ace);
  EXPECT_EQ(allowed->Header.AceType, ACCESS_ALLOWED_ACE_TYPE);
  char* sid = nullptr;
  ASSERT_NE(::ConvertSidToStringSidA(reinterpret_cast<PSID>(&allowed->SidStart), &sid), 0);
  EXPECT_EQ(std::string(sid), UserSid());
  ::LocalFree(sid);
  ::LocalFree(descriptor);
  ::CloseHandle(h);
}

}  // namespace
}  // namespace cardvault
