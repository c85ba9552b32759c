// Byte-string helpers: views, big-endian encoding and hex, shared by every module.
#ifndef CARDVAULT_CORE_BYTES_H_
#define CARDVAULT_CORE_BYTES_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cardvault {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

inline ByteView AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
inline std::string_view AsStringView(ByteView b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

void AppendU8(Bytes& out, uint8_t v);
void AppendU16(Bytes& out, uint16_t v);
void AppendU32(Bytes& out, uint32_t v);
void AppendU64(Bytes& out, uint64_t v);
void AppendBytes(Bytes& out, ByteView b);

uint16_t LoadU16(const uint8_t* p);
uint32_t LoadU32(const uint8_t* p);
uint64_t LoadU64(const uint8_t* p);
void StoreU32(uint8_t* p, uint32_t v);
void StoreU64(uint8_t* p, uint64_t v);

std::string HexEncode(ByteView b);
// Accepts upper or lower case; nullopt on odd length or a non-hex character.
std::optional<Bytes> HexDecode(std::string_view hex);

}  // namespace cardvault

#endif  // CARDVAULT_CORE_BYTES_H_
