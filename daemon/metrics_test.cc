#include "daemon/metrics.h"

#include <gtest/gtest.h>

namespace mailvault {
namespace {

TEST(MetricsTest, RendersCountersGaugesAndPerAccountSamples) {
  CollectionMetrics c;
  c.runs_ok = 7;
  c.runs_failed = 2;
  c.runs_interrupted = 1;
  c.messages_new = 1234;
  c.bytes = 5'000'000'000ull;  // beyond 32 bits: printed exactly
  c.running = 1;
  c.running_peak = 3;
  c.queue_length = 4;
  c.accounts.push_back({"sales", 1767225600, false, 0});
  c.accounts.push_back({"odd\"name\\", std::nullopt, true, 6});
  DaemonFigures f;
  f.started_at = 1767225000;
  ArchiveStats stats;
  stats.messages = 10;
  stats.raw_bytes = 1000;
  stats.stored_bytes = 400;
  f.archive = stats;
  f.index_pending = 3;
  std::string text = RenderMetrics(c, f);

  EXPECT_NE(text.find("# TYPE mailvault_collection_runs_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("mailvault_collection_runs_total{outcome=\"ok\"} 7\n"), std::string::npos);
  EXPECT_NE(text.find("mailvault_collection_runs_total{outcome=\"failed\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("mailvault_collection_failures_total 2\n"), std::string::npos);
  EXPECT_NE(text.find("mailvault_messages_archived_total 1234\n"), std::string::npos);
  EXPECT_NE(text.find("mailvault_bytes_archived_total 5000000000\n"), std::string::npos);
  EXPECT_NE(text.find("mailvault_queue_length 4\n"), std::string::npos);
  EXPECT_NE(text.find("mailvault_sessions_running_peak 3\n"), std::string::npos);
  EXPECT_NE(text.find("mailvault_account_last_success_timestamp_seconds{account=\"sales\"} "
                      "1767225600\n"),
            std::string::npos);
  // Never succeeded: no last-success sample rather than a made-up one.
  EXPECT_EQ(text.find("mailvault_account_last_success_timestamp_seconds{account=\"odd"),
            std::string::npos);
  EXPECT_NE(text.find("mailvault_account_failing{account=\"odd\\\"name\\\\\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("mailvault_archive_messages 10\n"), std::string::npos);
  EXPECT_NE(text.find("mailvault_index_pending_messages 3\n"), std::string::npos);

  // Every line is a comment or "name[{labels}] value".
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    ASSERT_NE(end, std::string::npos) << "the text ends with a newline";
    std::string line = text.substr(start, end - start);
    start = end + 1;
    if (line.rfind("# ", 0) == 0) continue;
    ASSERT_EQ(line.rfind("mailvault_", 0), 0u) << line;
    size_t space = line.rfind(' ');
    ASSERT_NE(space, std::string::npos) << line;
    char* rest = nullptr;
    std::string value = line.substr(space + 1);
    std::strtod(value.c_str(), &rest);
    EXPECT_EQ(*rest, '\0') << line;
  }
}

TEST(MetricsTest, WithoutArchiveOrIndexFiguresThoseFamiliesAreLeftOut) {
  std::string text = RenderMetrics(CollectionMetrics{}, DaemonFigures{});
  EXPECT_NE(text.find("mailvault_up 1\n"), std::string::npos);
  EXPECT_EQ(text.find("mailvault_archive_messages"), std::string::npos);
  EXPECT_EQ(text.find("mailvault_index_pending_messages"), std::string::npos);
}

}  // namespace
}  // namespace mailvault
