// The Prometheus text exposition (format 0.0.4) of GET /metrics: collection
// counters and per-account state from the CollectionService, archive figures,
// and the indexer's backlog. Pure formatting, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "archive/archive.h"
#include "daemon/collection_service.h"
#include "daemon/compaction_worker.h"

namespace mailvault {

struct DaemonFigures {
  int64_t started_at = 0;                  // unix seconds
  std::optional<ArchiveStats> archive;     // nullopt when it could not be read
  std::optional<uint64_t> index_pending;   // messages not yet searchable
  std::optional<CompactionState> compaction;
};

std::string RenderMetrics(const CollectionMetrics& collection, const DaemonFigures& figures);

// A label value with \, " and newline escaped as the format requires.
std::string EscapeLabelValue(std::string_view value);

}  // namespace mailvault
