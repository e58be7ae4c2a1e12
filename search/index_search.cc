// IndexSearcher: Xapian::Enquire with our sort orders, MatchSpies for facets,
// MSet::snippet for highlights.
#include "search/index_search.h"

#include <xapian.h>

#include <algorithm>

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

std::vector<FacetValue> Top(const Xapian::ValueCountMatchSpy& spy, size_t n) {
  std::vector<FacetValue> out;
  for (auto it = spy.top_values_begin(n); it != spy.top_values_end(n); ++it) {
    out.push_back({*it, static_cast<uint64_t>(it.get_termfreq())});
  }
  return out;
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
      Xapian::ValueCountMatchSpy accounts(schema::kSlotAccount);
      Xapian::ValueCountMatchSpy domains(schema::kSlotSenderDomain);
      Xapian::ValueCountMatchSpy years(schema::kSlotYear);
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
      for (auto it = mset.begin(); it != mset.end(); ++it) {
        schema::DocumentData data = schema::ParseDocumentData(it.get_document().get_data());
        SearchHit hit;
        hit.id = data.id;
        hit.date = data.date;
        hit.from = data.from;
        hit.subject = data.subject;
        hit.relevance = it.get_weight();
        hit.snippet = mset.snippet(data.text, options.snippet_bytes, stem,
                                   Xapian::MSet::SNIPPET_CJK_NGRAM,
                                   options.highlight_start, options.highlight_end, "...");
        results.hits.push_back(std::move(hit));
      }
      if (options.facets) {
        results.facets.account = Top(accounts, options.facet_values);
        results.facets.sender_domain = Top(domains, options.facet_values);
        for (auto it = years.values_begin(); it != years.values_end(); ++it) {
          results.facets.year.push_back({*it, static_cast<uint64_t>(it.get_termfreq())});
        }
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
