#include "app/search_commands.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <chrono>
#include <memory>
#include <cstdio>
#include <sstream>

#include "app/progress.h"
#include "base/clock.h"
#include "search/index_search.h"
#include "search/indexer.h"

namespace mailvault {
namespace {

std::string IsoDate(int64_t unix_seconds, bool with_seconds) {
  using namespace std::chrono;
  sys_seconds t{seconds{unix_seconds}};
  sys_days day = floor<days>(t);
  year_month_day ymd(day);
  hh_mm_ss hms(t - day);
  char buf[40];
  if (with_seconds) {
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02ld:%02ld:%02ldZ", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<long>(hms.hours().count()), static_cast<long>(hms.minutes().count()),
                  static_cast<long>(hms.seconds().count()));
  } else {
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02u %02ld:%02ld", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<long>(hms.hours().count()), static_cast<long>(hms.minutes().count()));
  }
  return buf;
}

// `s` cut to `width` characters (UTF-8 aware) and padded with spaces.
std::string Column(const std::string& s, size_t width) {
  std::string out;
  size_t chars = 0;
  for (size_t i = 0; i < s.size();) {
    size_t len = 1;
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0xF0) len = 4; else if (c >= 0xE0) len = 3; else if (c >= 0xC0) len = 2;
    if (chars + 1 > width || (chars + 1 == width && i + len < s.size())) {
      out += "…";
      ++chars;
      break;
    }
    out.append(s, i, len);
    i += len;
    ++chars;
  }
  if (chars < width) out.append(width - chars, ' ');
  return out;
}

Poco::JSON::Array FacetJson(const std::vector<FacetValue>& values) {
  Poco::JSON::Array a;
  for (const FacetValue& v : values) {
    Poco::JSON::Object o;
    o.set("value", v.value);
    o.set("count", v.count);
    a.add(o);
  }
  return a;
}

// Indexes whatever the archive holds that the index lacks. Another process
// writing the index (a running daemon) is not an error: it is draining the
// same queue, and the search reads what it has committed.
Status IndexPendingMessages(Archive& archive, const std::string& index_dir) {
  std::unique_ptr<ProgressBar> bar;  // created once the total is known
  IndexerOptions options;
  options.on_message = [&](uint64_t handled) {
    if (bar) bar->Update(handled);
  };
  auto indexer = Indexer::Open(index_dir, options);
  if (!indexer.ok()) {
    if (indexer.status().code() == StatusCode::kUnavailable) {
      std::fprintf(stderr, "mailvault: the index is being written by another process; "
                           "searching what it has committed so far\n");
      return Status::Ok();
    }
    return indexer.status();
  }
  MV_ASSIGN_OR_RETURN(uint64_t pending, (*indexer)->PendingCount(archive));
  if (pending > 0) bar = std::make_unique<ProgressBar>("index", pending, false);
  // Also with no message pending: links made since the last search (a
  // duplicate collected from another account) reach the index here.
  MV_ASSIGN_OR_RETURN(IndexReport report, (*indexer)->IndexPending(archive));
  if (bar) bar->Done();
  if (report.unreadable > 0) {
    std::fprintf(stderr, "mailvault: %llu messages could not be read from the archive and are "
                         "searchable by id only (run `mailvault verify`)\n",
                 static_cast<unsigned long long>(report.unreadable));
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<Digest>> FindMessages(Archive& archive, const std::string& data_dir,
                                         const std::string& query) {
  const std::string index_dir = IndexDirectory(data_dir);
  MV_RETURN_IF_ERROR(IndexPendingMessages(archive, index_dir));
  MV_ASSIGN_OR_RETURN(auto searcher, IndexSearcher::Open(index_dir));
  SearchOptions o;
  o.now = SystemClock::Instance().NowUnixSeconds();
  auto hex_ids = searcher->MatchingIds(query, o);
  if (!hex_ids.ok()) return hex_ids.status().WithContext("search [" + query + "]");
  std::vector<Digest> ids;
  ids.reserve(hex_ids->size());
  for (const std::string& hex : *hex_ids) {
    auto id = DigestFromHex(hex);
    if (!id) return Status::Internal("the index returned a malformed id: " + hex);
    ids.push_back(*id);
  }
  return ids;
}

int RunSearch(const GlobalFlags& g, const SearchFlags& f) {
  std::string query;
  for (const std::string& word : f.query) query += (query.empty() ? "" : " ") + word;
  SearchOptions o;
  if (f.sort == "relevance") {
    o.sort = SearchSort::kRelevance;
  } else if (f.sort != "date") {
    return Fail(Status::InvalidArgument("--sort must be date or relevance, not '" + f.sort + "'"));
  }
  o.offset = f.offset;
  o.limit = f.limit;
  o.now = SystemClock::Instance().NowUnixSeconds();
  o.facets = f.json;

  ArchiveOptions ao;
  ao.data_dir = g.data_dir;
  ao.mode = ArchiveOptions::Mode::kReadWriteIfFree;
  auto archive = Archive::Open(ao);
  if (!archive.ok()) return Fail(archive.status());
  const std::string index_dir = IndexDirectory(g.data_dir);
  Status indexed = IndexPendingMessages(**archive, index_dir);
  if (!indexed.ok()) return Fail(indexed);

  auto searcher = IndexSearcher::Open(index_dir);
  if (!searcher.ok()) return Fail(searcher.status());
  auto results = (*searcher)->Search(query, o);
  if (!results.ok()) return Fail(results.status().WithContext("search [" + query + "]"));

  if (f.json) {
    Poco::JSON::Object doc;
    doc.set("total", results->total);
    doc.set("total_exact", results->total_exact);
    doc.set("offset", f.offset);
    doc.set("limit", f.limit);
    Poco::JSON::Array hits;
    for (const SearchHit& h : results->hits) {
      Poco::JSON::Object hit;
      hit.set("id", h.id);
      hit.set("date", IsoDate(h.date, true));
      hit.set("from", h.from);
      hit.set("subject", h.subject);
      hit.set("snippet", h.snippet);
      hit.set("relevance", h.relevance);
      hits.add(hit);
    }
    doc.set("results", hits);
    Poco::JSON::Object facets;
    facets.set("account", FacetJson(results->facets.account));
    facets.set("sender_domain", FacetJson(results->facets.sender_domain));
    facets.set("year", FacetJson(results->facets.year));
    doc.set("facets", facets);
    std::ostringstream out;
    doc.stringify(out);
    std::printf("%s\n", out.str().c_str());
    return 0;
  }
  if (!results->hits.empty()) {
    std::printf("%s  %s  %s  %s\n", Column("DATE (UTC)", 16).c_str(), Column("FROM", 30).c_str(),
                Column("SUBJECT", 50).c_str(), "ID");
  }
  for (const SearchHit& h : results->hits) {
    std::printf("%s  %s  %s  %s\n", IsoDate(h.date, false).c_str(), Column(h.from, 30).c_str(),
                Column(h.subject, 50).c_str(), h.id.substr(0, 12).c_str());
  }
  uint64_t first = results->hits.empty() ? 0 : f.offset + 1;
  std::printf("%s%llu message%s", results->total_exact ? "" : "about ",
              static_cast<unsigned long long>(results->total), results->total == 1 ? "" : "s");
  if (results->hits.size() < results->total) {
    std::printf(" (%llu-%llu shown)", static_cast<unsigned long long>(first),
                static_cast<unsigned long long>(f.offset + results->hits.size()));
  }
  std::printf("\n");
  return 0;
}

int RunReindex(const GlobalFlags& g) {
  ArchiveOptions ao;
  ao.data_dir = g.data_dir;
  ao.mode = ArchiveOptions::Mode::kReadWriteIfFree;
  auto archive = Archive::Open(ao);
  if (!archive.ok()) return Fail(archive.status());
  auto stats = (*archive)->Stats();
  ProgressBar bar("reindex", stats.ok() ? stats->messages : 0, false);
  IndexerOptions o;
  o.on_message = [&](uint64_t handled) { bar.Update(handled); };
  auto report = RebuildIndex(**archive, IndexDirectory(g.data_dir), o);
  bar.Done();
  if (!report.ok()) return Fail(report.status());
  std::printf("reindex: %llu messages indexed (%llu with decoding problems, %llu unreadable)\n",
              static_cast<unsigned long long>(report->indexed),
              static_cast<unsigned long long>(report->flagged),
              static_cast<unsigned long long>(report->unreadable));
  return 0;
}

}  // namespace mailvault
