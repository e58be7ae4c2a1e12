#include "archive/canonical.h"

#include <cstring>

namespace mailvault {

void Canonicalizer::Feed(std::string_view raw, std::string* out) {
  raw_bytes_ += raw.size();
  const size_t old_size = out->size();
  if (raw.empty()) return;
  size_t start = 0;
  // memchr finds each LF a machine word or more at a time; mail is mostly
  // line content, and this runs over every byte collected or imported.
  for (const char* lf = static_cast<const char*>(std::memchr(raw.data(), '\n', raw.size()));
       lf != nullptr;
       lf = static_cast<const char*>(
           std::memchr(lf + 1, '\n', raw.size() - static_cast<size_t>(lf + 1 - raw.data())))) {
    const size_t i = static_cast<size_t>(lf - raw.data());
    char prev = i > 0 ? raw[i - 1] : last_;
    if (prev == '\r') continue;
    out->append(raw.data() + start, i - start);
    out->push_back('\r');
    start = i;  // the LF itself is copied with the next run
  }
  out->append(raw.data() + start, raw.size() - start);
  // Remember the last two canonical bytes for Finish() and the next chunk's first LF.
  const size_t added = out->size() - old_size;
  if (added >= 2) {
    before_last_ = (*out)[out->size() - 2];
    last_ = out->back();
  } else if (added == 1) {
    before_last_ = last_;
    last_ = out->back();
  }
}

void Canonicalizer::Finish(std::string* out) {
  if (!(before_last_ == '\r' && last_ == '\n')) out->append("\r\n");
  last_ = before_last_ = 0;
  raw_bytes_ = 0;
}

std::string Canonicalize(std::string_view raw) {
  Canonicalizer c;
  std::string out;
  c.Feed(raw, &out);
  c.Finish(&out);
  return out;
}

}  // namespace mailvault
