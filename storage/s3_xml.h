// The little XML that S3 answers need: element texts found by tag, entities, timestamps.
// Not a general XML parser: S3 bodies are flat, unattributed and machine-written.
#ifndef CARDVAULT_STORAGE_S3_XML_H_
#define CARDVAULT_STORAGE_S3_XML_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cardvault {

// The raw contents of every <tag>...</tag> in `xml`, in order (nested tags included).
std::vector<std::string_view> XmlElements(std::string_view xml, std::string_view tag);

// The unescaped text of the first <tag>, or "" if there is none.
std::string XmlText(std::string_view xml, std::string_view tag);

// &amp; &lt; &gt; &quot; &apos; and numeric references (decimal and hex, ASCII only).
std::string XmlUnescape(std::string_view text);
std::string XmlEscape(std::string_view text);

// "2026-12-06T08:18:38.888Z" (ISO 8601, UTC) as Unix seconds.
std::optional<int64_t> ParseIso8601Utc(std::string_view text);

}  // namespace cardvault

#endif  // CARDVAULT_STORAGE_S3_XML_H_
