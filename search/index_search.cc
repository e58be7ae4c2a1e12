// IndexSearcher: Xapian::Enquire with our sort orders, MatchSpies for facets,
// MSet::snippet for highlights.
#include "search/index_search.h"

#include <xapian.h>

#include <algorithm>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/file.h"
#include "search/index_schema.h"
#include "search/query.h"

namespace mailvault {
namespace {

// `query` limited to SearchOptions::accounts when those are set.
Xapian::Query RestrictToAccounts(const Xapian::Query& query, const SearchOptions& options) {
  if (!options.accounts) return query;
  std::vector<Xapian::Query> terms;
  for (const std::string& a : *options.accounts) {
    terms.emplace_back(index_schema::BooleanTerm(index_schema::kPrefixAccount, a));
  }
  if (terms.empty()) return Xapian::Query::MatchNothing;
  return Xapian::Query(Xapian::Query::OP_FILTER, query,
                       Xapian::Query(Xapian::Query::OP_OR, terms.begin(), terms.end()));
}


namespace schema = index_schema;

Status SearchError(const Xapian::Error& e, std::string_view what) {
  std::string message = std::string(what) + ": " + e.get_type() + ": " + e.get_msg();
  std::string_view type = e.get_type();
  if (type == "DatabaseCorruptError" || type == "DatabaseVersionError") {
    return Status::Corruption(message + "; run `mailvault reindex`");
  }
  if (type == "DatabaseOpeningError") return Status::NotFound(message);
  if (type == "QueryParserError") return Status::InvalidArgument(message);
  if (type == "WildcardError") {
    // A wildcard matching more words than kMaxWildcardTerms (search/query.h).
    return Status::InvalidArgument("a wildcard matches more than " +
                                   std::to_string(kMaxWildcardTerms) +
                                   " different words in the index; make it longer (" +
                                   e.get_msg() + ")");
  }
  return Status::IoError(message);
}

// Counts the values of one slot over the matches, like Xapian's
// ValueCountMatchSpy, but reads them from the slot's value stream instead of
// through each document. The matcher visits documents in ascending docid
// order and a stream is read chunk by chunk in that order; Document::get_value
// instead finds the value's chunk in the B-tree again whenever the slot
// differs from the last one read, which the date sort and three facets did for
// every document (a third of a broad search's time on 100,000 messages). A
// document seen out of order is read the slow way, so counts are always exact.
class FacetSpy final : public Xapian::MatchSpy {
 public:
  FacetSpy(const Xapian::Database& db, Xapian::valueno slot)
      : slot_(slot), it_(db.valuestream_begin(slot)), end_(db.valuestream_end(slot)) {}

  void operator()(const Xapian::Document& doc, double) override {
    const Xapian::docid did = doc.get_docid();
    if (did < last_) {
      Count(doc.get_value(slot_));
      return;
    }
    last_ = did;
    if (it_ != end_ && it_.get_docid() < did) it_.skip_to(did);
    if (it_ != end_ && it_.get_docid() == did) Count(*it_);
  }

  // The n most frequent values, most frequent first (then by value).
  std::vector<FacetValue> Top(size_t n) const {
    std::vector<FacetValue> out = All();
    std::sort(out.begin(), out.end(), [](const FacetValue& a, const FacetValue& b) {
      return a.count != b.count ? a.count > b.count : a.value < b.value;
    });
    if (out.size() > n) out.resize(n);
    return out;
  }
  std::vector<FacetValue> All() const {
    std::vector<FacetValue> out;
    out.reserve(counts_.size());
    for (const auto& [value, count] : counts_) out.push_back({value, count});
    return out;
  }

 private:
  void Count(const std::string& value) {
    if (!value.empty()) ++counts_[value];
  }
  Xapian::valueno slot_;
  Xapian::ValueIterator it_, end_;
  Xapian::docid last_ = 0;
  std::unordered_map<std::string, uint64_t> counts_;
};

// Whether `query` has a term of the free text (unprefixed: Xapian prefixes
// are capitals; "Z" + lowercase is a stemmed free-text term), the only terms
// a snippet can highlight.
bool HasFreeTextTerms(const Xapian::Query& query) {
  auto capital = [](char c) { return c >= 'A' && c <= 'Z'; };
  for (auto it = query.get_unique_terms_begin(); it != query.get_unique_terms_end(); ++it) {
    const std::string& t = *it;
    if (t.empty()) continue;
    if (!capital(t[0])) return true;
    if (t[0] == 'Z' && t.size() > 1 && !capital(t[1])) return true;
  }
  return false;
}

// The start of `text` as a snippet with nothing to highlight: white space
// collapsed, HTML-escaped like MSet::snippet, cut at a UTF-8 boundary near
// `bytes` with `omit` after it. What MSet::snippet gives for such a query,
// without tokenising and stemming the whole text.
std::string LeadingSnippet(std::string_view text, size_t bytes, const std::string& omit) {
  std::string plain;
  bool space = false;
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
      space = !plain.empty();
      continue;
    }
    if (plain.size() + (space ? 1 : 0) >= bytes) {
      // Back to the start of a UTF-8 sequence, then to the last word break.
      while (!plain.empty() && (static_cast<unsigned char>(plain.back()) & 0xC0) == 0x80) {
        plain.pop_back();
      }
      if (!plain.empty() && static_cast<unsigned char>(plain.back()) >= 0xC0) plain.pop_back();
      if (size_t cut = plain.rfind(' '); cut != std::string::npos && cut > bytes / 2) {
        plain.resize(cut);
      }
      plain += omit;
      break;
    }
    if (space) plain += ' ';
    space = false;
    plain += c;
  }
  std::string out;
  out.reserve(plain.size() + 16);
  for (char c : plain) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      default: out += c;
    }
  }
  return out;
}

// The snippet text a per-recipient copy shares with the document `owner_id`
// (DocumentData::text_of). "" if that document is not there, which the indexer
// does not let happen (it is committed with or before the copy).
std::string SharedText(const Xapian::Database& db, const std::string& owner_id) {
  const std::string term = schema::kPrefixId + owner_id;
  auto owner = db.postlist_begin(term);
  if (owner == db.postlist_end(term)) return std::string();
  return schema::ParseDocumentData(db.get_document(*owner).get_data()).text;
}

}  // namespace

struct IndexSearcher::State {
  Xapian::Database db;
};

IndexSearcher::IndexSearcher(std::string index_dir)
    : index_dir_(std::move(index_dir)), state_(new State) {}
IndexSearcher::~IndexSearcher() = default;

Result<std::unique_ptr<IndexSearcher>> IndexSearcher::Open(const std::string& index_dir) {
  if (!IsDirectory(index_dir)) {
    return Status::NotFound("no search index at " + index_dir +
                            " (`mailvault search` creates it; `mailvault reindex` rebuilds it)");
  }
  std::unique_ptr<IndexSearcher> searcher(new IndexSearcher(index_dir));
  try {
    searcher->state_->db = Xapian::Database(index_dir);
    const Xapian::Database& db = searcher->state_->db;
    MV_RETURN_IF_ERROR(schema::CheckSchemaVersion(db.get_metadata(schema::kMetadataSchemaVersion),
                                                  db.get_doccount(), index_dir));
  } catch (const Xapian::Error& e) {
    return SearchError(e, "open search index " + index_dir);
  }
  return searcher;
}

Status IndexSearcher::Refresh() {
  try {
    state_->db.reopen();
    return Status::Ok();
  } catch (const Xapian::Error& e) {
    return SearchError(e, "reopen search index " + index_dir_);
  }
}

Result<uint64_t> IndexSearcher::DocumentCount() {
  try {
    return static_cast<uint64_t>(state_->db.get_doccount());
  } catch (const Xapian::Error& e) {
    return SearchError(e, "search index " + index_dir_);
  }
}

Result<SearchResults> IndexSearcher::Search(std::string_view query_text,
                                            const SearchOptions& options) {
  QueryParseOptions parse;
  parse.now = options.now;
  parse.stem_language = options.stem_language;
  MV_ASSIGN_OR_RETURN(Xapian::Query parsed, ParseQuery(query_text, parse));
  const Xapian::Query query = RestrictToAccounts(parsed, options);
  // A database changed by a writer mid-search throws DatabaseModifiedError;
  // reopening and retrying once is the documented remedy.
  for (int attempt = 0;; ++attempt) {
    try {
      Xapian::Enquire enquire(state_->db);
      enquire.set_query(query);
      if (options.sort == SearchSort::kDate) {
        enquire.set_sort_by_value_then_relevance(schema::kSlotDate, /*reverse=*/true);
      } else {
        enquire.set_sort_by_relevance_then_value(schema::kSlotDate, /*reverse=*/true);
      }
      enquire.set_docid_order(Xapian::Enquire::DESCENDING);
      FacetSpy accounts(state_->db, schema::kSlotAccount);
      FacetSpy domains(state_->db, schema::kSlotSenderDomain);
      FacetSpy years(state_->db, schema::kSlotYear);
      if (options.facets) {
        enquire.add_matchspy(&accounts);
        enquire.add_matchspy(&domains);
        enquire.add_matchspy(&years);
      }
      // check_at_least makes Xapian look at (up to) that many matches, which
      // makes the total and the spies' counts exact for result sets that size.
      Xapian::doccount check = static_cast<Xapian::doccount>(
          std::max<uint64_t>(options.exact_up_to, options.offset + options.limit));
      Xapian::MSet mset = enquire.get_mset(static_cast<Xapian::doccount>(options.offset),
                                           static_cast<Xapian::doccount>(options.limit), check);
      SearchResults results;
      results.total_exact = mset.get_matches_lower_bound() == mset.get_matches_upper_bound();
      results.total = mset.get_matches_estimated();
      Xapian::Stem stem(options.stem_language);
      const bool highlight = HasFreeTextTerms(query);
      for (auto it = mset.begin(); it != mset.end(); ++it) {
        schema::DocumentData data = schema::ParseDocumentData(it.get_document().get_data());
        if (!data.text_of.empty()) data.text = SharedText(state_->db, data.text_of);
        SearchHit hit;
        hit.id = data.id;
        hit.date = data.date;
        hit.from = data.from;
        hit.subject = data.subject;
        hit.relevance = it.get_weight();
        // No SNIPPET_BACKGROUND_MODEL (it looks up the frequency of every word
        // of the text in the index: ~0.8 ms per hit, most of a search's time on
        // 100,000 messages) and no SNIPPET_EXHAUSTIVE: the fragment with the
        // most query terms wins, which is what a reader scans for.
        hit.snippet = highlight ? mset.snippet(data.text, options.snippet_bytes, stem,
                                               Xapian::MSet::SNIPPET_CJK_NGRAM,
                                               options.highlight_start, options.highlight_end,
                                               "...")
                                : LeadingSnippet(data.text, options.snippet_bytes, "...");
        results.hits.push_back(std::move(hit));
      }
      if (options.facets) {
        results.facets.account = accounts.Top(options.facet_values);
        results.facets.sender_domain = domains.Top(options.facet_values);
        results.facets.year = years.All();
        std::sort(results.facets.year.begin(), results.facets.year.end(),
                  [](const FacetValue& a, const FacetValue& b) { return a.value > b.value; });
      }
      return results;
    } catch (const Xapian::DatabaseModifiedError& e) {
      if (attempt > 0) return SearchError(e, "search " + index_dir_);
      MV_RETURN_IF_ERROR(Refresh());
    } catch (const Xapian::Error& e) {
      return SearchError(e, "search " + index_dir_);
    }
  }
}

Result<std::vector<std::string>> IndexSearcher::MatchingIds(std::string_view query_text,
                                                            const SearchOptions& options) {
  QueryParseOptions parse;
  parse.now = options.now;
  parse.stem_language = options.stem_language;
  MV_ASSIGN_OR_RETURN(Xapian::Query parsed, ParseQuery(query_text, parse));
  const Xapian::Query query = RestrictToAccounts(parsed, options);
  try {
    Xapian::Enquire enquire(state_->db);
    enquire.set_query(query);
    enquire.set_weighting_scheme(Xapian::BoolWeight());
    Xapian::MSet mset = enquire.get_mset(0, state_->db.get_doccount());
    std::vector<std::string> ids;
    for (auto it = mset.begin(); it != mset.end(); ++it) {
      ids.push_back(schema::ParseDocumentData(it.get_document().get_data()).id);
    }
    return ids;
  } catch (const Xapian::Error& e) {
    return SearchError(e, "search " + index_dir_);
  }
}

}  // namespace mailvault
