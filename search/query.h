// QueryParser: mailvault's query language -> a Xapian::Query over the schema in
// search/index_schema.h. The same language serves the CLI and the web UI.
//
// Grammar (operators are uppercase; anything else is a search term):
//
//   query    := or_expr
//   or_expr  := and_expr ("OR" and_expr)*
//   and_expr := unary (["AND"] unary)*          default operator: AND
//   unary    := "NOT" unary | "-" primary | primary
//   primary  := "(" or_expr ")" | FIELD ":" value | "\"" phrase "\"" | word
//   value    := word | "\"" phrase "\""
//
//   word         free text (subject, body, attachment names and text, addresses),
//                English-stemmed; CJK text as n-grams; "invoic*" is a wildcard
//                (trailing * only); a lone "*" matches every message
//   from: to: cc: bcc: subject: filename:   the same on one field
//   id:          archive id (hex, a prefix of at least 12 characters) or the
//                Message-ID header (with or without <>)
//   account:     POP3 account name, exact (trailing * allowed); also the
//                accounts a message gained after it was indexed
//                (QueryParseOptions::late_accounts)
//   type:        attachment content type, exact ("image/*" allowed)
//   has:attachment
//   flag:        problem | structure-failed | budget-exceeded | truncated |
//                no-date | unreadable (what the decoder flagged)
//   date:A..B, date:A.., date:..B, date:A
//                A, B: YYYY | YYYY-MM | YYYY-MM-DD (UTC; a bound covers its whole
//                period, so date:..2023 ends on 2023-12-31 23:59:59) | today |
//                yesterday | N followed by h, d, w, m (30 days) or y (365 days),
//                meaning that long before now. A single relative point means
//                "since then": date:30d == date:30d..
//   size:>N, size:>=N, size:<N, size:<=N, size:N..M, size:N (exact)
//                N: bytes with an optional unit k, M, G (1024-based), e.g. 1M
//
// Limits (each broken one is a kInvalidArgument saying which and where, so a
// hostile or runaway query cannot exhaust the stack, memory or the matcher):
// at most kMaxQueryBytes bytes, kMaxQueryDepth levels of nested parentheses,
// kMaxQueryTerms search terms (words, phrases and field values), and a wildcard
// may expand to at most kMaxWildcardTerms index terms: beyond that the search
// (IndexSearcher, where the index is known) fails with kInvalidArgument instead
// of silently dropping matches, which a compliance search must not do.
//
// Errors: a malformed query is kInvalidArgument whose message starts with
// "column N: " (1-based, counted in characters) and says what is wrong, e.g.
// "column 7: unknown field 'form' (known: from, to, ...)". An empty query is an
// error too (use "*" for every message).
//
// Thread-safety: ParseQuery is reentrant.
#pragma once

#include <xapian.h>

#include <functional>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace mailvault {

class LateAccountLinks;

inline constexpr size_t kMaxQueryBytes = 4096;
inline constexpr int kMaxQueryDepth = 32;
inline constexpr size_t kMaxQueryTerms = 256;
inline constexpr unsigned kMaxWildcardTerms = 2000;

struct QueryParseOptions {
  // "Now" for relative dates, in unix seconds. Callers pass Clock::NowUnixSeconds()
  // so tests can fix it. Default 0 (relative dates then count back from 1970).
  int64_t now = 0;
  // Stemming language; must match the indexer's (IndexerOptions::stem_language).
  std::string stem_language = "english";
  // The index's accounts gained after indexing: `account:` matches them too.
  // Null: the account terms only.
  std::shared_ptr<const LateAccountLinks> late_accounts;
  // Whether the index has a term. A bare dotted value (`from:corp.example`) is
  // the domain's exact term (index_schema::AddressQueryTerm) when some message
  // has an address in that domain, else the words of the header as before
  // (`from:john.smith` is a person, not a domain). Null: always the domain.
  std::function<bool(const std::string& term)> term_exists;
};

// Parses `text`. Throws only what `term_exists` throws.
Result<Xapian::Query> ParseQuery(std::string_view text, const QueryParseOptions& options);

}  // namespace mailvault
