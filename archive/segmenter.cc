#include "archive/segmenter.h"

#include <algorithm>
#include <cctype>

namespace mailvault {
namespace {

constexpr size_t kNone = std::string::npos;
constexpr size_t kMaxContentTypeBytes = 16384;

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (IsBlank(s.front()) || s.front() == '\r' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (IsBlank(s.back()) || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

}  // namespace

void ParseContentType(std::string_view value, std::string* media_type, std::string* boundary) {
  media_type->clear();
  boundary->clear();
  size_t semi = value.find(';');
  *media_type = Lower(Trim(value.substr(0, semi)));
  while (semi != std::string_view::npos) {
    value.remove_prefix(semi + 1);
    size_t eq = value.find('=');
    if (eq == std::string_view::npos) return;
    std::string name = Lower(Trim(value.substr(0, eq)));
    std::string_view rest = value.substr(eq + 1);
    while (!rest.empty() && IsBlank(rest.front())) rest.remove_prefix(1);
    std::string param;
    size_t consumed = 0;
    if (!rest.empty() && rest.front() == '"') {
      size_t i = 1;
      for (; i < rest.size() && rest[i] != '"'; ++i) {
        if (rest[i] == '\\' && i + 1 < rest.size()) ++i;
        param.push_back(rest[i]);
      }
      consumed = std::min(i + 1, rest.size());
    } else {
      size_t end = rest.find(';');
      param = std::string(Trim(rest.substr(0, end)));
      consumed = end == std::string_view::npos ? rest.size() : end;
    }
    if (name == "boundary") *boundary = param;
    value = rest.substr(consumed);
    semi = value.find(';');
  }
}

MessageSegmenter::MessageSegmenter(SegmenterOptions options, SegmentSink sink)
    : options_(options), sink_(std::move(sink)) {}

Status MessageSegmenter::CutAt(size_t position) {
  if (position == 0 || position > buffer_.size()) return Status::Ok();
  MV_RETURN_IF_ERROR(sink_(std::string_view(buffer_).substr(0, position)));
  buffer_.erase(0, position);
  auto shift = [position](size_t& p) { p = (p == kNone || p < position) ? kNone : p - position; };
  shift(line_start_);
  if (leaf_start_ != kNone) leaf_start_ = leaf_start_ < position ? 0 : leaf_start_ - position;
  return Status::Ok();
}

Status MessageSegmenter::EndLeaf(size_t leaf_end) {
  if (leaf_start_ != kNone && leaf_bytes_ >= options_.leaf_min_bytes && leaf_end > leaf_start_) {
    const size_t leaf_length = leaf_end - leaf_start_;
    MV_RETURN_IF_ERROR(CutAt(leaf_start_));  // what precedes the leaf
    MV_RETURN_IF_ERROR(CutAt(leaf_length));  // the leaf itself
  }
  leaf_start_ = kNone;
  leaf_bytes_ = 0;
  return Status::Ok();
}

void MessageSegmenter::AddHeaderLine(std::string_view line) {
  std::string_view body = line;
  if (!body.empty() && IsBlank(body.front())) {
    if (in_content_type_ && content_type_.size() < kMaxContentTypeBytes) {
      content_type_.append(Trim(body));
      content_type_.push_back(' ');
    }
    return;
  }
  in_content_type_ = false;
  constexpr std::string_view kName = "content-type:";
  if (body.size() >= kName.size() && Lower(body.substr(0, kName.size())) == kName) {
    in_content_type_ = true;
    content_type_.assign(Trim(body.substr(kName.size())));
    content_type_.push_back(' ');
  }
}

void MessageSegmenter::OnHeadersEnd() {
  std::string media_type, boundary;
  ParseContentType(content_type_, &media_type, &boundary);
  content_type_.clear();
  in_content_type_ = false;
  bool multipart = media_type.rfind("multipart/", 0) == 0 && !boundary.empty() &&
                   boundary.size() <= 200 && boundaries_.size() < options_.max_nesting;
  if (multipart) {
    boundaries_.push_back(std::move(boundary));
    state_ = State::kMultipartText;
  } else if (media_type == "message/rfc822" && !top_level_) {
    state_ = State::kHeaders;  // the enclosed message's own header block follows
  } else {
    state_ = State::kLeafBody;
    leaf_start_ = buffer_.size();
    leaf_bytes_ = 0;
  }
  top_level_ = false;
}

bool MessageSegmenter::MatchDelimiter(std::string_view line, size_t* level, bool* closing) const {
  if (line.size() < 3 || line[0] != '-' || line[1] != '-') return false;
  std::string_view rest = line.substr(2);
  for (size_t i = boundaries_.size(); i-- > 0;) {
    const std::string& b = boundaries_[i];
    if (rest.size() < b.size() || rest.compare(0, b.size(), b) != 0) continue;
    std::string_view tail = rest.substr(b.size());
    bool close = tail.size() >= 2 && tail[0] == '-' && tail[1] == '-';
    if (close) tail.remove_prefix(2);
    if (!Trim(tail).empty()) continue;
    *level = i;
    *closing = close;
    return true;
  }
  return false;
}

Status MessageSegmenter::OnLineComplete() {
  // line_ holds the line including its CRLF (unless it overflowed the inspection cap).
  std::string_view line = line_;
  const size_t start = line_start_;
  const size_t end = buffer_.size();
  const bool inspectable = !line_overflow_;

  size_t level = 0;
  bool closing = false;
  bool delimiter = inspectable && !boundaries_.empty() && MatchDelimiter(line, &level, &closing);

  if (delimiter) {
    if (state_ == State::kLeafBody) {
      MV_RETURN_IF_ERROR(EndLeaf(start == kNone ? end : start));
    }
    boundaries_.resize(level + 1);
    if (closing) {
      boundaries_.pop_back();
      state_ = State::kMultipartText;  // epilogue: only outer delimiters matter now
    } else {
      state_ = State::kHeaders;
      content_type_.clear();
      in_content_type_ = false;
    }
    return Status::Ok();
  }

  switch (state_) {
    case State::kHeaders: {
      if (inspectable && (line == "\r\n" || line == "\n")) {
        bool was_top = top_level_;
        if (was_top) MV_RETURN_IF_ERROR(CutAt(end));  // header block is its own segment
        OnHeadersEnd();
      } else if (inspectable) {
        AddHeaderLine(line);
      } else {
        in_content_type_ = false;
      }
      break;
    }
    case State::kLeafBody:
    case State::kMultipartText:
      break;
  }
  return Status::Ok();
}

Status MessageSegmenter::Feed(std::string_view data) {
  while (!data.empty()) {
    if (line_length_ == 0) line_start_ = buffer_.size();
    size_t nl = data.find('\n');
    size_t take = nl == std::string_view::npos ? data.size() : nl + 1;
    std::string_view piece = data.substr(0, take);
    data.remove_prefix(take);

    buffer_.append(piece);
    if (state_ == State::kLeafBody) leaf_bytes_ += piece.size();
    if (!line_overflow_) {
      if (line_.size() + piece.size() <= options_.max_inspected_line) {
        line_.append(piece);
      } else {
        line_overflow_ = true;
        line_.clear();
      }
    }
    line_length_ += piece.size();

    if (nl != std::string_view::npos) {
      MV_RETURN_IF_ERROR(OnLineComplete());
      line_.clear();
      line_length_ = 0;
      line_overflow_ = false;
      // Forced cut at a line start once the buffer is full.
      if (buffer_.size() >= options_.max_segment_bytes) {
        if (leaf_start_ != kNone && leaf_start_ > 0) MV_RETURN_IF_ERROR(CutAt(leaf_start_));
        MV_RETURN_IF_ERROR(CutAt(buffer_.size()));
      }
    } else if (buffer_.size() >= options_.max_segment_bytes + options_.max_segment_bytes / 16) {
      // A very long line: cut inside it rather than let the buffer grow.
      if (leaf_start_ != kNone && leaf_start_ > 0) MV_RETURN_IF_ERROR(CutAt(leaf_start_));
      MV_RETURN_IF_ERROR(CutAt(options_.max_segment_bytes));
    }
  }
  return Status::Ok();
}

Status MessageSegmenter::Finish() {
  Status s = Status::Ok();
  if (!buffer_.empty()) s = sink_(buffer_);
  Reset();
  return s;
}

void MessageSegmenter::Reset() {
  buffer_.clear();
  line_.clear();
  line_length_ = 0;
  line_start_ = kNone;
  line_overflow_ = false;
  state_ = State::kHeaders;
  top_level_ = true;
  boundaries_.clear();
  content_type_.clear();
  in_content_type_ = false;
  leaf_start_ = kNone;
  leaf_bytes_ = 0;
}

}  // namespace mailvault
