#include "daemon/metrics.h"

namespace mailvault {
namespace {

class Writer {
 public:
  // One metric family: its HELP and TYPE lines, then samples.
  void Family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  void Sample(std::string_view name, std::string_view labels, double value) {
    out_ += name;
    if (!labels.empty()) {
      out_ += '{';
      out_ += labels;
      out_ += '}';
    }
    char buf[64];
    // Integers print exactly; %.17g keeps every double round-trippable.
    std::snprintf(buf, sizeof buf, " %.17g\n", value);
    out_ += buf;
  }
  void Single(std::string_view name, std::string_view type, std::string_view help, double value) {
    Family(name, type, help);
    Sample(name, "", value);
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string AccountLabel(const std::string& account) {
  return "account=\"" + EscapeLabelValue(account) + "\"";
}

double D(uint64_t v) { return static_cast<double>(v); }

}  // namespace

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string RenderMetrics(const CollectionMetrics& c, const DaemonFigures& f) {
  Writer w;
  w.Single("mailvault_up", "gauge", "1 while the appliance is serving.", 1);
  w.Single("mailvault_start_time_seconds", "gauge", "When this process started (unix time).",
           static_cast<double>(f.started_at));

  w.Family("mailvault_collection_runs_total", "counter",
           "Collection runs finished since start, by outcome.");
  w.Sample("mailvault_collection_runs_total", "outcome=\"ok\"", D(c.runs_ok));
  w.Sample("mailvault_collection_runs_total", "outcome=\"failed\"", D(c.runs_failed));
  w.Sample("mailvault_collection_runs_total", "outcome=\"interrupted\"", D(c.runs_interrupted));
  w.Single("mailvault_collection_failures_total", "counter",
           "Collection runs that failed since start.", D(c.runs_failed));
  w.Single("mailvault_messages_archived_total", "counter",
           "Messages stored for the first time by collection since start.", D(c.messages_new));
  w.Single("mailvault_messages_duplicate_total", "counter",
           "Collected messages whose content was archived already (linked, not stored).",
           D(c.messages_duplicate));
  w.Single("mailvault_messages_failed_total", "counter",
           "Messages a run could not archive (retried by the next run).", D(c.messages_failed));
  w.Single("mailvault_bytes_archived_total", "counter",
           "Bytes received from POP3 servers for archived messages since start.", D(c.bytes));
  w.Single("mailvault_sessions_running", "gauge", "POP3 sessions running now.", c.running);
  w.Single("mailvault_sessions_running_peak", "gauge",
           "Most POP3 sessions that ran at once since start.", c.running_peak);
  w.Single("mailvault_queue_length", "gauge",
           "Accounts due now but waiting for a free session.", c.queue_length);

  w.Family("mailvault_account_last_success_timestamp_seconds", "gauge",
           "End of the account's last successful run (unix time).");
  for (const auto& a : c.accounts) {
    if (a.last_success) {
      w.Sample("mailvault_account_last_success_timestamp_seconds", AccountLabel(a.account),
               static_cast<double>(*a.last_success));
    }
  }
  w.Family("mailvault_account_failing", "gauge",
           "1 when the account kept failing and now runs only at its schedule slots.");
  for (const auto& a : c.accounts) {
    w.Sample("mailvault_account_failing", AccountLabel(a.account), a.failing ? 1 : 0);
  }
  w.Family("mailvault_account_consecutive_failures", "gauge",
           "Failed runs of the account since its last success.");
  for (const auto& a : c.accounts) {
    w.Sample("mailvault_account_consecutive_failures", AccountLabel(a.account),
             a.consecutive_failures);
  }

  if (f.archive) {
    w.Single("mailvault_archive_messages", "gauge", "Distinct messages in the archive.",
             D(f.archive->messages));
    w.Single("mailvault_archive_raw_bytes", "gauge",
             "Canonical bytes of all messages (before dedup and compression).",
             D(f.archive->raw_bytes));
    w.Single("mailvault_archive_stored_bytes", "gauge", "Bytes of the pack files on disk.",
             D(f.archive->stored_bytes));
    w.Single("mailvault_archive_uncompacted_bytes", "gauge",
             "Bytes of the packs written since the last compaction.", D(f.archive->uncompacted_bytes));
  }
  if (f.compaction) {
    w.Single("mailvault_compaction_running", "gauge",
             "1 while the archive is being compacted (or waits for collections to end to be).",
             f.compaction->running ? 1 : 0);
    w.Single("mailvault_compactions_total", "counter", "Compactions completed since start.",
             D(f.compaction->compactions));
    w.Single("mailvault_compaction_failures_total", "counter", "Compactions failed since start.",
             D(f.compaction->failures));
  }
  if (f.index_pending) {
    w.Single("mailvault_index_pending_messages", "gauge",
             "Archived messages not yet searchable.", D(*f.index_pending));
  }
  return w.Take();
}

}  // namespace mailvault
