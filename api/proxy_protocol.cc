// ParseProxyHeader implementation (proxy-protocol.txt, sections 2.1 and 2.2).
#include "api/proxy_protocol.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

namespace cardvault {
namespace {

constexpr std::string_view kV1Prefix = "PROXY ";
constexpr size_t kV1MinBytes = 15;   // "PROXY UNKNOWN\r\n"
constexpr size_t kV1MaxBytes = 107;  // the spec's worst case, CRLF included
constexpr std::string_view kV2Signature{"\r\n\r\n\0\r\nQUIT\n", 12};
constexpr size_t kV2FixedBytes = 16;
constexpr size_t kV2Inet = 12;   // two IPv4 addresses, two ports
constexpr size_t kV2Inet6 = 36;  // two IPv6 addresses, two ports
constexpr size_t kV2Unix = 216;  // two 108-byte paths

ProxyHeader NeedMore(size_t length) {
  ProxyHeader h;
  h.kind = ProxyHeader::Kind::kNeedMore;
  h.length = length;
  return h;
}

ProxyHeader Invalid(std::string error) {
  ProxyHeader h;
  h.kind = ProxyHeader::Kind::kInvalid;
  h.error = std::move(error);
  return h;
}

ProxyHeader Complete(size_t length, std::optional<ProxySource> source) {
  ProxyHeader h;
  h.kind = ProxyHeader::Kind::kHeader;
  h.length = length;
  h.source = std::move(source);
  return h;
}

std::string AddressText(int family, const void* raw) {
  std::array<char, INET6_ADDRSTRLEN> text{};
  if (::inet_ntop(family, raw, text.data(), text.size()) == nullptr) return "";
  return text.data();
}

// A v1 port: decimal 0..65535 without leading zeros.
std::optional<uint16_t> ParseV1Port(std::string_view s) {
  if (s.empty() || s.size() > 5 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  uint32_t value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  if (value > 65535) return std::nullopt;
  return static_cast<uint16_t>(value);
}

// A v1 address of `family` in its canonical form, or "" when it is not one.
std::string ParseV1Address(int family, std::string_view s) {
  if (s.size() >= INET6_ADDRSTRLEN || s.find('\0') != std::string_view::npos) return "";
  std::array<char, INET6_ADDRSTRLEN> text{};
  std::copy(s.begin(), s.end(), text.begin());
  std::array<unsigned char, sizeof(in6_addr)> raw{};
  if (::inet_pton(family, text.data(), raw.data()) != 1) return "";
  return AddressText(family, raw.data());
}

std::vector<std::string_view> SplitSpaces(std::string_view line) {
  std::vector<std::string_view> fields;
  while (fields.size() < 6) {
    const size_t space = line.find(' ');
    fields.push_back(line.substr(0, space));
    if (space == std::string_view::npos) break;
    line.remove_prefix(space + 1);
  }
  return fields;
}

// "TCP4 SRC DST SRCPORT DSTPORT", "TCP6 ..." or "UNKNOWN[ anything]" (after "PROXY ").
ProxyHeader ParseV1Line(std::string_view line, size_t length) {
  std::vector<std::string_view> f = SplitSpaces(line);
  if (f[0] == "UNKNOWN") return Complete(length, std::nullopt);
  if (f[0] != "TCP4" && f[0] != "TCP6")
    return Invalid("v1: unknown protocol (TCP4, TCP6, UNKNOWN)");
  if (f.size() != 5) return Invalid("v1: not \"PROXY TCPn SRC DST SRCPORT DSTPORT\"");
  const int family = f[0] == "TCP4" ? AF_INET : AF_INET6;
  std::string source = ParseV1Address(family, f[1]);
  if (source.empty() || ParseV1Address(family, f[2]).empty()) {
    return Invalid("v1: an address is not " + std::string(f[0] == "TCP4" ? "IPv4" : "IPv6"));
  }
  std::optional<uint16_t> port = ParseV1Port(f[3]);
  if (!port || !ParseV1Port(f[4])) return Invalid("v1: a port is not 0..65535");
  return Complete(length, ProxySource{std::move(source), *port});
}

ProxyHeader ParseV1(std::string_view bytes) {
  const size_t prefix = std::min(bytes.size(), kV1Prefix.size());
  if (bytes.substr(0, prefix) != kV1Prefix.substr(0, prefix)) return Invalid("no PROXY header");
  const std::string_view window = bytes.substr(0, kV1MaxBytes);
  const size_t lf = window.find('\n');
  if (lf == std::string_view::npos) {
    if (bytes.size() >= kV1MaxBytes) return Invalid("v1: no CRLF within 107 bytes");
    return NeedMore(std::max(bytes.size() + 1, kV1MinBytes));
  }
  if (lf < kV1Prefix.size() || bytes[lf - 1] != '\r') return Invalid("v1: line ends without CRLF");
  return ParseV1Line(bytes.substr(kV1Prefix.size(), lf - 1 - kV1Prefix.size()), lf + 1);
}

uint16_t Big16(const unsigned char* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

// The addresses after the fixed 16 bytes of a v2 PROXY command.
ProxyHeader ParseV2Addresses(int family, int protocol, std::string_view block, size_t length) {
  const size_t need = family == 1 ? kV2Inet : family == 2 ? kV2Inet6 : family == 3 ? kV2Unix : 0;
  if (block.size() < need) return Invalid("v2: address block shorter than its family needs");
  if (family == 0 || family == 3 || protocol == 0) return Complete(length, std::nullopt);
  if (protocol != 1) return Invalid("v2: not a stream (TCP) connection");
  const auto* p = reinterpret_cast<const unsigned char*>(block.data());
  const size_t address_bytes = family == 1 ? 4 : 16;
  return Complete(length, ProxySource{AddressText(family == 1 ? AF_INET : AF_INET6, p),
                                      Big16(p + 2 * address_bytes)});
}

ProxyHeader ParseV2(std::string_view bytes) {
  const size_t prefix = std::min(bytes.size(), kV2Signature.size());
  if (bytes.substr(0, prefix) != kV2Signature.substr(0, prefix)) {
    return Invalid("v2: wrong signature");
  }
  if (bytes.size() < kV2FixedBytes) return NeedMore(kV2FixedBytes);
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  if ((p[12] >> 4) != 2) return Invalid("v2: version is not 2");
  const int command = p[12] & 0xF;
  if (command > 1) return Invalid("v2: command is neither LOCAL nor PROXY");
  const int family = p[13] >> 4;
  const int protocol = p[13] & 0xF;
  if (family > 3 || protocol > 2) return Invalid("v2: unknown address family or protocol");
  const size_t length = kV2FixedBytes + Big16(p + 14);
  if (length > kMaxProxyHeaderBytes) {
    return Invalid("v2: header of " + std::to_string(length) + " bytes exceeds " +
                   std::to_string(kMaxProxyHeaderBytes));
  }
  if (bytes.size() < length) return NeedMore(length);
  if (command == 0) return Complete(length, std::nullopt);  // LOCAL: the proxy's own check
  return ParseV2Addresses(family, protocol, bytes.substr(kV2FixedBytes, length - kV2FixedBytes),
                          length);
}

}  // namespace

ProxyHeader ParseProxyHeader(std::string_view bytes) {
  if (bytes.empty()) return NeedMore(1);
  if (bytes[0] == kV2Signature[0]) return ParseV2(bytes);
  return ParseV1(bytes);
}

}  // namespace cardvault
