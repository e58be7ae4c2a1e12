// Splits a canonical message into segments while it streams.
//
// A segment is a run of the message's bytes that is stored (and deduplicated) on
// its own. The cuts are chosen so that equal content gives equal segments:
//   - the top-level header block (up to and including its empty line) is one
//     segment, so copies of one mail delivered to several mailboxes, which differ
//     only in Received/Delivered-To headers, share everything after it;
//   - the top-level body of a single-part message starts a segment;
//   - a MIME leaf part whose body is at least `leaf_min_bytes` long is its own
//     segment (its part headers stay with the surrounding structure), so an
//     attachment forwarded in another mail is stored once;
//   - nothing is longer than `max_segment_bytes`: longer runs are cut, preferably
//     at a line start, into pieces aligned to the start of their part, which
//     bounds memory for a message of any size.
// Cuts only affect how well data deduplicates: the concatenation of the emitted
// segments is always exactly the input. Malformed MIME (missing or misplaced
// boundaries, absurd lines) simply gives fewer cuts.
//
// Not thread-safe; one per message stream.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace mailvault {

struct SegmenterOptions {
  size_t max_segment_bytes = 1 << 20;  // 1 MiB: upper bound of one segment
  size_t leaf_min_bytes = 4096;        // smaller MIME leaf bodies stay with their neighbours
  size_t max_inspected_line = 4096;    // longer lines are never boundaries or header fields we read
  size_t max_nesting = 64;             // deeper multiparts are treated as opaque
};

class MessageSegmenter {
 public:
  // Receives each finished segment, in order. An error stops the stream and is
  // returned by the Feed() or Finish() call that emitted the segment.
  using SegmentSink = std::function<Status(std::string_view segment)>;

  MessageSegmenter(SegmenterOptions options, SegmentSink sink);

  // Feeds the next canonical bytes of the message.
  Status Feed(std::string_view canonical);
  // Emits the last segment and resets for a new message.
  Status Finish();
  // Drops whatever is buffered, without emitting it, and resets for a new message.
  void Reset();

 private:
  enum class State { kHeaders, kLeafBody, kMultipartText };

  Status OnLineComplete();
  void OnHeadersEnd();
  Status CutAt(size_t position);
  Status EndLeaf(size_t leaf_end);
  bool MatchDelimiter(std::string_view line, size_t* level, bool* closing) const;
  void AddHeaderLine(std::string_view line);

  SegmenterOptions options_;
  SegmentSink sink_;

  std::string buffer_;        // bytes not yet emitted
  std::string line_;          // the current line, up to max_inspected_line bytes
  size_t line_length_ = 0;    // the current line's full length so far
  size_t line_start_ = 0;     // position of the current line's start in buffer_, or npos
  bool line_overflow_ = false;

  State state_ = State::kHeaders;
  bool top_level_ = true;          // the entity being read is the message itself
  std::vector<std::string> boundaries_;
  std::string content_type_;       // unfolded Content-Type of the entity being read
  bool in_content_type_ = false;
  size_t leaf_start_ = std::string::npos;  // where the current leaf body starts in buffer_
  size_t leaf_bytes_ = 0;                  // leaf body length so far (also across forced cuts)
};

// Parses a Content-Type value: lowercase "type/subtype" and the boundary parameter.
void ParseContentType(std::string_view value, std::string* media_type, std::string* boundary);

}  // namespace mailvault
