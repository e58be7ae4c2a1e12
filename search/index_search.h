// IndexSearcher: runs a query (search/query.h) on the index and returns one
// page of results with the total, highlighted snippets and facets. What the CLI's
// `search` and the web API's /api/search answer.
//
// Reads only what the indexer committed; opening takes no lock, so searches run
// while an Indexer writes. Every Xapian exception is caught here: a malformed
// query is kInvalidArgument ("column N: ..."), an index of an unknown schema
// kUnsupported (run `mailvault reindex`), a missing index kNotFound.
//
// Thread-safety: one IndexSearcher per thread (Xapian::Database is not
// thread-safe); open one per request or per worker.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/lru_cache.h"
#include "base/status.h"

namespace mailvault {

enum class SearchSort {
  kDate,       // newest first (default), then the later archived
  kRelevance,  // best first, then newest
};

struct SearchOptions {
  SearchSort sort = SearchSort::kDate;
  uint64_t offset = 0;
  uint64_t limit = 20;  // results on this page
  // "Now" for relative dates (unix seconds): pass Clock::NowUnixSeconds().
  int64_t now = 0;
  std::string stem_language = "english";  // as the indexer's
  // Totals and facets are exact when the query matches at most this many
  // messages; beyond it they are Xapian's estimates (total_exact false).
  uint64_t exact_up_to = 100000;
  // A date-sorted search that matches more messages than this reads only the
  // newest days of the index that hold its page (index_schema::kPrefixDay)
  // instead of sorting every match; smaller result sets are sorted whole.
  // The page is the same either way; tests lower this to compare the two.
  uint64_t sort_whole_up_to = 2000;
  bool facets = true;
  size_t facet_values = 20;  // most frequent values per facet (years: all, newest first)
  size_t snippet_bytes = 200;
  // Put around each matched word in snippets. The snippet text itself is
  // HTML-escaped by Xapian (&, <, > become entities), so with the defaults a
  // snippet is safe HTML.
  std::string highlight_start = "<b>";
  std::string highlight_end = "</b>";
  // When set, only messages collected from one of these POP3 accounts match
  // (imported mail has no account; an empty list matches nothing). The web UI
  // puts a user's granted accounts here, so the restriction is part of the
  // query itself and holds for totals, facet counts and every page.
  std::optional<std::vector<std::string>> accounts;
};

struct SearchHit {
  std::string id;       // lowercase hex SHA-256: `mailvault cat ID`
  int64_t date = 0;     // unix seconds (UTC)
  std::string from;     // "Name <address>" of the first From address
  std::string subject;
  std::string snippet;  // HTML-escaped text with highlight markers (see SearchOptions)
  double relevance = 0;  // Xapian weight when sorted by relevance (else 0; 0 for filters only)
};

struct FacetValue {
  std::string value;
  uint64_t count = 0;
  bool operator==(const FacetValue&) const = default;
};

struct SearchFacets {
  std::vector<FacetValue> account;        // POP3 account (imported messages have none)
  std::vector<FacetValue> sender_domain;  // domain of the first From address
  std::vector<FacetValue> year;           // UTC year of the date, newest first
};

struct SearchResults {
  uint64_t total = 0;
  bool total_exact = true;
  std::vector<SearchHit> hits;
  SearchFacets facets;  // empty unless SearchOptions::facets
};

// Totals and facet counts of searches that match many messages, and the
// matches themselves of searches that match few (at most
// SearchOptions::sort_whole_up_to), shared by the searchers of one index (a web
// server's pool of them). Counting every match of a query that matches most of
// the archive is most of such a search's time; finding the few matches of a
// phrase of common words means checking the positions of every document that
// holds them all. Paging through results or coming back to a query asks for
// the same again. Entries are keyed by the index's revision, so whatever the
// indexer commits is counted anew; the least recently used entry goes first
// (at 2,000 matches of 4 bytes, 256 entries hold at most 2 MB of matches).
// Thread-safe.
class SearchCountCache {
 public:
  struct Counts {
    uint64_t total = 0;
    bool total_exact = true;
    SearchFacets facets;
    // Every match's document id, when the entry is a small result set's.
    std::optional<std::vector<uint32_t>> matches;
  };
  explicit SearchCountCache(size_t capacity = 256) : entries_(capacity) {}
  std::optional<Counts> Get(const std::string& key);
  void Put(const std::string& key, Counts counts);
  size_t size();

 private:
  std::mutex mutex_;
  LruCache<std::string, Counts> entries_;  // an entry costs 1
};

class ValueColumnsCache;  // search/value_columns.h
class DocumentCache;      // search/document_cache.h

class IndexSearcher {
 public:
  // Opens the index in `index_dir` for reading. With `counts`, totals and facets
  // of broad searches are kept there for the searchers that share it; with
  // `columns`, the values read for sorting and counting (search/value_columns.h)
  // are read once for all of them, else once per searcher, at its first search;
  // with `documents`, the stored data of the hits shown is kept there for all of
  // them (search/document_cache.h).
  static Result<std::unique_ptr<IndexSearcher>> Open(
      const std::string& index_dir, std::shared_ptr<SearchCountCache> counts = nullptr,
      std::shared_ptr<ValueColumnsCache> columns = nullptr,
      std::shared_ptr<DocumentCache> documents = nullptr);
  ~IndexSearcher();
  IndexSearcher(const IndexSearcher&) = delete;
  IndexSearcher& operator=(const IndexSearcher&) = delete;

  Result<SearchResults> Search(std::string_view query, const SearchOptions& options);
  // The ids of every match, unsorted (for exports and tests).
  Result<std::vector<std::string>> MatchingIds(std::string_view query, const SearchOptions& options);
  // Reopens to see batches committed since Open (Xapian readers see a snapshot).
  Status Refresh();
  Result<uint64_t> DocumentCount();

 private:
  struct State;
  IndexSearcher(std::string index_dir);
  std::string index_dir_;
  std::unique_ptr<State> state_;
};

}  // namespace mailvault
