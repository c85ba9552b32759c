// AddressRanges: a set of IPv4 and IPv6 addresses and CIDR blocks (the server's
// `proxy_protocol_from`), and whether an address is in it.
#ifndef CARDVAULT_API_ADDRESS_RANGES_H_
#define CARDVAULT_API_ADDRESS_RANGES_H_

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "core/status_or.h"

namespace cardvault {

// Parse() takes "10.0.0.5", "10.0.0.0/24", "2001:db8::1", "fd00::/8"; anything else (a name,
// a prefix length out of range, bits set past the prefix such as "10.0.0.1/24") is
// kInvalidArgument ("bad_config") naming the entry. Contains() is true for an address inside
// one of the ranges; an IPv4-mapped IPv6 address ("::ffff:10.0.0.5", what a dual-stack
// socket reports) counts as its IPv4 address, and text that is no address is never inside.
// Immutable after Parse(), so thread-safe.
class AddressRanges {
 public:
  AddressRanges() = default;
  static StatusOr<AddressRanges> Parse(const std::vector<std::string>& entries);

  bool empty() const { return ranges_.empty(); }
  bool Contains(std::string_view address) const;

 private:
  // An address as 16 bytes: IPv4 as its IPv4-mapped IPv6 form, so one comparison serves both.
  using Bytes16 = std::array<unsigned char, 16>;
  struct Range {
    Bytes16 base{};
    int prefix_bits = 0;  // of the 128
  };
  static bool ToBytes16(std::string_view text, Bytes16& out, bool& is_v4);
  static bool InRange(const Bytes16& address, const Range& range);

  std::vector<Range> ranges_;
};

}  // namespace cardvault

#endif  // CARDVAULT_API_ADDRESS_RANGES_H_
