// Canonical form of a message, computed while streaming.
//
// The canonical form is exactly the bytes received, with every LF that is not
// preceded by CR turned into CRLF, and a final CRLF added when the message does
// not end with one (ARCHITECTURE.md, invariant 2). This is what a POP3 server
// sends and what mailvault stores, hashes (SHA-256 = message id) and returns.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mailvault {

// Turns raw chunks into canonical chunks. Not thread-safe; one per message.
class Canonicalizer {
 public:
  // Appends the canonical form of `raw` (a continuation of earlier chunks) to `out`.
  void Feed(std::string_view raw, std::string* out);
  // Appends what the end of the message needs (a final CRLF when missing) to `out`
  // and resets for a new message.
  void Finish(std::string* out);
  // Bytes fed so far (raw, before canonicalisation).
  uint64_t raw_bytes() const { return raw_bytes_; }

 private:
  char last_ = 0;           // last canonical byte emitted (0 at start)
  char before_last_ = 0;    // the one before it
  uint64_t raw_bytes_ = 0;
};

// Whole-string convenience: the canonical form of `raw`.
std::string Canonicalize(std::string_view raw);

}  // namespace mailvault
