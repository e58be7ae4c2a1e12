// mailvault's command line: parses arguments (the contract in doc/cli.md and
// ARCHITECTURE.md) and hands each command to its component. No logic lives here.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>

#include "app/archive_commands.h"

namespace {

constexpr const char* kDefaultDataDir = "./mailvault-data";

}  // namespace

int main(int argc, char** argv) {
  using namespace mailvault;
  CLI::App app{"mailvault: a mail archiving and backup appliance"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "mailvault 0.1.0");
  GlobalFlags g;
  app.add_option("--config", g.config_path, "configuration file (INI); default: built-in defaults")
      ->check(CLI::ExistingFile);
  app.add_option("--data", g.data_dir, "data directory (default ./mailvault-data)");

  auto* init = app.add_subcommand("init", "create the data directory");

  auto* serve = app.add_subcommand("serve", "web UI and scheduler, until stopped");

  ImportFlags import_flags;
  auto* import = app.add_subcommand("import", "import mbox files, Maildirs or folders of .eml");
  import->add_option("PATH", import_flags.paths, "files or directories")->required();
  import->add_option("--mbox-quoting", import_flags.quoting, "mboxrd (default) or mboxo");
  import->add_option("--commit-every", import_flags.commit_every,
                     "durable commit after this many messages (default 1000)");
  import->add_flag("--report-commits", import_flags.report_commits,
                   "print 'committed ID' on stdout after each durable commit");

  ExportFlags export_flags;
  auto* exp = app.add_subcommand("export", "export messages as mbox or .eml files");
  exp->add_option("--format", export_flags.format, "mbox or eml")->required();
  exp->add_option("--out", export_flags.out, "mbox file, or directory for .eml files")->required();
  exp->add_option("QUERY", export_flags.query, "search query (default: every message)");

  std::string cat_id;
  auto* cat = app.add_subcommand("cat", "write the canonical bytes of one message to stdout");
  cat->add_option("ID", cat_id, "message id or unique prefix of at least 12 characters")->required();

  auto* verify = app.add_subcommand("verify", "re-hash everything; non-zero exit on any fault");
  auto* rebuild = app.add_subcommand("rebuild", "recreate the catalog from the packs");

  bool stats_json = false;
  auto* stats = app.add_subcommand("stats", "messages, raw bytes, stored bytes, ratios");
  stats->add_flag("--json", stats_json, "one JSON document on stdout");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (g.data_dir.empty()) g.data_dir = kDefaultDataDir;

  if (init->parsed()) return RunInit(g);
  if (serve->parsed()) {
    std::printf("mailvault serve: archive in %s; the web UI (127.0.0.1:8080) and the scheduler "
                "are not part of this build yet\n", g.data_dir.c_str());
    return RunInit(g);
  }
  if (import->parsed()) return RunImport(g, import_flags);
  if (exp->parsed()) return RunExport(g, export_flags);
  if (cat->parsed()) return RunCat(g, cat_id);
  if (verify->parsed()) return RunVerify(g);
  if (rebuild->parsed()) return RunRebuild(g);
  if (stats->parsed()) return RunStats(g, stats_json);
  return 1;
}
