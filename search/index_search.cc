// IndexSearcher: Xapian::Enquire with our sort orders; facets and date pages
// from the value columns (search/value_columns.h) through a MatchSpy;
// snippets by the Highlighter (search/highlighter.h), else MSet::snippet.
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
#include "search/document_cache.h"
#include "search/highlighter.h"
#include "search/index_schema.h"
#include "search/late_account_links.h"
#include "search/query.h"
#include "search/value_columns.h"

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

// Counts the three facets of the matches it is given, from the value columns.
// An accounts value holds every account the document was indexed with, a line
// each (index_schema::kSlotAccount): counted per whole value, split when the
// facets are made. Per late list (LateAccountLinks::ByAccountName), its
// account counts for each match in the list.
class FacetCounter {
 public:
  using LateLists = std::vector<
      std::pair<std::string, std::shared_ptr<const LateAccountLinks::DocidList>>>;
  FacetCounter(const ValueColumns& columns, LateLists late)
      : columns_(columns), late_(std::move(late)), late_counts_(late_.size(), 0) {
    for (int f = 0; f < ValueColumns::kFacets; ++f) {
      counts_[f].assign(columns.names(static_cast<ValueColumns::Facet>(f)).size() + 1, 0);
    }
  }

  void Add(Xapian::docid did) {
    for (int f = 0; f < ValueColumns::kFacets; ++f) {
      ++counts_[f][columns_.Id(static_cast<ValueColumns::Facet>(f), did)];
    }
    for (size_t i = 0; i < late_.size(); ++i) {
      const LateAccountLinks::DocidList& docs = *late_[i].second;
      if (std::binary_search(docs.begin(), docs.end(), did)) ++late_counts_[i];
    }
  }

  // The `values` most frequent accounts and sender domains (most frequent
  // first, then by value) and every year (newest first).
  SearchFacets Facets(size_t values) const {
    std::unordered_map<std::string, uint64_t> accounts;
    const std::vector<uint64_t>& account_counts = counts_[ValueColumns::kAccount];
    const std::vector<std::string>& account_names = columns_.names(ValueColumns::kAccount);
    for (size_t id = 1; id < account_counts.size(); ++id) {
      if (account_counts[id] == 0) continue;
      std::string_view value = account_names[id - 1];
      for (size_t start = 0; start < value.size();) {
        const size_t end = std::min(value.find('\n', start), value.size());
        if (end > start) accounts[std::string(value.substr(start, end - start))] += account_counts[id];
        start = end + 1;
      }
    }
    for (size_t i = 0; i < late_.size(); ++i) {
      if (late_counts_[i] > 0) accounts[late_[i].first] += late_counts_[i];
    }
    SearchFacets facets;
    facets.account = Top(Values(accounts), values);
    facets.sender_domain = Top(Values(ValueColumns::kSenderDomain), values);
    facets.year = Values(ValueColumns::kYear);
    std::sort(facets.year.begin(), facets.year.end(),
              [](const FacetValue& a, const FacetValue& b) { return a.value > b.value; });
    return facets;
  }

 private:
  std::vector<FacetValue> Values(ValueColumns::Facet facet) const {
    std::vector<FacetValue> out;
    const std::vector<uint64_t>& counts = counts_[facet];
    for (size_t id = 1; id < counts.size(); ++id) {
      if (counts[id] > 0) out.push_back({columns_.names(facet)[id - 1], counts[id]});
    }
    return out;
  }
  static std::vector<FacetValue> Values(const std::unordered_map<std::string, uint64_t>& counts) {
    std::vector<FacetValue> out;
    out.reserve(counts.size());
    for (const auto& [value, count] : counts) out.push_back({value, count});
    return out;
  }
  static std::vector<FacetValue> Top(std::vector<FacetValue> values, size_t n) {
    std::sort(values.begin(), values.end(), [](const FacetValue& a, const FacetValue& b) {
      return a.count != b.count ? a.count > b.count : a.value < b.value;
    });
    if (values.size() > n) values.resize(n);
    return values;
  }

  const ValueColumns& columns_;
  LateLists late_;
  std::vector<uint64_t> late_counts_;
  std::vector<uint64_t> counts_[ValueColumns::kFacets];  // by value id
};

// Matches `offset` .. `offset + limit` in date order (as ConfigureSort's:
// newest first, then the later archived, i.e. the higher docid) of the
// docids it is given in any order: the newest `offset + limit` kept in a heap.
class DatePage {
 public:
  DatePage(const ValueColumns& columns, Xapian::doccount offset, Xapian::doccount limit)
      : columns_(columns), offset_(offset), keep_(size_t{offset} + limit) {}

  // Matches come in docid order, which is about arrival order, so most are
  // newer than every one kept so far: a heap of the newest took two of its
  // updates for most of them (4 % of the web server's CPU). Here a match older
  // than the oldest of the newest `keep_` known is dropped at once, the rest
  // are appended, and the buffer is cut back to the newest `keep_` when it has
  // grown to about twice that: a constant amount of work a match.
  void Add(Xapian::docid did) {
    if (keep_ == 0) return;
    const Entry entry{columns_.Date(did), did};
    if (cut_ && !Newer(entry, oldest_kept_)) return;
    buffer_.push_back(entry);
    if (buffer_.size() >= 2 * keep_ + 64) Cut();
  }

  std::vector<Xapian::docid> Docids() const {
    std::vector<Entry> sorted = buffer_;
    std::sort(sorted.begin(), sorted.end(), Newer);
    std::vector<Xapian::docid> out;
    for (size_t i = offset_; i < std::min(sorted.size(), keep_); ++i) out.push_back(sorted[i].did);
    return out;
  }

 private:
  struct Entry {
    double date;
    Xapian::docid did;
  };
  // A strict total order: docids are unique.
  static bool Newer(const Entry& a, const Entry& b) {
    return a.date != b.date ? a.date > b.date : a.did > b.did;
  }
  void Cut() {
    std::nth_element(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(keep_ - 1),
                     buffer_.end(), Newer);
    buffer_.resize(keep_);
    oldest_kept_ = buffer_[keep_ - 1];
    cut_ = true;
  }
  const ValueColumns& columns_;
  size_t offset_, keep_;
  std::vector<Entry> buffer_;
  Entry oldest_kept_{};
  bool cut_ = false;
};

// Hands every match of a pass to a FacetCounter and a DatePage (either may
// be null), and counts them.
class ColumnSpy final : public Xapian::MatchSpy {
 public:
  ColumnSpy(FacetCounter* facets, DatePage* page) : facets_(facets), page_(page) {}
  void operator()(const Xapian::Document& doc, double) override {
    const Xapian::docid did = doc.get_docid();
    if (facets_ != nullptr) facets_->Add(did);
    if (page_ != nullptr) page_->Add(did);
    ++seen_;
  }
  Xapian::doccount seen() const { return seen_; }

 private:
  FacetCounter* facets_;
  DatePage* page_;
  Xapian::doccount seen_ = 0;
};

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

// One page of a date-sorted search matching about `estimated` messages, read
// from the newest days only; nullopt when it takes every day. Xapian cannot
// stop a value sort early: it reads every match. Filtered to a window of the
// newest days, it reads only the matches of those days, and since every
// message outside the window is older than every message in it (day terms are
// whole UTC days of the date), the window's first `offset + limit` matches are
// the whole search's. The window starts at the days expected to hold twice the
// page's matches, if they are spread like the messages, and grows fourfold
// until it holds the page. A window of every day would sort every match through
// Xapian's values: a pass of DatePage does that cheaper.
std::optional<Xapian::MSet> DatePageFromNewestDays(const Xapian::Database& db,
                                                   const DayCounts& days,
                                                   const Xapian::Query& query,
                                                   Xapian::doccount estimated,
                                                   Xapian::doccount offset,
                                                   Xapian::doccount limit) {
  const double need = static_cast<double>(offset) + limit;
  const double share = static_cast<double>(std::max<Xapian::doccount>(estimated, 1)) /
                       std::max<Xapian::doccount>(db.get_doccount(), 1);
  double window_messages = std::max(2 * need / share, 2 * need);
  for (;;) {
    std::vector<Xapian::Query> window;
    double in_window = 0;
    for (size_t i = 0; i < days.size() && in_window < window_messages; ++i) {
      window.emplace_back(days[i].first);
      in_window += days[i].second;
    }
    if (window.size() == days.size()) return std::nullopt;
    Xapian::Enquire enquire(db);
    ConfigureSort(&enquire, SearchSort::kDate);
    enquire.set_query(Xapian::Query(Xapian::Query::OP_FILTER, query,
                                    Xapian::Query(Xapian::Query::OP_OR, window.begin(),
                                                  window.end())));
    Xapian::MSet page = enquire.get_mset(offset, limit);
    if (page.get_matches_lower_bound() >= need) return page;
    window_messages *= 4;
  }
}

// The document whose snippet text a per-recipient copy shares
// (DocumentData::text_of = `owner_id`). 0 if that document is not there, which
// the indexer does not let happen (it is committed with or before the copy).
Xapian::docid TextOwner(const Xapian::Database& db, const std::string& owner_id) {
  const std::string term = schema::kPrefixId + owner_id;
  auto owner = db.postlist_begin(term);
  if (owner == db.postlist_end(term)) return 0;
  return *owner;
}

}  // namespace

struct IndexSearcher::State {
  Xapian::Database db;
  std::shared_ptr<SearchCountCache> counts;  // may be null
  std::shared_ptr<ValueColumnsCache> column_cache;
  std::shared_ptr<DocumentCache> documents;  // may be null
  // What the snapshot `revision` holds besides the documents.
  std::optional<Xapian::rev> revision;
  DayCounts days;
  std::shared_ptr<const LateAccountLinks> late;
  std::shared_ptr<const ValueColumns> columns;

  // Brings `days`, `late` and `columns` up to the open snapshot. Throws
  // Xapian::Error.
  void Sync() {
    const Xapian::rev now = db.get_revision();
    if (revision && *revision == now) return;
    days = ReadDays(db);
    late = std::make_shared<const LateAccountLinks>(LateAccountLinks::Load(db));
    columns = column_cache->For(db);
    revision = now;
  }

  // `text` parsed and limited to `options.accounts`, against the snapshot.
  Result<Xapian::Query> Query(std::string_view text, const SearchOptions& options) {
    Sync();
    QueryParseOptions parse;
    parse.now = options.now;
    parse.stem_language = options.stem_language;
    parse.late_accounts = late;
    parse.term_exists = [this](const std::string& term) { return db.term_exists(term); };
    MV_ASSIGN_OR_RETURN(Xapian::Query parsed, ParseQuery(text, parse));
    return RestrictToAccounts(parsed, options, *late);
  }
};

std::optional<SearchCountCache::Counts> SearchCountCache::Get(const std::string& key) {
  std::lock_guard lock(mutex_);
  const Counts* counts = entries_.Get(key);
  if (counts == nullptr) return std::nullopt;
  return *counts;
}

void SearchCountCache::Put(const std::string& key, Counts counts) {
  std::lock_guard lock(mutex_);
  entries_.Put(key, std::move(counts));
}

size_t SearchCountCache::size() {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

IndexSearcher::IndexSearcher(std::string index_dir)
    : index_dir_(std::move(index_dir)), state_(new State) {}
IndexSearcher::~IndexSearcher() = default;

Result<std::unique_ptr<IndexSearcher>> IndexSearcher::Open(
    const std::string& index_dir, std::shared_ptr<SearchCountCache> counts,
    std::shared_ptr<ValueColumnsCache> columns, std::shared_ptr<DocumentCache> documents) {
  if (!IsDirectory(index_dir)) {
    return Status::NotFound("no search index at " + index_dir +
                            " (`mailvault search` creates it; `mailvault reindex` rebuilds it)");
  }
  std::unique_ptr<IndexSearcher> searcher(new IndexSearcher(index_dir));
  try {
    searcher->state_->db = Xapian::Database(index_dir);
    searcher->state_->counts = std::move(counts);
    searcher->state_->documents = std::move(documents);
    searcher->state_->column_cache =
        columns != nullptr ? std::move(columns) : std::make_shared<ValueColumnsCache>();
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
      // The MSet whose query the snippets that Xapian makes highlight (see
      // snippet_mset below).
      std::optional<Xapian::MSet> page;
      auto take_page = [&](const Xapian::MSet& mset) {
        for (auto it = mset.begin(); it != mset.end(); ++it) {
          page_docs.emplace_back(*it, it.get_weight());
        }
        page = mset;
      };

      // Up to sort_whole_up_to matches in docid order, without weights: for a
      // result set that size, all of it, unless the shared cache has them.
      Xapian::Enquire probe(st.db);
      probe.set_query(query);
      probe.set_weighting_scheme(Xapian::BoolWeight());
      const auto whole_bound = static_cast<Xapian::doccount>(
          std::min<uint64_t>(options.sort_whole_up_to, st.db.get_doccount()));
      std::vector<Xapian::docid> few;  // every match, when few_known
      bool few_known = false;
      // Keys of the shared caches: this index, this revision, then the search.
      const std::string uuid = st.counts || st.documents ? st.db.get_uuid() : std::string();
      const std::string key_base = uuid + "/" + std::to_string(revision) + "/";
      std::string few_key;
      if (st.counts) {
        few_key = key_base + "matches/" + std::to_string(whole_bound) + "/" +
                  query.get_description();
        if (std::optional<SearchCountCache::Counts> known = st.counts->Get(few_key);
            known && known->matches) {
          few.assign(known->matches->begin(), known->matches->end());
          few_known = true;
        }
      }
      std::optional<Xapian::MSet> probed;  // run unless the matches were cached
      if (!few_known) {
        probed = probe.get_mset(0, whole_bound + 1, whole_bound + 1);
        if (probed->get_matches_upper_bound() <= whole_bound) {
          for (Xapian::docid did : *probed) few.push_back(did);
          few_known = true;
          if (st.counts) {
            SearchCountCache::Counts known;
            known.total = few.size();
            known.matches.emplace(few.begin(), few.end());
            st.counts->Put(few_key, std::move(known));
          }
        }
      }
      const ValueColumns& columns = *st.columns;
      auto take_dated = [&](const DatePage& dated) {
        for (Xapian::docid did : dated.Docids()) page_docs.emplace_back(did, 0.0);
      };

      if (few_known) {
        // Few matches, all known: counted, and sorted here by date rather
        // than by a second run of the query (a phrase's positions are the
        // costly part and would be checked twice).
        results.total = few.size();
        if (options.facets) {
          FacetCounter facets(columns, st.late->ByAccountName());
          for (Xapian::docid did : few) facets.Add(did);
          results.facets = facets.Facets(options.facet_values);
        }
        if (options.sort == SearchSort::kDate) {
          DatePage dated(columns, offset, limit);
          for (Xapian::docid did : few) dated.Add(did);
          take_dated(dated);
        } else {
          Xapian::Enquire enquire(st.db);
          enquire.set_query(query);
          ConfigureSort(&enquire, options.sort);
          take_page(enquire.get_mset(offset, limit));
        }
      } else {
        // Many matches: the counts from the shared cache when a searcher
        // counted them before, else from one pass over every match that, for
        // a date sort, also finds the page.
        const bool date_sort = options.sort == SearchSort::kDate;
        bool page_taken = false;
        std::optional<SearchCountCache::Counts> counts;
        if (!options.facets &&
            probed->get_matches_lower_bound() == probed->get_matches_upper_bound()) {
          // Xapian knows the count without reading the matches (one term, `*`).
          counts.emplace();
          counts->total = probed->get_matches_estimated();
        }
        std::string key;  // built only when the shared cache is asked
        if (!counts && st.counts) {
          key = key_base + std::to_string(exact_up_to) + "/" +
                (options.facets ? std::to_string(options.facet_values) : "-") + "/" +
                query.get_description();
          counts = st.counts->Get(key);
        }
        if (!counts) {
          Xapian::Enquire counter(st.db);
          counter.set_query(query);
          counter.set_weighting_scheme(Xapian::BoolWeight());
          std::optional<FacetCounter> facets;
          if (options.facets) facets.emplace(columns, st.late->ByAccountName());
          std::optional<DatePage> dated;
          if (date_sort) dated.emplace(columns, offset, limit);
          ColumnSpy spy(facets ? &*facets : nullptr, dated ? &*dated : nullptr);
          counter.add_matchspy(&spy);
          const Xapian::MSet counted = counter.get_mset(0, 0, exact_up_to);
          counts.emplace();
          counts->total_exact =
              counted.get_matches_lower_bound() == counted.get_matches_upper_bound();
          counts->total = counted.get_matches_estimated();
          if (facets) counts->facets = facets->Facets(options.facet_values);
          if (st.counts) st.counts->Put(key, *counts);
          // The page is the pass's only when the pass saw every match.
          if (dated && counts->total_exact && spy.seen() == counts->total) {
            take_dated(*dated);
            page_taken = true;
          }
        }
        if (!page_taken && date_sort) {
          if (std::optional<Xapian::MSet> windowed = DatePageFromNewestDays(
                  st.db, st.days, query, probed->get_matches_estimated(), offset, limit)) {
            take_page(*windowed);
          } else {
            Xapian::Enquire pass(st.db);
            pass.set_query(query);
            pass.set_weighting_scheme(Xapian::BoolWeight());
            DatePage dated(columns, offset, limit);
            ColumnSpy spy(nullptr, &dated);
            pass.add_matchspy(&spy);
            pass.get_mset(0, 0, st.db.get_doccount());
            take_dated(dated);
          }
        } else if (!page_taken) {
          Xapian::Enquire enquire(st.db);
          enquire.set_query(query);
          ConfigureSort(&enquire, options.sort);
          take_page(enquire.get_mset(offset, limit));
        }
        results.total = counts->total;
        results.total_exact = counts->total_exact;
        results.facets = std::move(counts->facets);
      }

      // Snippets Xapian makes (CJK, wildcards) need an MSet of the query: the
      // page's, else the probe's, else (the matches came from the cache) one
      // that holds no documents (no match is run for it).
      auto snippet_mset = [&]() -> const Xapian::MSet& {
        if (!page) page = probed ? *probed : probe.get_mset(0, 0);
        return *page;
      };
      Xapian::Stem stem(options.stem_language);
      Highlighter highlighter(query, stem, options.stem_language, options.highlight_start,
                              options.highlight_end, "...");
      const bool highlight = highlighter.has_words();
      const std::vector<std::string> words = highlighter.Forms();
      auto data_of = [&](Xapian::docid did) -> DocumentCache::Data {
        if (st.documents) {
          if (DocumentCache::Data known = st.documents->Get(uuid, did)) return known;
        }
        auto read = std::make_shared<const schema::DocumentData>(
            schema::ParseDocumentData(st.db.get_document(did).get_data()));
        if (st.documents) st.documents->Put(uuid, did, read);
        return read;
      };
      // The documents holding this page's texts, by id: per-recipient copies
      // of one message have the same date, so they and the copy holding their
      // text are often on the same page, and the text is read once.
      std::unordered_map<std::string, DocumentCache::Data> page_texts;
      for (const auto& [did, weight] : page_docs) {
        const DocumentCache::Data data = data_of(did);
        const schema::DocumentData* holder = data.get();
        if (!data->text_of.empty()) {
          auto [known, added] = page_texts.try_emplace(data->text_of);
          if (added) {
            const Xapian::docid owner = TextOwner(st.db, data->text_of);
            if (owner != 0) known->second = data_of(owner);
          }
          holder = known->second.get();
        }
        static const std::string kNoText;
        const std::string& text = holder != nullptr ? holder->text : kNoText;
        SearchHit hit;
        hit.id = data->id;
        hit.date = data->date;
        hit.from = data->from;
        hit.subject = data->subject;
        hit.relevance = weight;
        // No SNIPPET_BACKGROUND_MODEL (it looks up the frequency of every word
        // of the text in the index: ~0.8 ms per hit, most of a search's time on
        // 100,000 messages) and no SNIPPET_EXHAUSTIVE: the fragment with the
        // most query terms wins, which is what a reader scans for.
        if (highlight) {
          const auto [begin, end] = SnippetWindow(text, words, options.snippet_bytes);
          const std::string_view window = std::string_view(text).substr(begin, end - begin);
          if (std::optional<std::string> own = highlighter.Snippet(window, options.snippet_bytes)) {
            hit.snippet = std::move(*own);
          } else {
            hit.snippet = snippet_mset().snippet(std::string(window), options.snippet_bytes, stem,
                                       Xapian::MSet::SNIPPET_CJK_NGRAM, options.highlight_start,
                                       options.highlight_end, "...");
          }
          // Xapian marks what it left out of the text it was given; mark what
          // the window left out.
          if (begin > 0 && hit.snippet.rfind("...", 0) != 0) hit.snippet.insert(0, "...");
          if (end < text.size() && !hit.snippet.ends_with("...")) hit.snippet += "...";
        } else {
          hit.snippet = LeadingSnippet(text, options.snippet_bytes, "...");
        }
        if (data->text_of.empty()) page_texts.try_emplace(data->id, data);
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
