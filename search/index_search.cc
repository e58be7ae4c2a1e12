// IndexSearcher: Xapian::Enquire with our sort orders, MatchSpies for facets,
// MSet::snippet for highlights.
#include "search/index_search.h"

#include <xapian.h>

#include <algorithm>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/file.h"
#include "search/charset.h"
#include "search/index_schema.h"
#include "search/late_account_links.h"
#include "search/query.h"

namespace mailvault {
namespace {

// `query` limited to SearchOptions::accounts when those are set: messages
// indexed with one of them, or that gained one later (`late`).
Xapian::Query RestrictToAccounts(const Xapian::Query& query, const SearchOptions& options,
                                 const LateAccountLinks& late) {
  if (!options.accounts) return query;
  std::vector<Xapian::Query> terms;
  for (const std::string& a : *options.accounts) {
    const std::string term = index_schema::BooleanTerm(index_schema::kPrefixAccount, a);
    terms.emplace_back(term);
    if (!late.empty()) terms.push_back(late.DocumentsOf(term));
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

// The values of one slot by docid, read from the slot's value stream: chunk
// by chunk when asked in ascending docid order, the order in which the matcher
// visits documents. Document::get_value instead finds the value's chunk in the
// B-tree again whenever the slot differs from the last one read, which the
// date sort and three facets did for every document (a third of a broad
// search's time on 100,000 messages). A docid asked out of order is read
// through its document, so every answer is exact.
class SlotValues {
 public:
  SlotValues(const Xapian::Database& db, Xapian::valueno slot)
      : db_(db), slot_(slot), it_(db.valuestream_begin(slot)), end_(db.valuestream_end(slot)) {}

  // The value of document `did` ("" when it has none).
  std::string Of(Xapian::docid did) {
    if (did < last_) return db_.get_document(did, Xapian::DOC_ASSUME_VALID).get_value(slot_);
    last_ = did;
    if (it_ != end_ && it_.get_docid() < did) it_.skip_to(did);
    return it_ != end_ && it_.get_docid() == did ? *it_ : std::string();
  }

 private:
  Xapian::Database db_;
  Xapian::valueno slot_;
  Xapian::ValueIterator it_, end_;
  Xapian::docid last_ = 0;
};

// Counts the values of one slot over the matches, like Xapian's
// ValueCountMatchSpy, but through SlotValues. A value of the accounts slot
// holds every account, a line each (index_schema::kSlotAccount), each
// counted. Per extra list, its value counts for each match in the list (the
// accounts documents gained after indexing, LateAccountLinks).
class FacetSpy final : public Xapian::MatchSpy {
 public:
  using ExtraLists =
      std::vector<std::pair<std::string, std::shared_ptr<const std::vector<Xapian::docid>>>>;
  FacetSpy(const Xapian::Database& db, Xapian::valueno slot, ExtraLists extra = {})
      : values_(db, slot), lines_(slot == schema::kSlotAccount), extra_(std::move(extra)) {}

  void operator()(const Xapian::Document& doc, double) override { Add(doc.get_docid()); }

  // Counts the value of document `did` (fastest in ascending docid order).
  void Add(Xapian::docid did) {
    const std::string value = values_.Of(did);
    if (!lines_ || value.find('\n') == std::string::npos) {
      if (!value.empty()) ++counts_[value];
    } else {
      for (size_t start = 0; start < value.size();) {
        const size_t end = std::min(value.find('\n', start), value.size());
        if (end > start) ++counts_[value.substr(start, end - start)];
        start = end + 1;
      }
    }
    for (const auto& [extra_value, docs] : extra_) {
      if (std::binary_search(docs->begin(), docs->end(), did)) ++counts_[extra_value];
    }
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
  SlotValues values_;
  bool lines_;  // a value may hold several, a line each
  ExtraLists extra_;
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

// The words of `query` a snippet can highlight, as they may appear in text:
// free-text terms and stems (without Xapian's "Z"), lowercase.
std::vector<std::string> HighlightWords(const Xapian::Query& query) {
  std::vector<std::string> words;
  for (auto it = query.get_unique_terms_begin(); it != query.get_unique_terms_end(); ++it) {
    std::string t = *it;
    if (!t.empty() && t[0] == 'Z') t.erase(0, 1);
    if (t.empty() || (t[0] >= 'A' && t[0] <= 'Z')) continue;  // a prefixed field
    words.push_back(std::move(t));
  }
  return words;
}

// Where in `text` a snippet should come from: a few snippet lengths from just
// before the first place a highlight word appears (ASCII case folded). Xapian
// tokenises, stems and scores every word of the text it is given, ~0.1 ms per
// hit for the 4 KiB kept per message, most of a broad search's page; this
// window is a fifth of that. {0, text.size()} when no word is found as is
// (a stem that is not a prefix of the word, other scripts' case): the whole
// text, as before.
std::pair<size_t, size_t> SnippetWindow(std::string_view text, const std::vector<std::string>& words,
                                        size_t snippet_bytes) {
  const size_t whole_end = text.size();
  const size_t window = 4 * snippet_bytes;
  if (text.size() <= window) return {0, whole_end};
  std::string folded(text);
  for (char& c : folded) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  size_t first = std::string::npos;
  for (const std::string& w : words) first = std::min(first, folded.find(w));
  if (first == std::string::npos) return {0, whole_end};
  size_t begin = first > snippet_bytes ? first - snippet_bytes : 0;
  size_t end = std::min(text.size(), begin + window);
  // Whole characters only.
  return {Utf8PrefixLength(text, begin), Utf8PrefixLength(text, end)};
}

// The start of `text` as a snippet with nothing to highlight: white space
// collapsed, HTML-escaped like MSet::snippet, cut at a UTF-8 boundary near
// `bytes` with `omit` after it. What MSet::snippet gives for such a query,
// without tokenising and stemming the whole text.
std::string LeadingSnippet(std::string_view text, size_t bytes, const std::string& omit) {
  // White space collapsed, up to one byte past `bytes`: enough to know
  // whether the text goes on.
  std::string plain;
  bool space = false;
  for (size_t i = 0; i < text.size() && plain.size() <= bytes; ++i) {
    const char c = text[i];
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
      space = !plain.empty();
      continue;
    }
    if (space) plain += ' ';
    space = false;
    plain += c;
  }
  if (plain.size() > bytes) {
    // Without a character cut in half, then back to the last word break.
    plain.resize(Utf8PrefixLength(plain, bytes));
    while (!plain.empty() && plain.back() == ' ') plain.pop_back();
    if (size_t cut = plain.rfind(' '); cut != std::string::npos && cut > bytes / 2) {
      plain.resize(cut);
    }
    plain += omit;
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

// The kPrefixDay terms with how many messages each day holds, newest first.
using DayCounts = std::vector<std::pair<std::string, Xapian::doccount>>;

DayCounts ReadDays(const Xapian::Database& db) {
  DayCounts days;
  for (auto t = db.allterms_begin(schema::kPrefixDay); t != db.allterms_end(schema::kPrefixDay);
       ++t) {
    days.emplace_back(*t, t.get_termfreq());
  }
  std::reverse(days.begin(), days.end());
  return days;
}

// Date order is newest first, then the later archived (the higher docid);
// relevance order is best first, then newest, then the later archived. A date
// sort computes no weights (hits have relevance 0).
void ConfigureSort(Xapian::Enquire* enquire, SearchSort sort) {
  if (sort == SearchSort::kDate) {
    enquire->set_weighting_scheme(Xapian::BoolWeight());
    enquire->set_sort_by_value(schema::kSlotDate, /*reverse=*/true);
  } else {
    enquire->set_sort_by_relevance_then_value(schema::kSlotDate, /*reverse=*/true);
  }
  enquire->set_docid_order(Xapian::Enquire::DESCENDING);
}

// Docids `offset` .. `offset + limit` of `matches` in date order (as
// ConfigureSort's), reading the dates as one value stream in docid order.
std::vector<Xapian::docid> NewestFirst(const Xapian::Database& db, const Xapian::MSet& matches,
                                       Xapian::doccount offset, Xapian::doccount limit) {
  std::vector<std::pair<std::string, Xapian::docid>> dated;
  dated.reserve(matches.size());
  for (auto it = matches.begin(); it != matches.end(); ++it) dated.emplace_back("", *it);
  std::sort(dated.begin(), dated.end(),
            [](const auto& a, const auto& b) { return a.second < b.second; });
  SlotValues dates(db, schema::kSlotDate);
  for (auto& [date, did] : dated) date = dates.Of(did);
  std::vector<Xapian::docid> out;
  if (offset >= dated.size()) return out;
  const size_t end_index = std::min<size_t>(dated.size(), size_t{offset} + limit);
  std::partial_sort(dated.begin(), dated.begin() + static_cast<std::ptrdiff_t>(end_index),
                    dated.end(), [](const auto& a, const auto& b) {
                      return a.first != b.first ? a.first > b.first : a.second > b.second;
                    });
  for (size_t i = offset; i < end_index; ++i) out.push_back(dated[i].second);
  return out;
}

// One page of a date-sorted search matching about `estimated` messages, read
// from the newest days only. Xapian cannot stop a value sort early: it reads
// every match. Filtered to a window of the newest days, it reads only the
// matches of those days, and since every message outside the window is older
// than every message in it (day terms are whole UTC days of the date), the
// window's first `offset + limit` matches are the whole search's. The window
// starts at the days expected to hold twice the page's matches, if they are
// spread like the messages, and grows fourfold until it holds the page.
Xapian::MSet DatePageFromNewestDays(const Xapian::Database& db, const DayCounts& days,
                                    const Xapian::Query& query, Xapian::doccount estimated,
                                    Xapian::doccount offset, Xapian::doccount limit) {
  const double need = static_cast<double>(offset) + limit;
  const double share = static_cast<double>(std::max<Xapian::doccount>(estimated, 1)) /
                       std::max<Xapian::doccount>(db.get_doccount(), 1);
  double window_messages = std::max(2 * need / share, 2 * need);
  for (;;) {
    std::vector<Xapian::Query> window;
    double in_window = 0;
    size_t i = 0;
    for (; i < days.size() && in_window < window_messages; ++i) {
      window.emplace_back(days[i].first);
      in_window += days[i].second;
    }
    Xapian::Enquire enquire(db);
    ConfigureSort(&enquire, SearchSort::kDate);
    if (i == days.size()) {
      enquire.set_query(query);
      return enquire.get_mset(offset, limit);
    }
    enquire.set_query(Xapian::Query(Xapian::Query::OP_FILTER, query,
                                    Xapian::Query(Xapian::Query::OP_OR, window.begin(),
                                                  window.end())));
    Xapian::MSet page = enquire.get_mset(offset, limit);
    if (page.get_matches_lower_bound() >= need) return page;
    window_messages *= 4;
  }
}

// The three facets' spies of one pass.
class FacetSpies {
 public:
  FacetSpies(const Xapian::Database& db, const LateAccountLinks& late)
      : accounts_(db, schema::kSlotAccount, late.ByAccountName()),
        domains_(db, schema::kSlotSenderDomain),
        years_(db, schema::kSlotYear) {}
  void AddTo(Xapian::Enquire* enquire) {
    enquire->add_matchspy(&accounts_);
    enquire->add_matchspy(&domains_);
    enquire->add_matchspy(&years_);
  }
  // Counts the documents of `matches` without a match pass.
  void Add(const Xapian::MSet& matches) {
    std::vector<Xapian::docid> docids(matches.begin(), matches.end());
    std::sort(docids.begin(), docids.end());
    for (FacetSpy* spy : {&accounts_, &domains_, &years_}) {
      for (Xapian::docid did : docids) spy->Add(did);
    }
  }
  SearchFacets Facets(size_t values) const {
    SearchFacets facets;
    facets.account = accounts_.Top(values);
    facets.sender_domain = domains_.Top(values);
    facets.year = years_.All();
    std::sort(facets.year.begin(), facets.year.end(),
              [](const FacetValue& a, const FacetValue& b) { return a.value > b.value; });
    return facets;
  }

 private:
  FacetSpy accounts_, domains_, years_;
};

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
  std::shared_ptr<SearchCountCache> counts;  // may be null
  // What the snapshot `revision` holds besides the documents.
  std::optional<Xapian::rev> revision;
  DayCounts days;
  std::shared_ptr<const LateAccountLinks> late;

  // Brings `days` and `late` up to the open snapshot. Throws Xapian::Error.
  void Sync() {
    const Xapian::rev now = db.get_revision();
    if (revision && *revision == now) return;
    days = ReadDays(db);
    late = std::make_shared<const LateAccountLinks>(LateAccountLinks::Load(db));
    revision = now;
  }

  // `text` parsed and limited to `options.accounts`, against the snapshot.
  Result<Xapian::Query> Query(std::string_view text, const SearchOptions& options) {
    Sync();
    QueryParseOptions parse;
    parse.now = options.now;
    parse.stem_language = options.stem_language;
    parse.late_accounts = late;
    MV_ASSIGN_OR_RETURN(Xapian::Query parsed, ParseQuery(text, parse));
    return RestrictToAccounts(parsed, options, *late);
  }
};

std::optional<SearchCountCache::Counts> SearchCountCache::Get(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto found = by_key_.find(key);
  if (found == by_key_.end()) return std::nullopt;
  entries_.splice(entries_.begin(), entries_, found->second);
  return found->second->second;
}

void SearchCountCache::Put(const std::string& key, Counts counts) {
  std::lock_guard lock(mutex_);
  if (capacity_ == 0) return;
  if (auto found = by_key_.find(key); found != by_key_.end()) {
    found->second->second = std::move(counts);
    entries_.splice(entries_.begin(), entries_, found->second);
    return;
  }
  entries_.emplace_front(key, std::move(counts));
  by_key_[key] = entries_.begin();
  if (entries_.size() > capacity_) {
    by_key_.erase(entries_.back().first);
    entries_.pop_back();
  }
}

size_t SearchCountCache::size() {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

IndexSearcher::IndexSearcher(std::string index_dir)
    : index_dir_(std::move(index_dir)), state_(new State) {}
IndexSearcher::~IndexSearcher() = default;

Result<std::unique_ptr<IndexSearcher>> IndexSearcher::Open(
    const std::string& index_dir, std::shared_ptr<SearchCountCache> counts) {
  if (!IsDirectory(index_dir)) {
    return Status::NotFound("no search index at " + index_dir +
                            " (`mailvault search` creates it; `mailvault reindex` rebuilds it)");
  }
  std::unique_ptr<IndexSearcher> searcher(new IndexSearcher(index_dir));
  try {
    searcher->state_->db = Xapian::Database(index_dir);
    searcher->state_->counts = std::move(counts);
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
  // A database changed by a writer mid-search throws DatabaseModifiedError;
  // reopening and retrying once is the documented remedy.
  for (int attempt = 0;; ++attempt) {
    try {
      State& st = *state_;
      MV_ASSIGN_OR_RETURN(const Xapian::Query query, st.Query(query_text, options));
      const Xapian::rev revision = *st.revision;
      const auto offset = static_cast<Xapian::doccount>(options.offset);
      const auto limit = static_cast<Xapian::doccount>(options.limit);
      const Xapian::doccount exact_up_to = static_cast<Xapian::doccount>(
          std::max<uint64_t>(options.exact_up_to, options.offset + options.limit));
      SearchResults results;
      // The page's documents with their weights, and the MSet whose query
      // the snippets highlight.
      std::vector<std::pair<Xapian::docid, double>> page_docs;
      Xapian::MSet page;
      auto take_page = [&](const Xapian::MSet& mset) {
        for (auto it = mset.begin(); it != mset.end(); ++it) {
          page_docs.emplace_back(*it, it.get_weight());
        }
        page = mset;
      };

      // Up to sort_whole_up_to matches in docid order, without weights: for a
      // result set that size, all of it.
      Xapian::Enquire probe(st.db);
      probe.set_query(query);
      probe.set_weighting_scheme(Xapian::BoolWeight());
      const auto whole_bound = static_cast<Xapian::doccount>(
          std::min<uint64_t>(options.sort_whole_up_to, st.db.get_doccount()));
      const Xapian::MSet probed = probe.get_mset(0, whole_bound + 1, whole_bound + 1);

      if (probed.get_matches_upper_bound() <= whole_bound) {
        // Few matches, all in `probed`: counted, and sorted here by date
        // rather than by a second run of the query (a phrase's positions are
        // the costly part and would be checked twice).
        results.total = probed.size();
        if (options.facets) {
          FacetSpies spies(st.db, *st.late);
          spies.Add(probed);
          results.facets = spies.Facets(options.facet_values);
        }
        if (options.sort == SearchSort::kDate) {
          for (Xapian::docid did : NewestFirst(st.db, probed, offset, limit)) {
            page_docs.emplace_back(did, 0.0);
          }
          page = probed;
        } else {
          Xapian::Enquire enquire(st.db);
          enquire.set_query(query);
          ConfigureSort(&enquire, options.sort);
          take_page(enquire.get_mset(offset, limit));
        }
      } else {
        // Many matches: the page without reading them all, the counts apart
        // (and from the shared cache when a searcher counted them before).
        if (options.sort == SearchSort::kDate) {
          take_page(DatePageFromNewestDays(st.db, st.days, query, probed.get_matches_estimated(),
                                           offset, limit));
        } else {
          Xapian::Enquire enquire(st.db);
          enquire.set_query(query);
          ConfigureSort(&enquire, options.sort);
          take_page(enquire.get_mset(offset, limit));
        }
        std::optional<SearchCountCache::Counts> counts;
        if (!options.facets &&
            probed.get_matches_lower_bound() == probed.get_matches_upper_bound()) {
          // Xapian knows the count without reading the matches (one term, `*`).
          counts.emplace();
          counts->total = probed.get_matches_estimated();
        }
        std::string key;  // built only when the shared cache is asked
        if (!counts && st.counts) {
          key = st.db.get_uuid() + "/" + std::to_string(revision) + "/" +
                std::to_string(exact_up_to) + "/" +
                (options.facets ? std::to_string(options.facet_values) : "-") + "/" +
                query.get_description();
          counts = st.counts->Get(key);
        }
        if (!counts) {
          Xapian::Enquire counter(st.db);
          counter.set_query(query);
          counter.set_weighting_scheme(Xapian::BoolWeight());
          std::optional<FacetSpies> spies;  // opens three value streams: only when asked
          if (options.facets) spies.emplace(st.db, *st.late).AddTo(&counter);
          const Xapian::MSet counted = counter.get_mset(0, 0, exact_up_to);
          counts.emplace();
          counts->total_exact =
              counted.get_matches_lower_bound() == counted.get_matches_upper_bound();
          counts->total = counted.get_matches_estimated();
          if (spies) counts->facets = spies->Facets(options.facet_values);
          if (st.counts) st.counts->Put(key, *counts);
        }
        results.total = counts->total;
        results.total_exact = counts->total_exact;
        results.facets = std::move(counts->facets);
      }

      Xapian::Stem stem(options.stem_language);
      const bool highlight = HasFreeTextTerms(query);
      const std::vector<std::string> words = highlight ? HighlightWords(query)
                                                       : std::vector<std::string>();
      for (const auto& [did, weight] : page_docs) {
        schema::DocumentData data = schema::ParseDocumentData(st.db.get_document(did).get_data());
        if (!data.text_of.empty()) data.text = SharedText(st.db, data.text_of);
        SearchHit hit;
        hit.id = data.id;
        hit.date = data.date;
        hit.from = data.from;
        hit.subject = data.subject;
        hit.relevance = weight;
        // No SNIPPET_BACKGROUND_MODEL (it looks up the frequency of every word
        // of the text in the index: ~0.8 ms per hit, most of a search's time on
        // 100,000 messages) and no SNIPPET_EXHAUSTIVE: the fragment with the
        // most query terms wins, which is what a reader scans for.
        if (highlight) {
          const auto [begin, end] = SnippetWindow(data.text, words, options.snippet_bytes);
          hit.snippet = page.snippet(data.text.substr(begin, end - begin),
                                     options.snippet_bytes, stem, Xapian::MSet::SNIPPET_CJK_NGRAM,
                                     options.highlight_start, options.highlight_end, "...");
          // Xapian marks what it left out of the text it was given; mark what
          // the window left out.
          if (begin > 0 && hit.snippet.rfind("...", 0) != 0) hit.snippet.insert(0, "...");
          if (end < data.text.size() && !hit.snippet.ends_with("...")) hit.snippet += "...";
        } else {
          hit.snippet = LeadingSnippet(data.text, options.snippet_bytes, "...");
        }
        results.hits.push_back(std::move(hit));
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
  try {
    MV_ASSIGN_OR_RETURN(const Xapian::Query query, state_->Query(query_text, options));
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
