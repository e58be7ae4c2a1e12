#include "app/archive_commands.h"

#include <unistd.h>

#include <Poco/JSON/Object.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <thread>

#include "app/progress.h"
#include "app/search_commands.h"
#include "archive/mail_export.h"
#include "daemon/control.h"
#include "base/file.h"

namespace mailvault {
Result<std::unique_ptr<Archive>> OpenArchive(const GlobalFlags& g, ArchiveOptions::Mode mode,
                                             bool create) {
  ArchiveOptions o;
  o.data_dir = g.data_dir;
  o.mode = mode;
  o.create = create;
  return Archive::Open(o);
}

namespace {

double Ratio(uint64_t a, uint64_t b) { return b == 0 ? 0.0 : static_cast<double>(a) / static_cast<double>(b); }

std::string Fixed(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

}  // namespace

int Fail(const Status& status) {
  std::fprintf(stderr, "mailvault: %s\n", status.ToString().c_str());
  return 1;
}

int RunInit(const GlobalFlags& g) {
  bool existed = IsDirectory(g.data_dir + "/packs");
  auto archive = OpenArchive(g, ArchiveOptions::Mode::kReadWrite, /*create=*/true);
  if (!archive.ok()) return Fail(archive.status());
  std::printf("%s archive in %s\n", existed ? "existing" : "created", g.data_dir.c_str());
  return 0;
}

int RunImport(const GlobalFlags& g, const ImportFlags& f) {
  auto archive = OpenArchive(g, ArchiveOptions::Mode::kReadWrite, /*create=*/true);
  if (!archive.ok()) return Fail(archive.status());
  uint64_t total = 0;
  for (const auto& p : f.paths) total += MailImporter::TotalBytes(p);
  ProgressBar bar("import", total, /*unit_bytes=*/true);

  ImportOptions o;
  if (f.quoting == "mboxo") {
    o.quoting = MboxQuoting::kMboxo;
  } else if (f.quoting != "mboxrd") {
    return Fail(Status::InvalidArgument("--mbox-quoting must be mboxrd or mboxo, not " + f.quoting));
  }
  o.commit_every_messages = f.commit_every == 0 ? 1 : f.commit_every;
  if (f.report_commits) {
    o.on_commit = [](const std::vector<Digest>& ids) {
      std::string out;
      for (const Digest& id : ids) out += "committed " + ToHex(id) + "\n";
      std::fwrite(out.data(), 1, out.size(), stdout);
      std::fflush(stdout);
    };
  }
  MailImporter importer(archive->get(), o);
  Status status;
  for (const auto& path : f.paths) {
    status = importer.Import(path);
    bar.Update(importer.summary().bytes, std::to_string(importer.summary().read) + " messages");
    if (!status.ok()) break;
  }
  Status finish = importer.Finish();
  if (status.ok()) status = finish;
  bar.Done();
  const ImportSummary& s = importer.summary();
  for (const auto& r : s.refused) {
    std::fprintf(stderr, "refused: %s at byte %llu: %s\n", r.path.c_str(),
                 static_cast<unsigned long long>(r.offset), r.reason.c_str());
  }
  std::fprintf(f.report_commits ? stderr : stdout,
               "import: read %llu, new %llu, duplicate %llu, refused %zu%s\n",
               static_cast<unsigned long long>(s.read), static_cast<unsigned long long>(s.added),
               static_cast<unsigned long long>(s.duplicate), s.refused.size(),
               s.skipped_files ? (", skipped " + std::to_string(s.skipped_files) +
                                  " files not named like mail").c_str()
                               : "");
  if (!status.ok()) return Fail(status);
  return s.refused.empty() ? 0 : 2;
}

int RunExport(const GlobalFlags& g, const ExportFlags& f) {
  ExportFormat format;
  if (f.format == "mbox") {
    format = ExportFormat::kMbox;
  } else if (f.format == "eml") {
    format = ExportFormat::kEml;
  } else {
    return Fail(Status::InvalidArgument("--format must be mbox or eml, not '" + f.format + "'"));
  }
  auto archive = OpenArchive(g, ArchiveOptions::Mode::kReadWriteIfFree);
  if (!archive.ok()) return Fail(archive.status());
  std::vector<Digest> ids;  // empty: every message
  std::string query;
  for (const std::string& word : f.query) query += (query.empty() ? "" : " ") + word;
  uint64_t total = 0;
  if (!query.empty()) {
    auto found = FindMessages(**archive, g.data_dir, query);
    if (!found.ok()) return Fail(found.status());
    if (found->empty()) {
      std::printf("export: no message matches [%s]; nothing written\n", query.c_str());
      return 0;
    }
    ids = std::move(found).value();
    total = ids.size();
  } else {
    auto stats = (*archive)->Stats();
    total = stats.ok() ? stats->messages : 0;
  }
  ProgressBar bar("export", total, false);
  ExportSummary summary;
  Status s = ExportMessages(**archive, ids, format, f.out, [&](uint64_t done) { bar.Update(done); }, &summary);
  bar.Done();
  if (!s.ok()) return Fail(s);
  std::printf("export: %llu messages, %s, to %s\n", static_cast<unsigned long long>(summary.messages),
              FormatBytes(summary.bytes).c_str(), f.out.c_str());
  return 0;
}

int RunCat(const GlobalFlags& g, const std::string& id_text) {
  auto archive = OpenArchive(g, ArchiveOptions::Mode::kReadWriteIfFree);
  if (!archive.ok()) return Fail(archive.status());
  auto id = (*archive)->Resolve(id_text);
  if (!id.ok()) return Fail(id.status());
  Status s = (*archive)->ReadMessage(*id, [](std::string_view chunk) {
    return WriteAll(1, chunk, "write to standard output");
  });
  return s.ok() ? 0 : Fail(s);
}

int RunVerify(const GlobalFlags& g) {
  auto archive = OpenArchive(g, ArchiveOptions::Mode::kReadWriteIfFree);
  if (!archive.ok()) return Fail(archive.status());
  ProgressBar bar("verify", 0, false);
  VerifyReport report;
  Status s = (*archive)->Verify(&report, [&](uint64_t done, uint64_t total) {
    bar.Update(done, "of " + std::to_string(total) + " messages");
  });
  bar.Done();
  if (!s.ok()) return Fail(s);
  for (const auto& f : report.faults) std::fprintf(stderr, "fault: %s: %s\n", f.where.c_str(), f.problem.c_str());
  std::printf("verify: %llu records, %llu messages checked, %zu fault%s\n",
              static_cast<unsigned long long>(report.records_checked),
              static_cast<unsigned long long>(report.messages_checked), report.faults.size(),
              report.faults.size() == 1 ? "" : "s");
  return report.ok() ? 0 : 1;
}

int RunRebuild(const GlobalFlags& g) {
  ArchiveOptions o;
  o.data_dir = g.data_dir;
  VerifyReport damage;
  Status s = Archive::Rebuild(o, &damage);
  if (!s.ok()) return Fail(s);
  for (const auto& f : damage.faults) std::fprintf(stderr, "damaged: %s: %s\n", f.where.c_str(), f.problem.c_str());
  auto archive = OpenArchive(g, ArchiveOptions::Mode::kReadWriteIfFree);
  if (!archive.ok()) return Fail(archive.status());
  auto stats = (*archive)->Stats();
  if (!stats.ok()) return Fail(stats.status());
  std::printf("rebuild: catalog recreated from %llu packs: %llu messages, %llu segments\n",
              static_cast<unsigned long long>(stats->packs), static_cast<unsigned long long>(stats->messages),
              static_cast<unsigned long long>(stats->segments));
  return damage.ok() ? 0 : 1;
}

namespace {

// `compact` while `serve` holds the archive: asks the daemon over its control
// socket, which compacts as soon as no collection runs, and follows it.
int CompactThroughServe(ControlClient& client) {
  auto before = client.Poll();
  if (!before.ok()) return Fail(before.status());
  const uint64_t attempts_before = before->compaction.attempts;
  Status requested = client.RequestCompaction();
  if (!requested.ok()) return Fail(requested);
  std::fprintf(stderr, "mailvault serve is running: it compacts the archive as soon as no collection runs\n");
  ProgressBar bar("compact (serve)", 0, false);
  for (;;) {
    auto status = client.Poll();
    if (!status.ok()) {
      bar.Done();
      return Fail(status.status().WithContext("mailvault serve went away"));
    }
    const CompactionState& c = status->compaction;
    if (c.running) bar.Update(c.done, "of " + std::to_string(c.total) + " " + c.phase);
    if (!c.running && c.attempts != attempts_before) {
      bar.Done();
      if (!c.last_error.empty()) return Fail(Status::Internal("compaction by mailvault serve: " + c.last_error));
      if (c.compactions == before->compaction.compactions) {
        std::printf("compact: nothing written since the last compaction\n");
      } else {
        std::printf("compact (by mailvault serve): %.2f MB rewritten as %.2f MB\n",
                    static_cast<double>(c.last_bytes_before) / 1e6, static_cast<double>(c.last_bytes_after) / 1e6);
      }
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace

int RunCompact(const GlobalFlags& g) {
  ArchiveOptions o;
  o.data_dir = g.data_dir;
  ProgressBar bar("compact", 0, false);
  auto report = Archive::Compact(o, [&](std::string_view what, uint64_t done, uint64_t total) {
    bar.Update(done, "of " + std::to_string(total) + " " + std::string(what));
  });
  bar.Done();
  if (!report.ok() && report.status().code() == StatusCode::kUnavailable) {
    if (auto client = ControlClient::Connect(g.data_dir); client.ok()) return CompactThroughServe(*client);
  }
  if (!report.ok()) return Fail(report.status());
  const CompactReport& r = *report;
  if (!r.compacted) {
    std::printf("compact: nothing written since the last compaction\n");
    return 0;
  }
  std::printf("compact: packs %u..%u (%.2f MB) rewritten as %u pack%s (%.2f MB, %.1f%% of before): "
              "%llu segments, %llu messages checked, %llu unreferenced segments left out\n",
              r.first_pack, r.last_pack, static_cast<double>(r.bytes_before) / 1e6, r.packs_written,
              r.packs_written == 1 ? "" : "s", static_cast<double>(r.bytes_after) / 1e6,
              r.bytes_before ? 100.0 * static_cast<double>(r.bytes_after) / static_cast<double>(r.bytes_before) : 0.0,
              static_cast<unsigned long long>(r.segments), static_cast<unsigned long long>(r.messages),
              static_cast<unsigned long long>(r.unreferenced_segments));
  return 0;
}

int RunStats(const GlobalFlags& g, bool json) {
  auto archive = OpenArchive(g, ArchiveOptions::Mode::kReadWriteIfFree);
  if (!archive.ok()) return Fail(archive.status());
  auto st = (*archive)->Stats();
  if (!st.ok()) return Fail(st.status());
  const ArchiveStats& s = *st;
  if (json) {
    Poco::JSON::Object o;
    o.set("messages", s.messages);
    o.set("raw_bytes", s.raw_bytes);
    o.set("stored_bytes", s.stored_bytes);
    o.set("uncompacted_bytes", s.uncompacted_bytes);
    o.set("unique_bytes", s.unique_bytes);
    o.set("catalog_bytes", s.catalog_bytes);
    o.set("segments", s.segments);
    o.set("provenance_links", s.provenance_links);
    o.set("dictionaries", s.dictionaries);
    o.set("packs", s.packs);
    o.set("dedup_ratio", Ratio(s.raw_bytes, s.unique_bytes));
    o.set("compression_ratio", Ratio(s.unique_bytes, s.stored_bytes));
    o.set("total_ratio", Ratio(s.raw_bytes, s.stored_bytes));
    std::ostringstream out;
    o.stringify(out);
    std::printf("%s\n", out.str().c_str());
    return 0;
  }
  std::printf("messages           %llu\n", static_cast<unsigned long long>(s.messages));
  std::printf("provenance links   %llu\n", static_cast<unsigned long long>(s.provenance_links));
  std::printf("raw bytes          %s\n", FormatBytes(s.raw_bytes).c_str());
  std::printf("after dedup        %s  (%sx, %llu segments)\n", FormatBytes(s.unique_bytes).c_str(),
              Fixed(Ratio(s.raw_bytes, s.unique_bytes)).c_str(), static_cast<unsigned long long>(s.segments));
  std::printf("stored bytes       %s  (%sx overall, %llu packs, %llu dictionaries)\n",
              FormatBytes(s.stored_bytes).c_str(), Fixed(Ratio(s.raw_bytes, s.stored_bytes)).c_str(),
              static_cast<unsigned long long>(s.packs), static_cast<unsigned long long>(s.dictionaries));
  if (s.uncompacted_bytes > 0) {
    std::printf("not compacted      %s  (written since the last compaction)\n",
                FormatBytes(s.uncompacted_bytes).c_str());
  }
  std::printf("catalog            %s\n", FormatBytes(s.catalog_bytes).c_str());
  return 0;
}

}  // namespace mailvault
