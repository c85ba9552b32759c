// S3 XML helpers: string searches over flat, machine-written bodies.
#include "storage/s3_xml.h"

#include <charconv>
#include <ctime>

namespace cardvault {

std::vector<std::string_view> XmlElements(std::string_view xml, std::string_view tag) {
  const std::string open = "<" + std::string(tag) + ">";
  const std::string close = "</" + std::string(tag) + ">";
  std::vector<std::string_view> out;
  size_t at = 0;
  while (true) {
    const size_t start = xml.find(open, at);
    if (start == std::string_view::npos) break;
    const size_t body = start + open.size();
    const size_t end = xml.find(close, body);
    if (end == std::string_view::npos) break;
    out.push_back(xml.substr(body, end - body));
    at = end + close.size();
  }
  return out;
}

std::string XmlText(std::string_view xml, std::string_view tag) {
  std::vector<std::string_view> found = XmlElements(xml, tag);
  return found.empty() ? std::string() : XmlUnescape(found.front());
}

namespace {

// The character of the reference `ref` (between '&' and ';'), or -1.
int ReferenceChar(std::string_view ref) {
  if (ref == "amp") return '&';
  if (ref == "lt") return '<';
  if (ref == "gt") return '>';
  if (ref == "quot") return '"';
  if (ref == "apos") return '\'';
  if (ref.size() < 2 || ref[0] != '#') return -1;
  const bool hex = ref[1] == 'x' || ref[1] == 'X';
  std::string_view digits = ref.substr(hex ? 2 : 1);
  int value = 0;
  auto [end, ec] =
      std::from_chars(digits.data(), digits.data() + digits.size(), value, hex ? 16 : 10);
  if (ec != std::errc() || end != digits.data() + digits.size() || value <= 0 || value > 127) {
    return -1;
  }
  return value;
}

}  // namespace

std::string XmlUnescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '&') {
      const size_t semi = text.find(';', i);
      if (semi != std::string_view::npos) {
        const int c = ReferenceChar(text.substr(i + 1, semi - i - 1));
        if (c >= 0) {
          out.push_back(static_cast<char>(c));
          i = semi;
          continue;
        }
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

std::string XmlEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::optional<int64_t> ParseIso8601Utc(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS, then optional fraction and "Z".
  if (text.size() < 19 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
      text[16] != ':') {
    return std::nullopt;
  }
  auto number = [&](size_t at, size_t len) -> int {
    int v = 0;
    auto [end, ec] = std::from_chars(text.data() + at, text.data() + at + len, v);
    return ec == std::errc() && end == text.data() + at + len ? v : -1;
  };
  std::tm tm{};
  tm.tm_year = number(0, 4) - 1900;
  tm.tm_mon = number(5, 2) - 1;
  tm.tm_mday = number(8, 2);
  tm.tm_hour = number(11, 2);
  tm.tm_min = number(14, 2);
  tm.tm_sec = number(17, 2);
  if (tm.tm_year < 70 || tm.tm_mon < 0 || tm.tm_mday < 1 || tm.tm_hour < 0 || tm.tm_min < 0 ||
      tm.tm_sec < 0) {
    return std::nullopt;
  }
  return static_cast<int64_t>(::timegm(&tm));
}

}  // namespace cardvault
