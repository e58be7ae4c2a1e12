#include "archive/canonical.h"

namespace mailvault {

void Canonicalizer::Feed(std::string_view raw, std::string* out) {
  raw_bytes_ += raw.size();
  const size_t old_size = out->size();
  size_t start = 0;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '\n') continue;
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
