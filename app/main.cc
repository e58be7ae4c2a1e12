// mailvault's command line: parses arguments (the contract in doc/cli.md and
// ARCHITECTURE.md) and hands each command to its component. No logic lives here.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>

#include "app/archive_commands.h"
#include "app/collector_commands.h"
#include "app/search_commands.h"
#include "app/serve_command.h"
#include "app/user_commands.h"

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
  auto* compact = app.add_subcommand(
      "compact", "recompress what was stored since the last compaction, smaller (checked, crash-safe)");

  bool stats_json = false;
  auto* stats = app.add_subcommand("stats", "messages, raw bytes, stored bytes, ratios");
  stats->add_flag("--json", stats_json, "one JSON document on stdout");

  SearchFlags search_flags;
  auto* search = app.add_subcommand(
      "search", "index what is pending, then search (query language: doc/search.md)");
  search->add_flag("--json", search_flags.json, "one JSON document on stdout");
  search->add_option("--sort", search_flags.sort, "date (newest first, default) or relevance");
  search->add_option("--offset", search_flags.offset, "skip this many results (default 0)");
  search->add_option("--limit", search_flags.limit, "results to show (default 20)");
  // Everything from the first word of the query on is the query, so that
  // "-term" (exclude) is not taken for an option; options come first.
  search->prefix_command();

  auto* reindex = app.add_subcommand("reindex", "recreate the search index from the archive");

  CollectFlags collect_flags;
  auto* collect = app.add_subcommand("collect", "one collection run of every account (or one) now");
  collect->add_flag("--json", collect_flags.json, "one JSON document on stdout");
  collect->add_option("--account", collect_flags.account, "collect only this account");
  collect->add_option("--commit-every", collect_flags.commit_every,
                      "durable commit after this many messages (default 500)");

  auto* account = app.add_subcommand("account", "POP3 accounts to collect");
  account->require_subcommand(1);
  AccountAddFlags account_add;
  auto* account_add_cmd = account->add_subcommand("add", "add a POP3 account");
  account_add_cmd->add_option("NAME", account_add.name, "account name")->required();
  account_add_cmd->add_option("--host", account_add.host, "POP3 server")->required();
  account_add_cmd->add_option("--port", account_add.port, "port (default 995 for pop3s, else 110)");
  account_add_cmd->add_option("--user", account_add.user, "user name")->required();
  account_add_cmd->add_option("--password-file", account_add.password_file,
                              "file whose first line is the password")->required()->check(CLI::ExistingFile);
  account_add_cmd->add_option("--tls", account_add.tls, "pop3s, starttls or none")->required();
  auto* ca_opt = account_add_cmd->add_option("--ca", account_add.ca, "CA file (PEM) to verify the server")
                     ->check(CLI::ExistingFile);
  account_add_cmd->add_option("--fingerprint", account_add.fingerprint,
                              "pinned SHA-256 of a self-signed server certificate")->excludes(ca_opt);
  account_add_cmd->add_option("--policy", account_add.policy,
                              "keep (default), delete-after:N-days or delete-when-archived");
  account_add_cmd->add_option("--schedule", account_add.schedule, "cron expression (default: [collector] schedule)");
  bool account_list_json = false;
  auto* account_list = account->add_subcommand("list", "list the accounts");
  account_list->add_flag("--json", account_list_json, "one JSON document on stdout");
  std::string account_name;
  auto* account_test = account->add_subcommand("test", "connect and log in; change nothing");
  account_test->add_option("NAME", account_name, "account name")->required();
  auto* account_remove = account->add_subcommand("remove", "remove an account (its archived mail stays)");
  account_remove->add_option("NAME", account_name, "account name")->required();

  // Web UI users and the audit log (app/user_commands.h).
  UserFlags user_flags;
  auto* user = app.add_subcommand("user", "web UI users");
  user->require_subcommand(1);
  auto* user_add = user->add_subcommand("add", "add a user (prints a generated password "
                                               "without --password-file)");
  user_add->add_option("NAME", user_flags.name, "user name")->required();
  user_add->add_option("--role", user_flags.role, "admin, auditor or user")->required();
  user_add->add_option("--accounts", user_flags.accounts, "accounts a user may read: A,B");
  auto* user_passwd = user->add_subcommand("passwd", "set a user's password");
  user_passwd->add_option("NAME", user_flags.name, "user name")->required();
  for (auto* cmd : {user_add, user_passwd}) {
    cmd->add_option("--password-file", user_flags.password_file,
                    "file whose first line is the password")->check(CLI::ExistingFile);
  }
  auto* user_remove = user->add_subcommand("remove", "remove a user");
  user_remove->add_option("NAME", user_flags.name, "user name")->required();
  auto* user_list = user->add_subcommand("list", "list the users");
  user_list->add_flag("--json", user_flags.json, "one JSON document on stdout");
  auto* audit = app.add_subcommand("audit", "the audit log");
  audit->require_subcommand(1);
  auto* audit_verify = audit->add_subcommand("verify", "check the audit log's hash chain");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  // The configuration is validated before any command touches anything.
  g.settings = DefaultSettings();
  if (!g.config_path.empty()) {
    auto settings = LoadSettings(g.config_path);
    if (!settings.ok()) {
      std::fprintf(stderr, "mailvault: %s\n", settings.status().ToString().c_str());
      return 2;
    }
    g.settings = *std::move(settings);
  }
  if (g.data_dir.empty()) g.data_dir = g.settings.archive.data_dir;

  if (init->parsed()) return RunInit(g);
  if (serve->parsed()) return RunServe(g);
  if (import->parsed()) return RunImport(g, import_flags);
  if (exp->parsed()) return RunExport(g, export_flags);
  if (cat->parsed()) return RunCat(g, cat_id);
  if (verify->parsed()) return RunVerify(g);
  if (rebuild->parsed()) return RunRebuild(g);
  if (compact->parsed()) return RunCompact(g);
  if (stats->parsed()) return RunStats(g, stats_json);
  if (search->parsed()) {
    search_flags.query = search->remaining();
    return RunSearch(g, search_flags);
  }
  if (reindex->parsed()) return RunReindex(g);
  if (collect->parsed()) return RunCollect(g, collect_flags);
  if (account_add_cmd->parsed()) return RunAccountAdd(g, account_add);
  if (account_list->parsed()) return RunAccountList(g, account_list_json);
  if (account_test->parsed()) return RunAccountTest(g, account_name);
  if (account_remove->parsed()) return RunAccountRemove(g, account_name);
  if (user_add->parsed()) return RunUserAdd(g, user_flags);
  if (user_passwd->parsed()) return RunUserPasswd(g, user_flags);
  if (user_remove->parsed()) return RunUserRemove(g, user_flags);
  if (user_list->parsed()) return RunUserList(g, user_flags);
  if (audit_verify->parsed()) return RunAuditVerify(g);
  return 1;
}
