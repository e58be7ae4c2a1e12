// LEB128 varints: 7 bits a byte, least significant first, the high bit set on
// every byte but the last. Used by the pack format (archive/pack_format.cc)
// and the search index's docid lists (search/late_account_links.cc).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mailvault {

inline void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// The varint at the front of `*in`, which then starts after it; nullopt (and
// `*in` unchanged) when it is cut short or holds more than 64 bits.
inline std::optional<uint64_t> TakeVarint(std::string_view* in) {
  uint64_t v = 0;
  for (size_t i = 0, shift = 0; i < in->size() && shift < 70; ++i, shift += 7) {
    const auto b = static_cast<uint8_t>((*in)[i]);
    if (shift == 63 && b > 1) return std::nullopt;
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      in->remove_prefix(i + 1);
      return v;
    }
  }
  return std::nullopt;
}

}  // namespace mailvault
