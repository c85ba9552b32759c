// libFuzzer target: any byte string given to ParseProxyHeader must give a result within its
// contract (api/proxy_protocol.h), never a crash, hang or sanitizer report: "need more" asks
// for more than it has and at most kMaxProxyHeaderBytes; a header lies within the input,
// parses the same from its own bytes, and one byte short of it asks for no byte past it.
// Seeded with fuzz/proxy_seeds (v1 and v2 headers).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "api/proxy_protocol.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using cardvault::ProxyHeader;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const ProxyHeader h = cardvault::ParseProxyHeader(bytes);
  switch (h.kind) {
    case ProxyHeader::Kind::kNeedMore:
      Check(h.length > size && h.length <= cardvault::kMaxProxyHeaderBytes);
      break;
    case ProxyHeader::Kind::kInvalid:
      Check(!h.error.empty());
      break;
    case ProxyHeader::Kind::kHeader: {
      Check(h.length > 0 && h.length <= size && h.length <= cardvault::kMaxProxyHeaderBytes);
      const ProxyHeader again = cardvault::ParseProxyHeader(bytes.substr(0, h.length));
      Check(again.kind == ProxyHeader::Kind::kHeader && again.length == h.length &&
            again.source.has_value() == h.source.has_value());
      if (h.source) Check(again.source->address == h.source->address && !h.source->address.empty());
      const ProxyHeader shorter = cardvault::ParseProxyHeader(bytes.substr(0, h.length - 1));
      Check(shorter.kind == ProxyHeader::Kind::kNeedMore && shorter.length <= h.length);
      break;
    }
  }
  return 0;
}
