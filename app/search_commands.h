// The search commands of the command line: `search` (indexes what is pending,
// then queries) and `reindex` (rebuilds the index from the archive). Thin
// wrappers over search/indexer.h and search/index_search.h that print human or
// JSON output and return the process exit status (0 success, 1 failure).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "app/archive_commands.h"

namespace mailvault {

struct SearchFlags {
  bool json = false;
  std::string sort = "date";  // "date" (newest first) or "relevance"
  uint64_t offset = 0;
  uint64_t limit = 20;
  std::vector<std::string> query;  // words joined by spaces
};

int RunSearch(const GlobalFlags& g, const SearchFlags& f);
// The ids of every message matching `query` (the search language), after
// indexing what the archive holds that the index lacks. For `export QUERY`.
Result<std::vector<Digest>> FindMessages(Archive& archive, const std::string& data_dir,
                                         const std::string& query);
int RunReindex(const GlobalFlags& g);

}  // namespace mailvault
