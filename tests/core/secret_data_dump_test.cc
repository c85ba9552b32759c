// Linux: key material is kept out of core dumps (SecretData in OpenSSL's secure heap).
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/secret_data.h"

namespace cardvault {
namespace {

// The VmFlags line of the /proc/self/smaps entry whose range holds `address`, or "".
std::string VmFlagsOf(const void* address) {
  const auto target = reinterpret_cast<uintptr_t>(address);
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    uintptr_t begin = 0, end = 0;
    char dash = 0;
    std::istringstream range(line);
    if (range >> std::hex >> begin >> dash >> end && dash == '-') {
      inside = begin <= target && target < end;
      continue;
    }
    if (inside && line.rfind("VmFlags:", 0) == 0) return line;
  }
  return "";
}

bool HasFlag(const std::string& vm_flags, const std::string& flag) {
  std::istringstream words(vm_flags);
  std::string word;
  while (words >> word) {
    if (word == flag) return true;
  }
  return false;
}

TEST(SecretDataDumpTest, KeysLiveInAMappingExcludedFromCoreDumps) {
  SecretData key(32);
  const std::string flags = VmFlagsOf(key.data());
  ASSERT_FALSE(flags.empty()) << "no mapping holds the key buffer";
  EXPECT_TRUE(HasFlag(flags, "dd")) << "the key's mapping is dumped: " << flags;
}

TEST(SecretDataDumpTest, AFullSecureHeapFallsBackToTheOrdinaryHeap) {
  // 512 KiB of secrets: more than the secure heap holds; every one is still usable.
  std::vector<SecretData> many;
  for (int i = 0; i < 512; ++i) {
    many.emplace_back(1024);
    many.back().data()[1023] = static_cast<uint8_t>(i);
  }
  EXPECT_FALSE(HasFlag(VmFlagsOf(many.back().data()), "dd"));
  for (int i = 0; i < 512; ++i) EXPECT_EQ(many[i].data()[1023], static_cast<uint8_t>(i));
  many.clear();
  SecretData again(32);  // the heap is usable again once they are released
  EXPECT_TRUE(HasFlag(VmFlagsOf(again.data()), "dd"));
}

}  // namespace
}  // namespace cardvault
