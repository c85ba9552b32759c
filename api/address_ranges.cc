// AddressRanges implementation: inet_pton, then a prefix comparison over 16 bytes.
#include "api/address_ranges.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace cardvault {
namespace {

constexpr std::array<unsigned char, 12> kV4MappedPrefix = {0, 0, 0, 0, 0,    0,
                                                           0, 0, 0, 0, 0xff, 0xff};

Status BadEntry(const std::string& entry, std::string_view why) {
  return InvalidArgumentError("\"proxy_protocol_from\": \"" + entry + "\" " + std::string(why) +
                                  " (give addresses or CIDR blocks of the load balancers, e.g. "
                                  "\"10.0.0.5\", \"10.0.0.0/24\", \"fd00::/8\")",
                              "bad_config");
}

}  // namespace

bool AddressRanges::ToBytes16(std::string_view text, Bytes16& out, bool& is_v4) {
  if (text.size() >= INET6_ADDRSTRLEN || text.find('\0') != std::string_view::npos) return false;
  char buffer[INET6_ADDRSTRLEN] = {};
  std::memcpy(buffer, text.data(), text.size());
  in_addr v4{};
  if (::inet_pton(AF_INET, buffer, &v4) == 1) {
    std::copy(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), out.begin());
    std::memcpy(out.data() + 12, &v4, 4);
    is_v4 = true;
    return true;
  }
  is_v4 = false;
  return ::inet_pton(AF_INET6, buffer, out.data()) == 1;
}

bool AddressRanges::InRange(const Bytes16& address, const Range& range) {
  const int whole = range.prefix_bits / 8;
  if (std::memcmp(address.data(), range.base.data(), static_cast<size_t>(whole)) != 0) {
    return false;
  }
  const int rest = range.prefix_bits % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<unsigned char>(0xff << (8 - rest));
  return (address[static_cast<size_t>(whole)] & mask) ==
         (range.base[static_cast<size_t>(whole)] & mask);
}

StatusOr<AddressRanges> AddressRanges::Parse(const std::vector<std::string>& entries) {
  AddressRanges set;
  for (const std::string& entry : entries) {
    const std::string_view text(entry);
    const size_t slash = text.find('/');
    Range range;
    bool is_v4 = false;
    if (!ToBytes16(text.substr(0, slash), range.base, is_v4)) {
      return BadEntry(entry, "is not an IPv4 or IPv6 address");
    }
    const int max_bits = is_v4 ? 32 : 128;
    int bits = max_bits;
    if (slash != std::string_view::npos) {
      const std::string_view digits = text.substr(slash + 1);
      const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), bits);
      if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || bits < 0 ||
          bits > max_bits) {
        return BadEntry(entry, "has a prefix length that is not 0.." + std::to_string(max_bits));
      }
    }
    range.prefix_bits = bits + (is_v4 ? 96 : 0);
    Range masked = range;
    for (int bit = range.prefix_bits; bit < 128; ++bit) {
      masked.base[static_cast<size_t>(bit / 8)] &= static_cast<unsigned char>(~(0x80 >> (bit % 8)));
    }
    if (masked.base != range.base) return BadEntry(entry, "has bits set past its prefix length");
    set.ranges_.push_back(range);
  }
  return set;
}

bool AddressRanges::Contains(std::string_view address) const {
  Bytes16 bytes{};
  bool is_v4 = false;
  if (!ToBytes16(address, bytes, is_v4)) return false;
  return std::any_of(ranges_.begin(), ranges_.end(),
                     [&](const Range& range) { return InRange(bytes, range); });
}

}  // namespace cardvault
