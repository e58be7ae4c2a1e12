// The archive commands of the command line: thin wrappers that call the archive
// library, print human or JSON output, and return the process exit status
// (0 success, 1 failure, 2 partial: some input refused).
#pragma once

#include <string>
#include <vector>

#include "archive/archive.h"
#include "archive/mail_import.h"
#include "config/settings.h"

namespace mailvault {

struct GlobalFlags {
  std::string config_path;
  std::string data_dir;  // resolved: --data, else the config's, else ./mailvault-data
  Settings settings;     // from --config (validated before any command runs), else defaults
};

struct ImportFlags {
  std::vector<std::string> paths;
  std::string quoting = "mboxrd";
  size_t commit_every = 1000;
  bool report_commits = false;  // print "committed <id>" after each durable commit
};

struct ExportFlags {
  std::string format;
  std::string out;
  std::vector<std::string> query;  // search-language words joined by spaces; empty = all
};

int RunInit(const GlobalFlags& g);
int RunImport(const GlobalFlags& g, const ImportFlags& f);
int RunExport(const GlobalFlags& g, const ExportFlags& f);
int RunCat(const GlobalFlags& g, const std::string& id);
int RunVerify(const GlobalFlags& g);
int RunRebuild(const GlobalFlags& g);
// Rewrites what was written since the last compaction (Archive::Compact).
int RunCompact(const GlobalFlags& g);
int RunStats(const GlobalFlags& g, bool json);

// Opens the archive in g.data_dir (creating it when `create`).
Result<std::unique_ptr<Archive>> OpenArchive(const GlobalFlags& g, ArchiveOptions::Mode mode,
                                             bool create = false);

// Prints "mailvault: <status>" to stderr and returns 1.
int Fail(const Status& status);

}  // namespace mailvault
