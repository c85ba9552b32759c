// ParseProxyHeader: the PROXY protocol header (HAProxy's proxy-protocol.txt, v1 text and v2
// binary) that a load balancer sends before the client's bytes, as a pure function over bytes.
//
// Contract:
// - The input is the first bytes of a connection. The result is one of
//   kNeedMore: the bytes are a prefix of a header that may still be valid; `length` is how many
//     bytes the input MUST hold before the next call. Reading up to `length` bytes never reads
//     past the header's end (so never into the TLS handshake that follows), and `length` is
//     always greater than the input's size and at most kMaxProxyHeaderBytes.
//   kHeader: a complete header of `length` bytes (<= the input's size); the bytes after it are
//     the client's. `source` is the client's address and port, or nullopt when the header
//     carries none to use: v2 LOCAL (the proxy's own health check), v1 UNKNOWN, v2 UNSPEC and
//     UNIX families. Then the caller keeps the connection's peer address.
//   kInvalid: not a PROXY header, or a malformed one (wrong signature, version, command,
//     family or protocol; an address block shorter than its family needs; a v1 line without
//     CRLF, longer than 107 bytes, or with a bad address or port; a header longer than
//     kMaxProxyHeaderBytes). `error` says what, for the log.
// - v2 TLVs are skipped unread. Addresses come back in their canonical text form
//   (inet_ntop), as the server names a socket's peer.
// - It never reads beyond the input, allocates only the result, and never throws.
#ifndef CARDVAULT_API_PROXY_PROTOCOL_H_
#define CARDVAULT_API_PROXY_PROTOCOL_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cardvault {

// The largest header accepted: a v2 header with 4 KiB of address and TLVs (a v1 line is at
// most 107 bytes).
inline constexpr size_t kMaxProxyHeaderBytes = 16 + 4096;

struct ProxySource {
  std::string address;  // "203.0.113.7", "2001:db8::1"
  uint16_t port = 0;
};

struct ProxyHeader {
  enum class Kind { kNeedMore, kHeader, kInvalid };
  Kind kind = Kind::kInvalid;
  size_t length = 0;
  std::optional<ProxySource> source;
  std::string error;
};

ProxyHeader ParseProxyHeader(std::string_view bytes);

}  // namespace cardvault

#endif  // CARDVAULT_API_PROXY_PROTOCOL_H_
