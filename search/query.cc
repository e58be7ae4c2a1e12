// The query language (grammar in search/query.h): a hand-written tokenizer and
// recursive-descent parser, so that every error can name its column. Free-text
// leaves (words and phrases) are handed to Xapian's QueryParser one at a time,
// so that they are tokenised, stemmed and CJK-n-grammed exactly as the
// TermGenerator indexed them; structure, fields, dates and sizes are ours.
#include "search/query.h"

#include <cctype>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/sha256.h"
#include "search/index_schema.h"
#include "search/late_account_links.h"

namespace mailvault {
namespace {

namespace schema = index_schema;

enum class TokenKind { kWord, kPhrase, kField, kLParen, kRParen, kMinus, kAnd, kOr, kNot, kEnd };

struct Token {
  TokenKind kind = TokenKind::kEnd;
  size_t offset = 0;        // byte offset of the token in the query
  std::string text;         // word / phrase text; field: the value
  std::string field;        // kField: the field name, lowercase
  bool value_quoted = false;
  size_t value_offset = 0;  // kField: byte offset of the value
};

// 1-based column in characters (UTF-8 continuation bytes do not count).
size_t Column(std::string_view text, size_t offset) {
  size_t column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++column;
  }
  return column;
}

constexpr const char* kKnownFields =
    "from, to, cc, bcc, subject, id, filename, account, type, has, flag, date, size";

bool IsKnownField(std::string_view f) {
  for (std::string_view k : {"from", "to", "cc", "bcc", "subject", "id", "filename", "account",
                             "type", "has", "flag", "date", "size"}) {
    if (f == k) return true;
  }
  return false;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }
bool IsWordChar(char c) { return !IsSpace(c) && c != '(' && c != ')' && c != '"'; }
bool IsAsciiLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

using index_schema::AsciiLower;

class Parser {
 public:
  Parser(std::string_view text, const QueryParseOptions& options)
      : text_(text), options_(options) {
    qp_.set_stemmer(Xapian::Stem(options.stem_language));
    qp_.set_stemming_strategy(Xapian::QueryParser::STEM_SOME);
    qp_.set_default_op(Xapian::Query::OP_AND);
  }

  Result<Xapian::Query> Parse() {
    if (text_.size() > kMaxQueryBytes) {
      return Error(kMaxQueryBytes, "the query is too long (" + std::to_string(text_.size()) +
                                       " bytes; at most " + std::to_string(kMaxQueryBytes) + ")");
    }
    Status s = Tokenize();
    if (!s.ok()) return s;
    if (tokens_.size() == 1) {
      return Error(0, "empty query (use * to match every message)");
    }
    Xapian::Query q;
    s = ParseOr(&q);
    if (!s.ok()) return s;
    if (Peek().kind == TokenKind::kRParen) return Error(Peek().offset, "unmatched ')'");
    if (Peek().kind != TokenKind::kEnd) return Error(Peek().offset, "unexpected text");
    return q;
  }

 private:
  Status Error(size_t offset, const std::string& what) const {
    return Status::InvalidArgument("column " + std::to_string(Column(text_, offset)) + ": " + what);
  }

  // ---- tokenizer ----

  Status Tokenize() {
    size_t i = 0;
    while (true) {
      while (i < text_.size() && IsSpace(text_[i])) ++i;
      if (i >= text_.size()) break;
      char c = text_[i];
      Token t;
      t.offset = i;
      if (c == '(') {
        t.kind = TokenKind::kLParen;
        ++i;
      } else if (c == ')') {
        t.kind = TokenKind::kRParen;
        ++i;
      } else if (c == '"') {
        size_t end = text_.find('"', i + 1);
        if (end == std::string_view::npos) return Error(i, "unterminated quote");
        t.kind = TokenKind::kPhrase;
        t.text = std::string(text_.substr(i + 1, end - i - 1));
        i = end + 1;
      } else if (c == '-' && (i + 1 >= text_.size() || !IsWordChar(text_[i + 1]) ||
                              text_[i + 1] == '-')) {
        if (i + 1 < text_.size() && (text_[i + 1] == '(' || text_[i + 1] == '"')) {
          t.kind = TokenKind::kMinus;
          ++i;
        } else {
          return Error(i, "'-' must be directly followed by the term to exclude");
        }
      } else if (c == '-') {
        t.kind = TokenKind::kMinus;
        ++i;
      } else {
        size_t start = i;
        while (i < text_.size() && IsWordChar(text_[i])) ++i;
        std::string_view word = text_.substr(start, i - start);
        size_t name_end = 0;
        while (name_end < word.size() && IsAsciiLetter(word[name_end])) ++name_end;
        if (name_end > 0 && name_end < word.size() && word[name_end] == ':') {
          t.kind = TokenKind::kField;
          t.field = AsciiLower(word.substr(0, name_end));
          if (!IsKnownField(t.field)) {
            return Error(start, "unknown field '" + std::string(word.substr(0, name_end)) +
                                    "' (known: " + kKnownFields +
                                    "; put text in quotes to search for it literally)");
          }
          t.value_offset = start + name_end + 1;
          t.text = std::string(word.substr(name_end + 1));
          if (t.text.empty()) {
            if (i < text_.size() && text_[i] == '"') {
              size_t end = text_.find('"', i + 1);
              if (end == std::string_view::npos) return Error(i, "unterminated quote");
              t.text = std::string(text_.substr(i + 1, end - i - 1));
              t.value_quoted = true;
              t.value_offset = i;
              i = end + 1;
            } else {
              return Error(start, "expected a value after '" + t.field + ":'");
            }
          }
        } else if (word == "AND") {
          t.kind = TokenKind::kAnd;
        } else if (word == "OR") {
          t.kind = TokenKind::kOr;
        } else if (word == "NOT") {
          t.kind = TokenKind::kNot;
        } else {
          t.kind = TokenKind::kWord;
          t.text = std::string(word);
        }
      }
      tokens_.push_back(std::move(t));
    }
    Token end;
    end.offset = text_.size();
    tokens_.push_back(end);
    return Status::Ok();
  }

  // ---- parser ----

  const Token& Peek() const { return tokens_[pos_]; }
  const Token& Next() { return tokens_[pos_++]; }

  static bool StartsPrimary(TokenKind k) {
    return k == TokenKind::kWord || k == TokenKind::kPhrase || k == TokenKind::kField ||
           k == TokenKind::kLParen || k == TokenKind::kMinus || k == TokenKind::kNot;
  }

  Status ParseOr(Xapian::Query* out) {
    std::vector<Xapian::Query> parts(1);
    MV_RETURN_IF_ERROR(ParseAnd(&parts[0]));
    while (Peek().kind == TokenKind::kOr) {
      const Token& op = Next();
      if (!StartsPrimary(Peek().kind)) return Error(op.offset, "expected a term after OR");
      parts.emplace_back();
      MV_RETURN_IF_ERROR(ParseAnd(&parts.back()));
    }
    *out = parts.size() == 1 ? parts[0]
                             : Xapian::Query(Xapian::Query::OP_OR, parts.begin(), parts.end());
    return Status::Ok();
  }

  Status ParseAnd(Xapian::Query* out) {
    std::vector<Xapian::Query> positive, negative;
    if (!StartsPrimary(Peek().kind)) return ExpectedTerm();
    while (true) {
      bool negated = false;
      Xapian::Query q;
      MV_RETURN_IF_ERROR(ParseUnary(&q, &negated));
      (negated ? negative : positive).push_back(std::move(q));
      if (Peek().kind == TokenKind::kAnd) {
        const Token& op = Next();
        if (!StartsPrimary(Peek().kind)) return Error(op.offset, "expected a term after AND");
        continue;
      }
      if (!StartsPrimary(Peek().kind)) break;
    }
    Xapian::Query pos = positive.empty() ? Xapian::Query::MatchAll
                        : positive.size() == 1
                            ? positive[0]
                            : Xapian::Query(Xapian::Query::OP_AND, positive.begin(), positive.end());
    if (negative.empty()) {
      *out = pos;
    } else {
      Xapian::Query neg = negative.size() == 1 ? negative[0]
                                               : Xapian::Query(Xapian::Query::OP_OR,
                                                               negative.begin(), negative.end());
      *out = Xapian::Query(Xapian::Query::OP_AND_NOT, pos, neg);
    }
    return Status::Ok();
  }

  Status ExpectedTerm() const {
    const Token& t = Peek();
    switch (t.kind) {
      case TokenKind::kEnd:
        return Error(t.offset, "expected a term at the end of the query");
      case TokenKind::kRParen:
        return Error(t.offset, "expected a term before ')'");
      case TokenKind::kAnd:
        return Error(t.offset, "AND needs a term before it");
      case TokenKind::kOr:
        return Error(t.offset, "OR needs a term before it");
      default:
        return Error(t.offset, "expected a term");
    }
  }

  // Sets *negated for "NOT x" / "-x" (an odd number of negations).
  Status ParseUnary(Xapian::Query* out, bool* negated) {
    *negated = false;
    while (Peek().kind == TokenKind::kNot || Peek().kind == TokenKind::kMinus) {
      const Token& op = Next();
      if (!StartsPrimary(Peek().kind)) {
        return Error(op.offset, std::string("expected a term after ") +
                                    (op.kind == TokenKind::kNot ? "NOT" : "'-'"));
      }
      *negated = !*negated;
    }
    return ParsePrimary(out);
  }

  Status ParsePrimary(Xapian::Query* out) {
    const Token& t = Next();
    if (t.kind == TokenKind::kWord || t.kind == TokenKind::kPhrase ||
        t.kind == TokenKind::kField) {
      if (++terms_ > kMaxQueryTerms) {
        return Error(t.offset,
                     "too many search terms (at most " + std::to_string(kMaxQueryTerms) + ")");
      }
    }
    switch (t.kind) {
      case TokenKind::kLParen: {
        if (Peek().kind == TokenKind::kRParen) return Error(t.offset, "empty parentheses");
        if (depth_ == kMaxQueryDepth) {
          return Error(t.offset, "parentheses nested too deeply (at most " +
                                     std::to_string(kMaxQueryDepth) + " levels)");
        }
        ++depth_;
        Status inner = ParseOr(out);
        --depth_;
        MV_RETURN_IF_ERROR(inner);
        if (Peek().kind != TokenKind::kRParen) {
          return Error(t.offset, "'(' is never closed");
        }
        Next();
        return Status::Ok();
      }
      case TokenKind::kWord:
        return TextLeaf(t.text, false, "", t.offset, out);
      case TokenKind::kPhrase:
        return TextLeaf(t.text, true, "", t.offset, out);
      case TokenKind::kField:
        return FieldLeaf(t, out);
      default:
        --pos_;
        return ExpectedTerm();
    }
  }

  // ---- leaves ----

  Status TextLeaf(const std::string& text, bool phrase, const std::string& prefix,
                  size_t offset, Xapian::Query* out) {
    if (!phrase && text == "*" && prefix.empty()) {
      *out = Xapian::Query::MatchAll;
      return Status::Ok();
    }
    if (!phrase) {
      size_t star = text.find('*');
      if (star != std::string::npos) {
        if (star + 1 != text.size()) {
          return Error(offset + star, "a wildcard '*' is allowed only at the end of a word");
        }
        if (star == 0) return Error(offset, "a wildcard needs at least one character before '*'");
        std::string stem = Xapian::Unicode::tolower(text.substr(0, star));
        *out = Xapian::Query(Xapian::Query::OP_WILDCARD, prefix + stem, kWildcardLimit,
                             Xapian::Query::WILDCARD_LIMIT_ERROR);
        return Status::Ok();
      }
    }
    try {
      unsigned flags = Xapian::QueryParser::FLAG_PHRASE | Xapian::QueryParser::FLAG_CJK_NGRAM;
      std::string input = phrase ? "\"" + text + "\"" : text;
      Xapian::Query q = qp_.parse_query(input, flags, prefix);
      if (q.empty()) {
        return Error(offset, "'" + text + "' contains no word to search for");
      }
      *out = q;
      return Status::Ok();
    } catch (const Xapian::Error& e) {
      return Error(offset, "cannot parse '" + text + "': " + e.get_msg());
    }
  }

  static Xapian::Query Filter(const Xapian::Query& q) {
    // Boolean filters must not change relevance ranking.
    return Xapian::Query(Xapian::Query::OP_SCALE_WEIGHT, q, 0.0);
  }

  // An exact value ending in '*' (after at least one character) is a prefix.
  static bool IsPrefixWildcard(const std::string& value) {
    return value.size() > 1 && value.back() == '*';
  }

  Xapian::Query BooleanLeaf(const char* prefix, const std::string& value) {
    if (IsPrefixWildcard(value)) {
      return Filter(Xapian::Query(Xapian::Query::OP_WILDCARD,
                                  std::string(prefix) + value.substr(0, value.size() - 1),
                                  kWildcardLimit, Xapian::Query::WILDCARD_LIMIT_ERROR));
    }
    return Filter(Xapian::Query(schema::BooleanTerm(prefix, value)));
  }

  Status FieldLeaf(const Token& t, Xapian::Query* out) {
    const std::string& f = t.field;
    const std::string& v = t.text;
    size_t at = t.value_offset;
    if (f == "from") return AddressLeaf(t, schema::kPrefixFrom, schema::kPrefixFromAddress, out);
    if (f == "to") return AddressLeaf(t, schema::kPrefixTo, schema::kPrefixToAddress, out);
    if (f == "cc") return AddressLeaf(t, schema::kPrefixCc, schema::kPrefixCcAddress, out);
    if (f == "bcc") return AddressLeaf(t, schema::kPrefixBcc, schema::kPrefixBccAddress, out);
    if (f == "subject") return TextLeaf(v, t.value_quoted, schema::kPrefixSubject, at, out);
    if (f == "filename") return TextLeaf(v, t.value_quoted, schema::kPrefixFilename, at, out);
    if (f == "account") {
      *out = BooleanLeaf(schema::kPrefixAccount, v);
      if (const LateAccountLinks* late = options_.late_accounts.get(); late && !late->empty()) {
        Xapian::Query gained =
            IsPrefixWildcard(v)
                ? late->DocumentsOfPrefix(std::string(schema::kPrefixAccount) +
                                          v.substr(0, v.size() - 1))
                : late->DocumentsOf(schema::BooleanTerm(schema::kPrefixAccount, v));
        *out = Filter(Xapian::Query(Xapian::Query::OP_OR, *out, gained));
      }
      return Status::Ok();
    }
    if (f == "type") {
      *out = BooleanLeaf(schema::kPrefixAttachmentType, AsciiLower(v));
      return Status::Ok();
    }
    if (f == "has") {
      std::string lv = AsciiLower(v);
      if (lv != "attachment" && lv != "attachments") {
        return Error(at, "has: knows only 'attachment', not '" + v + "'");
      }
      *out = Filter(Xapian::Query(std::string(schema::kPrefixHas) + schema::kHasAttachment));
      return Status::Ok();
    }
    if (f == "flag") {
      std::string lv = AsciiLower(v);
      for (const char* flag : {schema::kFlagProblem, schema::kFlagStructureFailed,
                               schema::kFlagBudgetExceeded, schema::kFlagTruncated,
                               schema::kFlagNoDate, schema::kFlagUnreadable}) {
        if (lv == flag) {
          *out = Filter(Xapian::Query(std::string(schema::kPrefixFlag) + flag));
          return Status::Ok();
        }
      }
      return Error(at, "unknown flag '" + v +
                           "' (known: problem, structure-failed, budget-exceeded, truncated, "
                           "no-date, unreadable)");
    }
    if (f == "id") return IdLeaf(v, at, out);
    if (f == "date") return DateLeaf(v, at, out);
    if (f == "size") return SizeLeaf(v, at, out);
    return Error(t.offset, "unknown field '" + f + "'");
  }

  // An address or a domain, unquoted, is its exact term (index_schema::
  // AddressTerms); anything else, a quoted value, and a bare dotted value that
  // is no sender's domain (QueryParseOptions::term_exists), the words of the
  // header.
  Status AddressLeaf(const Token& t, const char* text_prefix, const char* address_prefix,
                     Xapian::Query* out) {
    if (!t.value_quoted) {
      if (std::string term = schema::AddressQueryTerm(address_prefix, t.text); !term.empty()) {
        const bool bare_domain = t.text.find('@') == std::string::npos;
        if (!bare_domain || !options_.term_exists || options_.term_exists(term)) {
          *out = Filter(Xapian::Query(term));
          return Status::Ok();
        }
      }
    }
    return TextLeaf(t.text, t.value_quoted, text_prefix, t.value_offset, out);
  }

  Status IdLeaf(std::string v, size_t at, Xapian::Query* out) {
    if (v.size() >= 2 && v.front() == '<' && v.back() == '>') v = v.substr(1, v.size() - 2);
    if (v.empty()) return Error(at, "expected a message id after 'id:'");
    Xapian::Query header(schema::BooleanTerm(schema::kPrefixMessageId, v));
    std::string lower = AsciiLower(v);
    if (IsHex(lower) && lower.size() >= 12 && lower.size() <= 64) {
      Xapian::Query archive_id =
          lower.size() == 64
              ? Xapian::Query(std::string(schema::kPrefixId) + lower)
              : Xapian::Query(Xapian::Query::OP_WILDCARD, std::string(schema::kPrefixId) + lower,
                              kWildcardLimit, Xapian::Query::WILDCARD_LIMIT_ERROR);
      *out = Filter(Xapian::Query(Xapian::Query::OP_OR, archive_id, header));
    } else {
      *out = Filter(header);
    }
    return Status::Ok();
  }

  // ---- dates ----

  struct Period {
    int64_t start = 0;
    int64_t end = 0;  // inclusive
    bool relative = false;
  };

  static int64_t DaysFromCivil(int y, unsigned m, unsigned d) {
    using namespace std::chrono;
    return sys_days(year_month_day(year(y), month(m), day(d))).time_since_epoch().count();
  }

  std::optional<Period> ParseDatePoint(std::string_view s) const {
    using namespace std::chrono;
    constexpr int64_t kDay = 86400;
    if (s == "today" || s == "yesterday") {
      int64_t today = options_.now / kDay * kDay;
      if (options_.now < 0 && options_.now % kDay != 0) today -= kDay;
      if (s == "yesterday") today -= kDay;
      return Period{today, today + kDay - 1, false};
    }
    // Relative: N followed by a unit.
    if (s.size() >= 2 && std::isdigit(static_cast<unsigned char>(s[0]))) {
      char unit = s.back();
      std::string_view digits = s.substr(0, s.size() - 1);
      bool all_digits = digits.size() <= 6;
      for (char c : digits) all_digits = all_digits && c >= '0' && c <= '9';
      int64_t per = unit == 'h' ? 3600 : unit == 'd' ? kDay : unit == 'w' ? 7 * kDay
                   : unit == 'm' ? 30 * kDay : unit == 'y' ? 365 * kDay : 0;
      if (all_digits && per != 0) {
        int64_t point = options_.now - std::stoll(std::string(digits)) * per;
        return Period{point, point, true};
      }
    }
    // Absolute: YYYY, YYYY-MM, YYYY-MM-DD.
    auto num = [&](size_t pos, size_t len, int* value) {
      if (pos + len > s.size()) return false;
      int v = 0;
      for (size_t i = pos; i < pos + len; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
      }
      *value = v;
      return true;
    };
    int y = 0, m = 0, d = 0;
    if (!num(0, 4, &y) || y < 1) return std::nullopt;
    if (s.size() == 4) {
      return Period{DaysFromCivil(y, 1, 1) * kDay, DaysFromCivil(y + 1, 1, 1) * kDay - 1, false};
    }
    if (s.size() < 7 || s[4] != '-' || !num(5, 2, &m) || m < 1 || m > 12) return std::nullopt;
    if (s.size() == 7) {
      int64_t start = DaysFromCivil(y, static_cast<unsigned>(m), 1);
      int64_t next = m == 12 ? DaysFromCivil(y + 1, 1, 1)
                             : DaysFromCivil(y, static_cast<unsigned>(m + 1), 1);
      return Period{start * kDay, next * kDay - 1, false};
    }
    if (s.size() != 10 || s[7] != '-' || !num(8, 2, &d)) return std::nullopt;
    year_month_day ymd{year(y), month(static_cast<unsigned>(m)), day(static_cast<unsigned>(d))};
    if (!ymd.ok()) return std::nullopt;
    int64_t start = sys_days(ymd).time_since_epoch().count() * kDay;
    return Period{start, start + kDay - 1, false};
  }

  Status DateError(std::string_view bad, size_t at) const {
    return Error(at, "invalid date '" + std::string(bad) +
                         "' (expected YYYY, YYYY-MM, YYYY-MM-DD, today, yesterday, or a number "
                         "followed by h, d, w, m or y)");
  }

  Status DateLeaf(const std::string& v, size_t at, Xapian::Query* out) {
    size_t dots = v.find("..");
    std::optional<int64_t> lo, hi;
    if (dots == std::string::npos) {
      auto p = ParseDatePoint(v);
      if (!p) return DateError(v, at);
      lo = p->start;
      if (!p->relative) hi = p->end;
    } else {
      std::string_view a = std::string_view(v).substr(0, dots);
      std::string_view b = std::string_view(v).substr(dots + 2);
      if (a.empty() && b.empty()) return Error(at, "a date range needs at least one end");
      if (!a.empty()) {
        auto p = ParseDatePoint(a);
        if (!p) return DateError(a, at);
        lo = p->start;
      }
      if (!b.empty()) {
        auto p = ParseDatePoint(b);
        if (!p) return DateError(b, at + dots + 2);
        hi = p->end;
      }
    }
    if (lo && hi && *lo > *hi) return Error(at, "date range '" + v + "' ends before it starts");
    *out = WholeDays(lo, hi).value_or(ValueRange(schema::kSlotDate, lo, hi));
    return Status::Ok();
  }

  // A range of whole UTC days of no more than kMaxDayTerms days as its day
  // terms (index_schema::kPrefixDay), which match the same messages as the
  // value range: a term's messages are exactly those whose date is in its day.
  // Xapian reads a value range by checking the date of every candidate
  // message; the terms' posting lists hold just the messages of those days.
  static std::optional<Xapian::Query> WholeDays(std::optional<int64_t> lo,
                                                std::optional<int64_t> hi) {
    constexpr int64_t kDay = 86400, kMaxDayTerms = 92;
    if (!lo || !hi || *lo % kDay != 0 || (*hi + 1) % kDay != 0) return std::nullopt;
    const int64_t days = (*hi + 1 - *lo) / kDay;
    if (days < 1 || days > kMaxDayTerms) return std::nullopt;
    std::vector<Xapian::Query> terms;
    for (int64_t d = 0; d < days; ++d) terms.emplace_back(schema::DayTerm(*lo + d * kDay));
    // Weight 0, like the value range: a date filters, it does not rank.
    return Filter(Xapian::Query(Xapian::Query::OP_OR, terms.begin(), terms.end()));
  }

  static Xapian::Query ValueRange(unsigned slot, std::optional<int64_t> lo,
                                  std::optional<int64_t> hi) {
    auto ser = [](int64_t v) { return Xapian::sortable_serialise(static_cast<double>(v)); };
    if (lo && hi) return Xapian::Query(Xapian::Query::OP_VALUE_RANGE, slot, ser(*lo), ser(*hi));
    if (lo) return Xapian::Query(Xapian::Query::OP_VALUE_GE, slot, ser(*lo));
    return Xapian::Query(Xapian::Query::OP_VALUE_LE, slot, ser(*hi));
  }

  // ---- sizes ----

  static std::optional<int64_t> ParseSize(std::string_view s) {
    size_t i = 0;
    int64_t n = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (n > (int64_t{1} << 40)) return std::nullopt;
      n = n * 10 + (s[i] - '0');
      ++i;
    }
    if (i == 0) return std::nullopt;
    std::string unit = AsciiLower(s.substr(i));
    if (!unit.empty() && unit.back() == 'b') unit.pop_back();
    if (unit.empty()) return n;
    if (unit == "k") return n << 10;
    if (unit == "m") return n << 20;
    if (unit == "g") return n << 30;
    return std::nullopt;
  }

  Status SizeError(std::string_view bad, size_t at) const {
    return Error(at, "invalid size '" + std::string(bad) +
                         "' (expected a number of bytes with an optional unit k, M or G, "
                         "after >, >=, <, <= or around ..)");
  }

  Status SizeLeaf(const std::string& v, size_t at, Xapian::Query* out) {
    std::string_view s = v;
    std::optional<int64_t> lo, hi;
    auto parse = [&](std::string_view part, size_t part_at, int64_t* value) -> Status {
      auto n = ParseSize(part);
      if (!n) return SizeError(part, part_at);
      *value = *n;
      return Status::Ok();
    };
    int64_t n = 0;
    if (s.starts_with(">=")) {
      MV_RETURN_IF_ERROR(parse(s.substr(2), at + 2, &n));
      lo = n;
    } else if (s.starts_with(">")) {
      MV_RETURN_IF_ERROR(parse(s.substr(1), at + 1, &n));
      lo = n + 1;
    } else if (s.starts_with("<=")) {
      MV_RETURN_IF_ERROR(parse(s.substr(2), at + 2, &n));
      hi = n;
    } else if (s.starts_with("<")) {
      MV_RETURN_IF_ERROR(parse(s.substr(1), at + 1, &n));
      if (n == 0) return Error(at, "no message is smaller than 0 bytes");
      hi = n - 1;
    } else if (size_t dots = s.find(".."); dots != std::string_view::npos) {
      std::string_view a = s.substr(0, dots), b = s.substr(dots + 2);
      if (a.empty() && b.empty()) return Error(at, "a size range needs at least one end");
      if (!a.empty()) {
        MV_RETURN_IF_ERROR(parse(a, at, &n));
        lo = n;
      }
      if (!b.empty()) {
        MV_RETURN_IF_ERROR(parse(b, at + dots + 2, &n));
        hi = n;
      }
      if (lo && hi && *lo > *hi) return Error(at, "size range '" + v + "' ends before it starts");
    } else {
      MV_RETURN_IF_ERROR(parse(s, at, &n));
      lo = hi = n;
    }
    *out = ValueRange(schema::kSlotSize, lo, hi);
    return Status::Ok();
  }

  // Wildcards expand to at most this many terms; more is an error at search
  // time (Xapian::WildcardError), never a silently shortened result.
  static constexpr Xapian::termcount kWildcardLimit = kMaxWildcardTerms;

  std::string_view text_;
  const QueryParseOptions& options_;
  Xapian::QueryParser qp_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int depth_ = 0;     // parentheses open around the current position
  size_t terms_ = 0;  // leaves parsed so far
};

}  // namespace

Result<Xapian::Query> ParseQuery(std::string_view text, const QueryParseOptions& options) {
  try {
    Parser parser(text, options);
    return parser.Parse();
  } catch (const Xapian::Error& e) {
    return Status::InvalidArgument(std::string("query: ") + e.get_type() + ": " + e.get_msg());
  } catch (const std::exception& e) {
    return Status::Internal(std::string("query parser: ") + e.what());
  }
}

}  // namespace mailvault
