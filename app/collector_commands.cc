#include "app/collector_commands.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <algorithm>
#include <cstdio>
#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "app/progress.h"
#include "base/file.h"
#include "collector/account_store.h"
#include "collector/configured_accounts.h"
#include "collector/collection_run.h"
#include "collector/secret_box.h"
#include "daemon/control.h"
#include "config/settings.h"

namespace mailvault {
namespace {

std::string Json(const Poco::JSON::Object& o) {
  std::ostringstream out;
  o.stringify(out);
  return out.str();
}

}  // namespace

int RunAccountAdd(const GlobalFlags& g, const AccountAddFlags& f) {
  Account a;
  a.name = f.name;
  a.host = f.host;
  a.port = f.port;
  a.user = f.user;
  if (f.tls == "pop3s") {
    a.tls = TlsMode::kPop3s;
  } else if (f.tls == "starttls") {
    a.tls = TlsMode::kStarttls;
  } else if (f.tls == "none") {
    a.tls = TlsMode::kNone;
  } else {
    return Fail(
        Status::InvalidArgument("--tls must be pop3s, starttls or none, not '" + f.tls + "'"));
  }
  a.ca = f.ca;
  a.fingerprint = f.fingerprint;
  auto policy = DeletePolicy::Parse(f.policy);
  if (!policy.ok()) return Fail(policy.status().WithContext("--policy"));
  a.policy = *policy;
  a.schedule = f.schedule;
  auto password = ReadPasswordFile(f.password_file);
  if (!password.ok()) return Fail(password.status());
  auto archive = OpenArchive(g, ArchiveOptions::Mode::kReadWriteIfFree, /*create=*/true);
  if (!archive.ok()) return Fail(archive.status());
  auto box = SecretBox::Open(g.data_dir);
  if (!box.ok()) return Fail(box.status());
  AccountStore store(archive->get(), box->get());
  Status s = store.Add(a, *password);
  if (!s.ok()) return Fail(s);
  std::printf("account %s added (%s:%d, %s, policy %s)\n", a.name.c_str(), a.host.c_str(),
              a.EffectivePort(), std::string(TlsModeName(a.tls)).c_str(),
              a.policy.ToString().c_str());
  return 0;
}

int RunAccountList(const GlobalFlags& g, bool json) {
  auto archive = OpenArchive(g, ArchiveOptions::Mode::kReadWriteIfFree);
  if (!archive.ok()) return Fail(archive.status());
  AccountStore store(archive->get(), nullptr);
  auto accounts = store.List();
  if (!accounts.ok()) return Fail(accounts.status());
  if (json) {
    Poco::JSON::Object doc;
    Poco::JSON::Array list;
    for (const Account& a : *accounts) {
      Poco::JSON::Object o;
      o.set("name", a.name);
      o.set("host", a.host);
      o.set("port", a.EffectivePort());
      o.set("user", a.user);
      o.set("tls", std::string(TlsModeName(a.tls)));
      o.set("ca", a.ca);
      o.set("fingerprint", a.fingerprint);
      o.set("policy", a.policy.ToString());
      o.set("schedule", a.schedule);
      list.add(o);
    }
    doc.set("accounts", list);
    std::printf("%s\n", Json(doc).c_str());
    return 0;
  }
  for (const Account& a : *accounts) {
    std::printf("%-20s %s@%s:%d  %s  %s%s\n", a.name.c_str(), a.user.c_str(), a.host.c_str(),
                a.EffectivePort(), std::string(TlsModeName(a.tls)).c_str(),
                a.policy.ToString().c_str(),
                a.schedule.empty() ? "" : ("  schedule " + a.schedule).c_str());
  }
  if (accounts->empty()) std::printf("no accounts (add one with `mailvault account add`)\n");
  return 0;
}

int RunAccountTest(const GlobalFlags& g, const std::string& name) {
  auto archive = OpenArchive(g, ArchiveOptions::Mode::kReadWriteIfFree);
  if (!archive.ok()) return Fail(archive.status());
  auto box = SecretBox::Open(g.data_dir);
  if (!box.ok()) return Fail(box.status());
  AccountStore store(archive->get(), box->get());
  auto account = store.Get(name);
  if (!account.ok()) return Fail(account.status());
  auto password = store.Password(name);
  if (!password.ok()) return Fail(password.status());
  const CollectionOptions options = CollectionOptionsFrom(g.settings.collector);
  auto probe = ProbeAccount(*account, *password, options);
  if (!probe.ok()) return Fail(probe.status().WithContext("account " + name));
  std::printf(
      "account %s: connected to %s:%d, %s, logged in as %s\n", name.c_str(), account->host.c_str(),
      account->EffectivePort(),
      probe->tls ? ("TLS, certificate sha256 " + probe->peer_fingerprint).c_str() : "no TLS",
      account->user.c_str());
  if (!probe->implementation.empty()) std::printf("server: %s\n", probe->implementation.c_str());
  std::string caps;
  for (const auto& c : probe->capabilities) caps += (caps.empty() ? "" : ", ") + c;
  std::printf("capabilities: %s\n", caps.c_str());
  std::printf("messages: %llu (%s)\n", static_cast<unsigned long long>(probe->messages),
              FormatBytes(probe->octets).c_str());
  return 0;
}

int RunAccountRemove(const GlobalFlags& g, const std::string& name) {
  auto archive = OpenArchive(g, ArchiveOptions::Mode::kReadWriteIfFree);
  if (!archive.ok()) return Fail(archive.status());
  AccountStore store(archive->get(), nullptr);
  Status s = store.Remove(name);
  if (!s.ok()) return Fail(s);
  std::printf("account %s removed; its archived mail stays\n", name.c_str());
  return 0;
}

namespace {

// Prints one run as `collect` does (human lines, or one object added to `runs`).
// `error` is the run's error, nullopt when it ran to the end.
void PrintRun(const RunReport& report, const std::optional<std::string>& error, bool json,
              Poco::JSON::Array* runs) {
  if (json) {
    Poco::JSON::Object o;
    o.set("account", report.account);
    o.set("run", report.run_id);
    o.set("seen", report.seen);
    o.set("archived_before", report.archived_before);
    o.set("new", report.new_messages);
    o.set("duplicate", report.duplicate);
    o.set("failed", report.failed);
    o.set("skipped", report.skipped);
    o.set("deleted", report.deleted);
    o.set("removed", report.removed);
    o.set("bytes", report.bytes);
    o.set("accounted", report.accounted());
    o.set("complete", report.complete());
    o.set("uidl_fallback", report.uidl_fallback);
    o.set("error", error ? Poco::Dynamic::Var(*error) : Poco::Dynamic::Var());
    Poco::JSON::Array items;
    for (const RunItem& i : report.items) {
      Poco::JSON::Object item;
      item.set("uidl", i.uidl);
      item.set("number", i.number);
      item.set("octets", i.octets);
      item.set("outcome", i.outcome);
      item.set("reason", i.reason);
      items.add(item);
    }
    o.set("items", items);
    runs->add(o);
    return;
  }
  std::printf(
      "%s: %llu on server: %llu archived before, %llu new, %llu duplicate, %llu failed, "
      "%llu skipped, %llu deleted; %s%s\n",
      report.account.c_str(), static_cast<unsigned long long>(report.seen),
      static_cast<unsigned long long>(report.archived_before),
      static_cast<unsigned long long>(report.new_messages),
      static_cast<unsigned long long>(report.duplicate),
      static_cast<unsigned long long>(report.failed),
      static_cast<unsigned long long>(report.skipped),
      static_cast<unsigned long long>(report.deleted), FormatBytes(report.bytes).c_str(),
      report.complete() ? ", complete"
                        : (report.accounted() ? ", every message accounted for" : ""));
  for (const RunItem& i : report.items) {
    std::printf("  %s %u (%s): %s\n", i.outcome.c_str(), i.number, i.uidl.c_str(),
                i.reason.c_str());
  }
  if (error) std::fprintf(stderr, "mailvault: collect %s: %s\n", report.account.c_str(), error->c_str());
}

std::optional<std::string> ErrorOf(const RunReport& report) {
  if (report.status.ok()) return std::nullopt;
  return report.status.ToString();
}

// A run recorded in the catalog, as a report.
RunReport ReportOf(const RunRecord& r, std::vector<RunItem> items) {
  RunReport report;
  report.run_id = r.id;
  report.account = r.account;
  report.started_at = r.started_at;
  report.ended_at = r.ended_at.value_or(0);
  report.seen = r.seen;
  report.archived_before = r.archived_before;
  report.new_messages = r.new_messages;
  report.duplicate = r.duplicate;
  report.failed = r.failed;
  report.skipped = r.skipped;
  report.deleted = r.deleted;
  report.removed = r.removed;
  report.bytes = r.bytes;
  // A run that listed the server accounts for every message it saw.
  report.listed = r.seen == r.archived_before + r.new_messages + r.duplicate + r.failed + r.skipped &&
                  (r.seen > 0 || r.state == "ok");
  report.items = std::move(items);
  return report;
}

// `collect` while `serve` holds the archive: asks the daemon over its control
// socket to run the accounts now, waits until each has a new finished run,
// and prints those runs from the catalog.
int CollectThroughServe(const GlobalFlags& g, const CollectFlags& f, ControlClient& client) {
  auto archive = OpenArchive(g, ArchiveOptions::Mode::kReadOnly);
  if (!archive.ok()) return Fail(archive.status());
  std::optional<std::string> only;
  if (!f.account.empty()) only = f.account;
  // The id of the account's newest run, and whether that run has ended.
  auto latest_run = [&](const std::string& name) -> Result<std::pair<int64_t, bool>> {
    MV_ASSIGN_OR_RETURN(std::vector<RunRecord> runs, RecentRuns(**archive, name, 1));
    if (runs.empty()) return std::make_pair(int64_t{0}, true);
    return std::make_pair(runs[0].id, runs[0].state != "running");
  };
  std::map<std::string, int64_t> before;
  {
    AccountStore store(archive->get(), nullptr);
    auto accounts = store.List();
    if (!accounts.ok()) return Fail(accounts.status());
    for (const Account& a : *accounts) {
      auto id = latest_run(a.name);
      if (!id.ok()) return Fail(id.status());
      before[a.name] = id->first;
    }
  }
  auto accepted = client.RunNow(only);
  if (!accepted.ok()) return Fail(accepted.status());
  if (!f.json) {
    std::fprintf(stderr, "mailvault serve is running: it collects %zu account(s) now\n",
                 accepted->size());
  }
  const int rounds = 1 + static_cast<int>(accepted->size()) /
                             std::max(1, g.settings.collector.max_sessions);
  const auto deadline = std::chrono::steady_clock::now() +
                        g.settings.collector.session_deadline * rounds + std::chrono::minutes(1);
  ProgressBar bar("collect (serve)", accepted->size(), false);
  std::set<std::string> waiting(accepted->begin(), accepted->end());
  std::map<std::string, int64_t> finished;  // the run that ended the wait, per account
  while (!waiting.empty()) {
    auto status = client.Poll();
    if (!status.ok()) return Fail(status.status().WithContext("mailvault serve went away"));
    std::set<std::string> busy;
    for (const AccountSchedule& s : status->accounts) {
      if (s.running || s.run_now_pending) busy.insert(s.account);
    }
    for (auto it = waiting.begin(); it != waiting.end();) {
      auto id = latest_run(*it);
      if (!id.ok()) return Fail(id.status());
      // A run recorded as running is not done even when the status no longer
      // shows the account busy (the two are not read at one instant).
      bool done = busy.count(*it) == 0 && id->first > before[*it] && id->second;
      if (done) finished[*it] = id->first;
      it = done ? waiting.erase(it) : std::next(it);
    }
    bar.Update(accepted->size() - waiting.size());
    if (waiting.empty()) break;
    if (std::chrono::steady_clock::now() > deadline) {
      bar.Done();
      return Fail(Status::Timeout("mailvault serve did not finish the runs in time"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  bar.Done();

  bool any_failed = false;
  Poco::JSON::Array runs;
  for (const std::string& name : *accepted) {
    // That run, not the newest: the schedule may have started another since,
    // which was reported as "run running" with exit 1 (ServeTest, under load).
    auto records = RecentRuns(**archive, name, 20);
    if (!records.ok() || records->empty()) return Fail(records.status());
    auto found = std::find_if(records->begin(), records->end(),
                              [&](const RunRecord& r) { return r.id == finished[name]; });
    const RunRecord& r = found != records->end() ? *found : records->front();
    auto items = RunItems(**archive, r.id);
    if (!items.ok()) return Fail(items.status());
    std::optional<std::string> error = r.error;
    if (r.state != "ok" && !error) error = "run " + r.state;
    any_failed |= error.has_value();
    PrintRun(ReportOf(r, *std::move(items)), error, f.json, &runs);
  }
  if (f.json) {
    Poco::JSON::Object doc;
    doc.set("runs", runs);
    std::printf("%s\n", Json(doc).c_str());
  }
  return any_failed ? 1 : 0;
}

}  // namespace

int RunCollect(const GlobalFlags& g, const CollectFlags& f) {
  auto archive = OpenArchive(g, ArchiveOptions::Mode::kReadWrite);
  if (!archive.ok()) {
    // Held by `serve`: let the daemon run them (its scheduler keeps the limits).
    if (archive.status().code() == StatusCode::kUnavailable) {
      auto client = ControlClient::Connect(g.data_dir);
      if (client.ok()) return CollectThroughServe(g, f, *client);
    }
    return Fail(archive.status());
  }
  auto box = SecretBox::Open(g.data_dir);
  if (!box.ok()) return Fail(box.status());
  AccountStore store(archive->get(), box->get());
  if (!g.settings.accounts.empty()) {
    auto applied = ApplyConfiguredAccounts(store, g.settings.accounts, g.config_path);
    if (!applied.ok()) return Fail(applied.status());
  }
  std::vector<Account> accounts;
  if (!f.account.empty()) {
    auto a = store.Get(f.account);
    if (!a.ok()) return Fail(a.status());
    accounts.push_back(*a);
  } else {
    auto all = store.List();
    if (!all.ok()) return Fail(all.status());
    accounts = *all;
  }
  const CollectionOptions options = CollectionOptionsFrom(g.settings.collector);

  bool any_failed = false;
  Poco::JSON::Array runs;
  for (const Account& account : accounts) {
    RunReport report;
    auto password = store.Password(account.name);
    if (!password.ok()) {
      report.account = account.name;
      report.status = password.status();
    } else {
      ProgressBar bar("collect " + account.name, 0, false);
      CollectionOptions o = options;
      o.commit_every_messages = f.commit_every == 0 ? 1 : f.commit_every;
      o.on_progress = [&](const RunProgress& p) {
        bar.Update(p.fetched,
                   "of " + std::to_string(p.to_fetch) + " messages, " + FormatBytes(p.bytes));
      };
      report = RunCollection(**archive, account, *password, o);
      bar.Done();
    }
    any_failed |= !report.status.ok();
    PrintRun(report, ErrorOf(report), f.json, &runs);
  }
  if (f.json) {
    Poco::JSON::Object doc;
    doc.set("runs", runs);
    std::printf("%s\n", Json(doc).c_str());
  } else if (accounts.empty()) {
    std::printf("no accounts to collect (add one with `mailvault account add`)\n");
  }
  return any_failed ? 1 : 0;
}

}  // namespace mailvault
