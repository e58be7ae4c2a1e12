// search_bench: query latency for the search benchmark (bench/README.md,
// "Search benchmark").
//
//   search_bench query --index DIR [--runs N] [--query LABEL QUERY]... [--count LABEL QUERY]...
//                      [--web LABEL QUERY]... [--web-cold LABEL QUERY]...
//       Opens one IndexSearcher on DIR and, per query, runs it once to warm up,
//       then N times (default 200), each time as the web UI does for a request
//       (webui/web_app.cc: a pooled searcher, Refresh(), then Search()). --query:
//       one page of 20 hits sorted by date, snippets, no facets (what `notmuch
//       search` answers); --count: no hits, the total and the facets counted over
//       every match (what `notmuch count` answers, and more); --web: what the
//       web UI's /api/search asks (a page of 20 by date with snippets, the total
//       and the facets) with the web server's shared count cache, so from the
//       second run on the counts come from it; --web-cold: the same without
//       the cache (every run counts anew). Prints one line per query:
//       label=... matches=... p50_ms=... p99_ms=... mean_ms=...
//
//   search_bench exec [--runs N] --label LABEL -- COMMAND [ARGS...]
//       Runs COMMAND once to warm up, then N times (default 30), stdout and
//       stderr to /dev/null, and prints the same line for the wall time of
//       each whole process (start-up included). Fails if COMMAND fails.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "search/index_search.h"
#include "search/value_columns.h"

namespace mailvault {
namespace {

using Clock = std::chrono::steady_clock;

struct Timings {
  std::vector<double> ms;
  double Percentile(double p) {
    std::sort(ms.begin(), ms.end());
    size_t i = static_cast<size_t>(p * static_cast<double>(ms.size() - 1) + 0.5);
    return ms[std::min(i, ms.size() - 1)];
  }
  double Mean() const {
    double sum = 0;
    for (double v : ms) sum += v;
    return sum / static_cast<double>(ms.size());
  }
};

void Print(const std::string& label, uint64_t matches, Timings& t) {
  std::printf("label=%s matches=%llu p50_ms=%.3f p99_ms=%.3f mean_ms=%.3f runs=%zu\n",
              label.c_str(), static_cast<unsigned long long>(matches), t.Percentile(0.5),
              t.Percentile(0.99), t.Mean(), t.ms.size());
}

int Usage() {
  std::fprintf(stderr,
               "usage: search_bench query --index DIR [--runs N] [--query LABEL QUERY]... "
               "[--count LABEL QUERY]... [--web LABEL QUERY]... [--web-cold LABEL QUERY]...\n"
               "       search_bench exec [--runs N] --label LABEL -- COMMAND [ARGS...]\n");
  return 2;
}

int Fail(const std::string& what) {
  std::fprintf(stderr, "search_bench: %s\n", what.c_str());
  return 1;
}

enum class QueryKind { kPage, kCount, kWeb, kWebCold };

struct QuerySpec {
  std::string label;
  std::string query;
  QueryKind kind = QueryKind::kPage;
};

int RunQueries(int argc, char** argv) {
  std::string index;
  int runs = 200;
  std::vector<QuerySpec> queries;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--index" && i + 1 < argc) {
      index = argv[++i];
    } else if (a == "--runs" && i + 1 < argc) {
      runs = std::atoi(argv[++i]);
    } else if ((a == "--query" || a == "--count" || a == "--web" || a == "--web-cold") &&
               i + 2 < argc) {
      const QueryKind kind = a == "--query"  ? QueryKind::kPage
                             : a == "--count" ? QueryKind::kCount
                             : a == "--web"   ? QueryKind::kWeb
                                              : QueryKind::kWebCold;
      queries.push_back({argv[i + 1], argv[i + 2], kind});
      i += 2;
    } else {
      return Usage();
    }
  }
  if (index.empty() || queries.empty() || runs < 1) return Usage();
  auto counts = std::make_shared<SearchCountCache>();
  auto searcher = IndexSearcher::Open(index, counts, std::make_shared<ValueColumnsCache>());
  auto uncached = IndexSearcher::Open(index);
  if (!searcher.ok()) return Fail(searcher.status().ToString());
  if (!uncached.ok()) return Fail(uncached.status().ToString());
  for (const QuerySpec& q : queries) {
    SearchOptions o;
    o.now = std::chrono::duration_cast<std::chrono::seconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
    o.limit = q.kind == QueryKind::kCount ? 0 : 20;
    o.facets = q.kind != QueryKind::kPage;
    auto& s = q.kind == QueryKind::kWeb ? *searcher : *uncached;
    Timings t;
    uint64_t matches = 0;
    for (int run = -1; run < runs; ++run) {
      const auto start = Clock::now();
      Status refreshed = s->Refresh();
      if (!refreshed.ok()) return Fail(refreshed.ToString());
      auto r = s->Search(q.query, o);
      if (!r.ok()) return Fail(q.label + ": " + r.status().ToString());
      const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
      matches = r->total;
      if (run >= 0) t.ms.push_back(ms);
    }
    Print(q.label, matches, t);
  }
  return 0;
}

// Runs argv to completion with output discarded; the exit status.
int RunOnce(char** argv) {
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 1);
    ::dup2(devnull, 2);
    ::execvp(argv[0], argv);
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int RunExec(int argc, char** argv) {
  int runs = 30;
  std::string label;
  int i = 2;
  for (; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--runs" && i + 1 < argc) {
      runs = std::atoi(argv[++i]);
    } else if (a == "--label" && i + 1 < argc) {
      label = argv[++i];
    } else if (a == "--") {
      ++i;
      break;
    } else {
      return Usage();
    }
  }
  if (i >= argc || label.empty() || runs < 1) return Usage();
  Timings t;
  for (int run = -1; run < runs; ++run) {
    const auto start = Clock::now();
    int code = RunOnce(argv + i);
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    if (code != 0) return Fail(label + ": " + argv[i] + " exited " + std::to_string(code));
    if (run >= 0) t.ms.push_back(ms);
  }
  Print(label, 0, t);
  return 0;
}

}  // namespace
}  // namespace mailvault

int main(int argc, char** argv) {
  if (argc < 2) return mailvault::Usage();
  std::string mode = argv[1];
  if (mode == "query") return mailvault::RunQueries(argc, argv);
  if (mode == "exec") return mailvault::RunExec(argc, argv);
  return mailvault::Usage();
}
