// ParseProxyHeader (v1 and v2, every outcome, truncation at every byte, bit flips),
// AddressRanges and the proxy_protocol_from key of the server's config.
#include "api/proxy_protocol.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "api/address_ranges.h"
#include "api/server_config.h"

namespace cardvault {
namespace {

using Kind = ProxyHeader::Kind;

const std::string kSignature("\r\n\r\n\0\r\nQUIT\n", 12);
// What follows a header on a real connection: a TLS ClientHello's first bytes.
const std::string kTlsStart("\x16\x03\x01\x02\x00", 5);

std::string Big16(size_t v) {
  return {static_cast<char>((v >> 8) & 0xff), static_cast<char>(v & 0xff)};
}

std::string V2(unsigned char version_command, unsigned char family_protocol,
               const std::string& block) {
  return kSignature + static_cast<char>(version_command) + static_cast<char>(family_protocol) +
         Big16(block.size()) + block;
}

std::string Raw(int family, const char* text) {
  unsigned char raw[16];
  EXPECT_EQ(::inet_pton(family, text, raw), 1) << text;
  return std::string(reinterpret_cast<char*>(raw), family == AF_INET ? 4 : 16);
}

std::string Inet4Block(const char* src, const char* dst, uint16_t sport, uint16_t dport) {
  return Raw(AF_INET, src) + Raw(AF_INET, dst) + Big16(sport) + Big16(dport);
}

std::string Inet6Block(const char* src, const char* dst, uint16_t sport, uint16_t dport) {
  return Raw(AF_INET6, src) + Raw(AF_INET6, dst) + Big16(sport) + Big16(dport);
}

std::string Tlv(unsigned char type, const std::string& value) {
  return static_cast<char>(type) + Big16(value.size()) + value;
}

// Every valid header the tests use, with the source each names ("" for none).
struct Valid {
  std::string header;
  std::string address;
  uint16_t port;
};

std::vector<Valid> ValidHeaders() {
  return {
      {"PROXY TCP4 203.0.113.7 10.0.0.1 51000 8443\r\n", "203.0.113.7", 51000},
      {"PROXY TCP6 2001:db8::7 2001:db8::1 1 65535\r\n", "2001:db8::7", 1},
      {"PROXY TCP6 2001:DB8:0:0::7 ::1 0 443\r\n", "2001:db8::7", 0},
      {"PROXY UNKNOWN\r\n", "", 0},
      {"PROXY UNKNOWN 2001:db8::7 whatever follows\r\n", "", 0},
      {V2(0x21, 0x11, Inet4Block("198.51.100.9", "10.0.0.1", 40000, 8443)), "198.51.100.9", 40000},
      {V2(0x21, 0x21, Inet6Block("2001:db8::9", "2001:db8::1", 40001, 8443)), "2001:db8::9", 40001},
      {V2(0x21, 0x11,
          Inet4Block("198.51.100.10", "10.0.0.1", 7, 8443) + Tlv(0x01, "h2") +
              Tlv(0x05, "unique-id") + Tlv(0xEA, std::string(300, 'x'))),
       "198.51.100.10", 7},
      {V2(0x20, 0x00, ""), "", 0},                                      // LOCAL
      {V2(0x20, 0x11, Inet4Block("1.2.3.4", "5.6.7.8", 1, 2)), "", 0},  // LOCAL
      {V2(0x21, 0x00, ""), "", 0},                                      // UNSPEC
      {V2(0x21, 0x31, std::string(216, '\0')), "", 0},                  // UNIX
      {V2(0x21, 0x10, Inet4Block("1.2.3.4", "5.6.7.8", 1, 2)), "", 0},  // proto UNSPEC
  };
}

TEST(ProxyProtocolTest, ValidHeadersNameTheirSourceAndLength) {
  for (const Valid& v : ValidHeaders()) {
    SCOPED_TRACE(testing::PrintToString(v.header));
    const ProxyHeader h = ParseProxyHeader(v.header + kTlsStart);
    ASSERT_EQ(h.kind, Kind::kHeader) << h.error;
    EXPECT_EQ(h.length, v.header.size());
    if (v.address.empty()) {
      EXPECT_FALSE(h.source.has_value());
    } else {
      ASSERT_TRUE(h.source.has_value());
      EXPECT_EQ(h.source->address, v.address);
      EXPECT_EQ(h.source->port, v.port);
    }
  }
}

// Cut at every byte, a valid header asks for more, never for a byte past its end; reading
// exactly what it asks for ends at the header's last byte.
TEST(ProxyProtocolTest, TruncationAtEveryByteAsksForMoreWithinTheHeader) {
  for (const Valid& v : ValidHeaders()) {
    SCOPED_TRACE(testing::PrintToString(v.header));
    for (size_t n = 0; n < v.header.size(); ++n) {
      const ProxyHeader h = ParseProxyHeader(std::string_view(v.header).substr(0, n));
      ASSERT_EQ(h.kind, Kind::kNeedMore) << n << ": " << h.error;
      EXPECT_GT(h.length, n);
      EXPECT_LE(h.length, v.header.size()) << n;
    }
    const std::string stream = v.header + kTlsStart;
    std::string have;
    for (int round = 0; round < 200; ++round) {
      const ProxyHeader h = ParseProxyHeader(have);
      if (h.kind != Kind::kNeedMore) {
        EXPECT_EQ(h.kind, Kind::kHeader);
        break;
      }
      ASSERT_LE(h.length, stream.size());
      have = stream.substr(0, h.length);
    }
    EXPECT_EQ(have, v.header);
  }
}

TEST(ProxyProtocolTest, MalformedV1IsInvalid) {
  const std::vector<std::string> bad = {
      "PROXY TCP4 203.0.113.7 10.0.0.1 51000 8443\n",      // LF without CR
      "PROXY TCP4 203.0.113.7 10.0.0.1 51000 8443\r\r\n",  // stray CR
      "PROXY TCP4 203.0.113 10.0.0.1 51000 8443\r\n",
      "PROXY TCP4 2001:db8::7 10.0.0.1 51000 8443\r\n",
      "PROXY TCP6 203.0.113.7 2001:db8::1 51000 8443\r\n",
      "PROXY TCP4 203.0.113.7 10.0.0.1 65536 8443\r\n",
      "PROXY TCP4 203.0.113.7 10.0.0.1 051000 8443\r\n",
      "PROXY TCP4 203.0.113.7 10.0.0.1 -1 8443\r\n",
      "PROXY TCP4 203.0.113.7 10.0.0.1 51000\r\n",
      "PROXY TCP4 203.0.113.7 10.0.0.1 51000 8443 extra\r\n",
      "PROXY TCP4  203.0.113.7 10.0.0.1 51000 8443\r\n",
      "PROXY TCP5 203.0.113.7 10.0.0.1 51000 8443\r\n",
      "PROXY tcp4 203.0.113.7 10.0.0.1 51000 8443\r\n",
      std::string("PROXY TCP4 203.0.113.7\0x 10.0.0.1 1 2\r\n", 39),
      "PROXY \r\n",
      "PROXZ TCP4 203.0.113.7 10.0.0.1 51000 8443\r\n",
      "proxy TCP4 203.0.113.7 10.0.0.1 51000 8443\r\n",
      "GET /v1/health HTTP/1.1\r\n\r\n",
      kTlsStart,
  };
  for (const std::string& b : bad) {
    const ProxyHeader h = ParseProxyHeader(b);
    EXPECT_EQ(h.kind, Kind::kInvalid) << testing::PrintToString(b);
    EXPECT_FALSE(h.error.empty());
  }
}

TEST(ProxyProtocolTest, AV1LineWithoutCrlfIsCutAt107Bytes) {
  std::string line = "PROXY UNKNOWN " + std::string(92, 'a');
  ASSERT_EQ(line.size(), 106u);
  EXPECT_EQ(ParseProxyHeader(line).kind, Kind::kNeedMore);
  EXPECT_EQ(ParseProxyHeader(line).length, 107u);
  EXPECT_EQ(ParseProxyHeader(line + "a").kind, Kind::kInvalid);
  EXPECT_EQ(ParseProxyHeader(line + "a\r\n").kind, Kind::kInvalid);
  EXPECT_EQ(ParseProxyHeader(line.substr(0, 105) + "\r\n").kind, Kind::kHeader);  // 107 bytes
}

TEST(ProxyProtocolTest, MalformedV2IsInvalid) {
  const std::string inet = Inet4Block("198.51.100.9", "10.0.0.1", 40000, 8443);
  const std::vector<std::string> bad = {
      V2(0x11, 0x11, inet),                       // version 1
      V2(0x31, 0x11, inet),                       // version 3
      V2(0x22, 0x11, inet),                       // command 2
      V2(0x21, 0x41, inet),                       // family 4
      V2(0x21, 0x13, inet),                       // protocol 3
      V2(0x21, 0x12, inet),                       // UDP
      V2(0x21, 0x11, inet.substr(0, 11)),         // IPv4 block too short
      V2(0x21, 0x21, inet + std::string(23, 0)),  // IPv6 block too short (35 bytes)
      V2(0x21, 0x31, std::string(215, 0)),        // UNIX block too short
  };
  for (const std::string& b : bad) {
    const ProxyHeader h = ParseProxyHeader(b);
    EXPECT_EQ(h.kind, Kind::kInvalid) << testing::PrintToString(b);
  }
}

TEST(ProxyProtocolTest, OversizeV2IsRefusedBeforeItsBodyIsRead) {
  const std::string largest = V2(0x21, 0x11,
                                 Inet4Block("198.51.100.9", "10.0.0.1", 1, 2) +
                                     std::string(kMaxProxyHeaderBytes - 16 - 12, '\0'));
  ASSERT_EQ(largest.size(), kMaxProxyHeaderBytes);
  EXPECT_EQ(ParseProxyHeader(largest).kind, Kind::kHeader);
  EXPECT_EQ(ParseProxyHeader(largest.substr(0, 16)).length, kMaxProxyHeaderBytes);
  // One byte more, or the 64 KiB the length field allows: refused from the fixed 16 bytes.
  for (size_t body : {kMaxProxyHeaderBytes - 16 + 1, size_t{65535}}) {
    const std::string fixed = kSignature + "\x21\x11" + Big16(body);
    const ProxyHeader h = ParseProxyHeader(fixed);
    EXPECT_EQ(h.kind, Kind::kInvalid);
    EXPECT_NE(h.error.find("exceeds"), std::string::npos) << h.error;
  }
}

TEST(ProxyProtocolTest, AWrongSignatureByteIsInvalidAsSoonAsItArrives) {
  const std::string header = V2(0x21, 0x11, Inet4Block("198.51.100.9", "10.0.0.1", 1, 2));
  for (size_t i = 0; i < kSignature.size(); ++i) {
    std::string bad = header;
    bad[i] = static_cast<char>(bad[i] ^ 0x20);
    const ProxyHeader h = ParseProxyHeader(std::string_view(bad).substr(0, i + 1));
    EXPECT_EQ(h.kind, Kind::kInvalid) << i;
  }
}

// Every single-bit flip of every valid header gives a defined outcome within bounds; flips
// in a signature or the v2 version are refused.
TEST(ProxyProtocolTest, BitFlipsStayWithinTheContract) {
  for (const Valid& v : ValidHeaders()) {
    const bool v2 = v.header[0] == '\r';
    for (size_t i = 0; i < v.header.size(); ++i) {
      for (int bit = 0; bit < 8; ++bit) {
        std::string flipped = v.header + kTlsStart;
        flipped[i] = static_cast<char>(flipped[i] ^ (1 << bit));
        const ProxyHeader h = ParseProxyHeader(flipped);
        SCOPED_TRACE(testing::PrintToString(flipped));
        switch (h.kind) {
          case Kind::kHeader:
            EXPECT_LE(h.length, flipped.size());
            break;
          case Kind::kNeedMore:
            EXPECT_GT(h.length, flipped.size());
            EXPECT_LE(h.length, kMaxProxyHeaderBytes);
            break;
          case Kind::kInvalid:
            EXPECT_FALSE(h.error.empty());
            break;
        }
        if ((v2 && (i < 12 || (i == 12 && bit >= 4))) || (!v2 && i < 6)) {
          EXPECT_EQ(h.kind, Kind::kInvalid) << i << "/" << bit;
        }
      }
    }
  }
}

TEST(AddressRangesTest, AddressesAndBlocksOfBothFamilies) {
  auto ranges = AddressRanges::Parse(
      {"10.0.0.5", "192.168.0.0/16", "2001:db8::1", "fd00::/8", "172.16.0.0/12"});
  ASSERT_TRUE(ranges.ok()) << ranges.status().ToString();
  EXPECT_FALSE(ranges->empty());
  EXPECT_TRUE(ranges->Contains("10.0.0.5"));
  EXPECT_FALSE(ranges->Contains("10.0.0.6"));
  EXPECT_TRUE(ranges->Contains("192.168.255.1"));
  EXPECT_FALSE(ranges->Contains("192.169.0.1"));
  EXPECT_TRUE(ranges->Contains("172.31.255.255"));
  EXPECT_FALSE(ranges->Contains("172.32.0.0"));
  EXPECT_TRUE(ranges->Contains("2001:db8::1"));
  EXPECT_TRUE(ranges->Contains("2001:0db8:0:0::1"));
  EXPECT_FALSE(ranges->Contains("2001:db8::2"));
  EXPECT_TRUE(ranges->Contains("fdff:1::1"));
  EXPECT_FALSE(ranges->Contains("fe00::1"));
  EXPECT_TRUE(ranges->Contains("::ffff:10.0.0.5"));  // a dual-stack socket's IPv4 peer
  EXPECT_FALSE(ranges->Contains(""));
  EXPECT_FALSE(ranges->Contains("localhost"));
  EXPECT_TRUE(AddressRanges::Parse({"0.0.0.0/0"})->Contains("203.0.113.7"));
  EXPECT_FALSE(AddressRanges::Parse({"0.0.0.0/0"})->Contains("2001:db8::1"));
  // IPv4 is compared in its mapped form: an IPv6 catch-all covers IPv4 (docs/server.md).
  EXPECT_TRUE(AddressRanges::Parse({"::/0"})->Contains("203.0.113.7"));
  EXPECT_TRUE(AddressRanges::Parse({"::ffff:0:0/96"})->Contains("203.0.113.7"));
  EXPECT_FALSE(AddressRanges::Parse({"fd00::/8"})->Contains("203.0.113.7"));
  EXPECT_TRUE(AddressRanges::Parse({})->empty());
  EXPECT_FALSE(AddressRanges::Parse({})->Contains("127.0.0.1"));
}

TEST(AddressRangesTest, BadEntriesAreRefusedByName) {
  for (const char* bad : {"lb.example.com", "10.0.0.300", "10.0.0.0/33", "fd00::/129", "10.0.0.0/",
                          "10.0.0.0/x", "10.0.0.1/24", "fd00::1/8", "", "10.0.0.0/-1"}) {
    auto ranges = AddressRanges::Parse({"10.0.0.5", bad});
    ASSERT_FALSE(ranges.ok()) << bad;
    EXPECT_EQ(ranges.status().reason(), "bad_config");
    EXPECT_NE(ranges.status().message().find(std::string("\"") + bad + "\""), std::string::npos)
        << ranges.status().message();
  }
}

TEST(AddressRangesTest, ServerConfigValidatesProxyProtocolFrom) {
  auto config = ServerConfig::FromJson(R"({"proxy_protocol_from": ["10.0.0.0/8", "fd00::/8"]})");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->proxy_protocol_from, (std::vector<std::string>{"10.0.0.0/8", "fd00::/8"}));
  auto again = ServerConfig::FromJson(config->ToJson());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->proxy_protocol_from, config->proxy_protocol_from);
  EXPECT_TRUE(ServerConfig::FromJson("{}")->proxy_protocol_from.empty());
  auto bad = ServerConfig::FromJson(R"({"proxy_protocol_from": ["lb.example.com"]})");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().reason(), "bad_config");
  EXPECT_NE(bad.status().message().find("lb.example.com"), std::string::npos);
  EXPECT_FALSE(ServerConfig::FromJson(R"({"proxy_protocol_from": "10.0.0.1"})").ok());
}

}  // namespace
}  // namespace cardvault
