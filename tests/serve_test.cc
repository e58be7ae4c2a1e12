// `mailvault serve` end to end: the built binary with a configuration that
// declares 20 accounts on the real Dovecot (tests/dovecot_server.h), a schedule
// of every minute and a clock running 60 times faster than real time
// (MAILVAULT_CLOCK_SPEED). It checks that every account is collected on
// schedule, again after new mail arrives, that the session limits held (from
// the daemon's own run start/end log lines and /metrics), that the run history
// is right (every run ok or, at shutdown, interrupted; no two runs of one
// account overlap), /healthz, and that SIGTERM ends the process cleanly.
// Bad configuration files are refused before anything is touched.
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include "archive/archive.h"
#include "collector/collection_run.h"
#include "tests/dovecot_server.h"
#include "tests/testing.h"

namespace mailvault {
namespace {

using std::chrono::milliseconds;
using testing::DovecotSuite;
using testing::ReadFile;
using testing::WriteFile;

constexpr int kAccounts = 20;
constexpr int kMessagesEach = 5;
constexpr int kMaxSessions = 3;
constexpr int kMaxPerHost = 2;

struct HttpAnswer {
  int status = 0;
  std::string body;
};

HttpAnswer Get(uint16_t port, const std::string& path) {
  HttpAnswer answer;
  try {
    Poco::Net::HTTPClientSession session("127.0.0.1", port);
    session.setTimeout(Poco::Timespan(5, 0));
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, path,
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    session.sendRequest(request);
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    Poco::StreamCopier::copyToString(in, answer.body);
    answer.status = response.getStatus();
  } catch (const std::exception&) {
    answer.status = 0;  // not up (yet)
  }
  return answer;
}

// The value of one sample of the Prometheus text, or -1.
double Metric(const std::string& text, const std::string& sample) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(sample + " ", 0) == 0) return std::stod(line.substr(sample.size() + 1));
  }
  return -1;
}

// The /metrics text once `sample` is at least `at_least` (bounded: 90 s), or
// "serve exited" / "timed out".
std::string MetricsUntil(uint16_t port, testing::BackgroundProcess& serve, const std::string& sample,
                         double at_least) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  while (std::chrono::steady_clock::now() < deadline) {
    HttpAnswer m = Get(port, "/metrics");
    if (m.status == 200 && Metric(m.body, sample) >= at_least) return m.body;
    if (serve.Wait(milliseconds(0))) return "serve exited";
    std::this_thread::sleep_for(milliseconds(100));
  }
  return "timed out";
}

std::string Mail(const std::string& user, int i) {
  return "From: Sender <sender@example.org>\nTo: " + user + "@example.org\nSubject: serve " +
         std::to_string(i) + "\nMessage-ID: <serve." + std::to_string(i) + "." + user +
         "@example.org>\n\nmessage " + std::to_string(i) + " for " + user + "\n";
}

class ServeTest : public DovecotSuite {
 protected:
  testing::TempDir dir_;
};

TEST_F(ServeTest, TwentyAccountsOnScheduleWithinTheLimitsThenSigtermEndsCleanly) {
  ASSERT_NE(server_, nullptr) << "Dovecot did not start: " << start_error_;
  auto port = testing::FreePort();
  ASSERT_TRUE(port.ok());
  const std::string data = dir_.path() + "/data";
  const std::string log = dir_.path() + "/serve.log";
  std::string config =
      "[archive]\ndata_dir = " + data + "\n[web]\nlisten = 127.0.0.1:" + std::to_string(*port) +
      "\n[collector]\nschedule = * * * * *\ntimezone = UTC\njitter = 10s\nmax_sessions = " +
      std::to_string(kMaxSessions) + "\nmax_sessions_per_host = " + std::to_string(kMaxPerHost) +
      "\nconnect_timeout = 10s\nread_timeout = 10s\n[log]\nlevel = info\ndestination = " + log +
      "\n";
  std::vector<std::string> users;
  std::map<std::string, std::string> host_of;
  for (int i = 0; i < kAccounts; ++i) {
    std::string user = "serve-" + std::to_string(i);
    std::string password = "pw-" + std::to_string(i);
    ASSERT_TRUE(server_->AddUser(user, password).ok());
    for (int m = 0; m < kMessagesEach; ++m) ASSERT_TRUE(server_->Deliver(user, Mail(user, m)).ok());
    std::string password_file = dir_.path() + "/" + user + ".password";
    WriteFile(password_file, password + "\n");
    // Two names for the one server, so that both limits can bind.
    std::string host = i % 2 == 0 ? "127.0.0.1" : "localhost";
    host_of[user] = host;
    config += "\n[account." + user + "]\nhost = " + host +
              "\nport = " + std::to_string(server_->pop3_port()) + "\nuser = " + user +
              "\npassword_file = " + password_file + "\ntls = none\n";
    users.push_back(user);
  }
  const std::string config_path = dir_.path() + "/mailvault.ini";
  WriteFile(config_path, config);

  testing::BackgroundProcess serve({testing::MailvaultBinary(), "--config", config_path, "serve"},
                                   {"MAILVAULT_CLOCK_SPEED=60"}, dir_.path() + "/serve.out");
  auto metrics_until = [&](const std::string& sample, double at_least) {
    return MetricsUntil(*port, serve, sample, at_least);
  };

  // Every account collected at its first slot (within about a real second).
  std::string first = metrics_until("mailvault_messages_archived_total", kAccounts * kMessagesEach);
  ASSERT_NE(first.find("mailvault_up 1"), std::string::npos)
      << first << "\n" << ReadFile(dir_.path() + "/serve.out");
  HttpAnswer health = Get(*port, "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_NE(health.body.find("ok"), std::string::npos);
  EXPECT_EQ(Get(*port, "/no-such-path").status, 404);

  // New mail is collected at the next slots.
  for (const std::string& user : users) {
    ASSERT_TRUE(server_->Deliver(user, Mail(user, 100)).ok());
  }
  std::string second =
      metrics_until("mailvault_messages_archived_total", kAccounts * (kMessagesEach + 1));
  ASSERT_NE(second.find("mailvault_up 1"), std::string::npos) << second << ReadFile(log);
  // And at least one more round of runs, each finding nothing new.
  std::string third = metrics_until("mailvault_collection_runs_total{outcome=\"ok\"}", 3 * kAccounts);
  ASSERT_NE(third.find("mailvault_up 1"), std::string::npos) << third << ReadFile(log);
  EXPECT_EQ(Metric(third, "mailvault_collection_runs_total{outcome=\"failed\"}"), 0) << ReadFile(log);
  EXPECT_LE(Metric(third, "mailvault_sessions_running_peak"), kMaxSessions);
  EXPECT_GE(Metric(third, "mailvault_sessions_running_peak"), 1);
  for (const std::string& user : users) {
    EXPECT_GT(Metric(third, "mailvault_account_last_success_timestamp_seconds{account=\"" + user +
                                "\"}"),
              0)
        << user;
  }

  // `collect` while serve holds the archive: the daemon runs the accounts
  // (through its control socket) and collect prints those runs.
  ASSERT_TRUE(server_->Deliver(users[3], Mail(users[3], 200)).ok());
  testing::ProcessResult one = testing::RunProcess(
      {testing::MailvaultBinary(), "--config", config_path, "collect", "--json", "--account",
       users[3]});
  EXPECT_EQ(one.exit_code, 0) << one.err << one.out;
  EXPECT_NE(one.out.find("\"account\":\"" + users[3] + "\""), std::string::npos) << one.out;
  EXPECT_EQ(one.out.find("\"account\":\"" + users[4] + "\""), std::string::npos) << one.out;
  EXPECT_NE(one.out.find("\"error\":null"), std::string::npos) << one.out;
  testing::ProcessResult all = testing::RunProcess(
      {testing::MailvaultBinary(), "--config", config_path, "collect", "--json"});
  EXPECT_EQ(all.exit_code, 0) << all.err << all.out;
  for (const std::string& user : users) {
    EXPECT_NE(all.out.find("\"account\":\"" + user + "\""), std::string::npos) << user;
  }
  testing::ProcessResult unknown = testing::RunProcess(
      {testing::MailvaultBinary(), "--config", config_path, "collect", "--account", "nobody"});
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.err.find("nobody"), std::string::npos) << unknown.err;

  // SIGTERM: the process finishes what is in flight and exits 0, promptly.
  auto term_sent = std::chrono::steady_clock::now();
  serve.Signal(SIGTERM);
  auto exited = serve.Wait(std::chrono::seconds(30));
  ASSERT_TRUE(exited.has_value()) << "serve did not exit within 30 s of SIGTERM";
  EXPECT_EQ(exited->exit_code, 0) << ReadFile(log);
  EXPECT_LT(std::chrono::steady_clock::now() - term_sent, std::chrono::seconds(20));
  const std::string log_text = ReadFile(log);
  EXPECT_NE(log_text.find("mailvault serve: stopped"), std::string::npos) << log_text;
  EXPECT_FALSE(std::filesystem::exists(data + "/control/serve.sock"));

  // The limits, replayed from the log: lines are written in order under one
  // lock, a run's start line after it was granted and its end line before it
  // was released, so the counts below never exceed what the scheduler allowed.
  std::regex start_re("run start account=(\\S+) host=(\\S+)");
  std::regex end_re("run end account=(\\S+) run=\\d+ state=(\\w+)");
  std::map<std::string, int> per_host, per_account;
  std::map<std::string, int> runs_of;
  int total = 0, peak_total = 0, peak_host = 0, starts = 0, ends = 0;
  std::istringstream lines(log_text);
  std::string line;
  while (std::getline(lines, line)) {
    std::smatch m;
    if (std::regex_search(line, m, start_re)) {
      ++starts;
      EXPECT_EQ(host_of[m[1]], m[2]) << line;
      EXPECT_EQ(++per_account[m[1]], 1) << "two runs of one account at once: " << line;
      peak_host = std::max(peak_host, ++per_host[m[2]]);
      peak_total = std::max(peak_total, ++total);
    } else if (std::regex_search(line, m, end_re)) {
      ++ends;
      --per_account[m[1]];
      --per_host[host_of[m[1]]];
      --total;
      ++runs_of[m[1]];
      EXPECT_TRUE(m[2] == "ok" || m[2] == "interrupted") << line;
    }
  }
  EXPECT_EQ(starts, ends) << "every run started also ended before the exit";
  EXPECT_GE(starts, 3 * kAccounts);
  EXPECT_LE(peak_total, kMaxSessions);
  EXPECT_LE(peak_host, kMaxPerHost);
  EXPECT_GE(peak_total, 2) << "20 due accounts should have run side by side";

  // The run history in the catalog agrees, and the archive holds everything.
  ArchiveOptions o;
  o.data_dir = data;
  auto archive = Archive::Open(o);
  ASSERT_TRUE(archive.ok()) << archive.status().ToString();
  EXPECT_EQ((*archive)->Stats()->messages,
            static_cast<uint64_t>(kAccounts * (kMessagesEach + 1) + 1));
  for (const std::string& user : users) {
    auto runs = RecentRuns(**archive, user, 1000);
    ASSERT_TRUE(runs.ok());
    EXPECT_EQ(static_cast<int>(runs->size()), runs_of[user]) << user;
    EXPECT_GE(runs->size(), 3u) << user;
    uint64_t fetched = 0;
    // Newest first: each run ended no later than the next one started.
    for (size_t i = 0; i < runs->size(); ++i) {
      const RunRecord& r = (*runs)[i];
      EXPECT_TRUE(r.state == "ok" || r.state == "interrupted") << user << " " << r.state;
      ASSERT_TRUE(r.ended_at.has_value()) << user << " run " << r.id;
      fetched += r.new_messages;
      if (i + 1 < runs->size()) {
        EXPECT_LE(*(*runs)[i + 1].ended_at, r.started_at) << user;
      }
    }
    EXPECT_EQ(fetched, static_cast<uint64_t>(kMessagesEach + 1 + (user == users[3] ? 1 : 0)))
        << user;
  }
}

// The nightly compaction, every minute here (the clock runs 60 times faster):
// serve compacts the archive's tail between collections, which hold new runs
// back only while it runs; `mailvault compact` beside serve asks serve to do
// it; nothing is lost and the archive verifies clean afterwards.
TEST_F(ServeTest, CompactsBetweenCollectionsAndOnRequest) {
  ASSERT_NE(server_, nullptr) << "Dovecot did not start: " << start_error_;
  auto port = testing::FreePort();
  ASSERT_TRUE(port.ok());
  const std::string data = dir_.path() + "/data";
  const std::string log = dir_.path() + "/serve.log";
  constexpr int kUsers = 4;
  std::string config = "[archive]\ndata_dir = " + data +
                       "\ncompact_schedule = * * * * *\ncompact_min_size = 0\n[web]\nlisten = 127.0.0.1:" +
                       std::to_string(*port) +
                       "\n[collector]\nschedule = * * * * *\ntimezone = UTC\njitter = 20s\n"
                       "connect_timeout = 10s\nread_timeout = 10s\n[log]\nlevel = info\ndestination = " +
                       log + "\n";
  std::vector<std::string> users;
  for (int i = 0; i < kUsers; ++i) {
    std::string user = "compact-" + std::to_string(i);
    ASSERT_TRUE(server_->AddUser(user, "pw").ok());
    for (int m = 0; m < kMessagesEach; ++m) ASSERT_TRUE(server_->Deliver(user, Mail(user, m)).ok());
    WriteFile(dir_.path() + "/" + user + ".password", "pw\n");
    config += "\n[account." + user + "]\nhost = 127.0.0.1\nport = " + std::to_string(server_->pop3_port()) +
              "\nuser = " + user + "\npassword_file = " + dir_.path() + "/" + user + ".password\ntls = none\n";
    users.push_back(user);
  }
  const std::string config_path = dir_.path() + "/mailvault.ini";
  WriteFile(config_path, config);
  testing::BackgroundProcess serve({testing::MailvaultBinary(), "--config", config_path, "serve"},
                                   {"MAILVAULT_CLOCK_SPEED=60"}, dir_.path() + "/serve.out");
  auto metrics_until = [&](const std::string& sample, double at_least) {
    return MetricsUntil(*port, serve, sample, at_least);
  };
  std::string collected = metrics_until("mailvault_messages_archived_total", kUsers * kMessagesEach);
  ASSERT_NE(collected.find("mailvault_up 1"), std::string::npos) << collected << ReadFile(log);
  std::string compacted = metrics_until("mailvault_compactions_total", 1);
  ASSERT_NE(compacted.find("mailvault_up 1"), std::string::npos) << compacted << ReadFile(log);
  const double compactions = Metric(compacted, "mailvault_compactions_total");

  // New mail after a compaction is collected into a new pack, and compacted in
  // turn (a compaction later, nothing is left uncompacted).
  for (const std::string& user : users) ASSERT_TRUE(server_->Deliver(user, Mail(user, 100)).ok());
  std::string more = metrics_until("mailvault_messages_archived_total", kUsers * (kMessagesEach + 1));
  ASSERT_NE(more.find("mailvault_up 1"), std::string::npos) << more << ReadFile(log);
  std::string again;
  for (int i = 0; i < 900; ++i) {
    again = metrics_until("mailvault_compactions_total", compactions + 1);
    if (Metric(again, "mailvault_archive_uncompacted_bytes") == 0) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  ASSERT_NE(again.find("mailvault_up 1"), std::string::npos) << again << ReadFile(log);
  EXPECT_EQ(Metric(again, "mailvault_archive_uncompacted_bytes"), 0) << again << ReadFile(log);
  EXPECT_EQ(Metric(again, "mailvault_compaction_failures_total"), 0) << ReadFile(log);
  EXPECT_EQ(Metric(again, "mailvault_collection_runs_total{outcome=\"failed\"}"), 0) << ReadFile(log);

  // `compact` beside serve: serve does it, the CLI follows and reports.
  testing::ProcessResult cli =
      testing::RunProcess({testing::MailvaultBinary(), "--config", config_path, "compact"});
  EXPECT_EQ(cli.exit_code, 0) << cli.err << cli.out;
  EXPECT_NE(cli.err.find("mailvault serve is running"), std::string::npos) << cli.err;
  EXPECT_NE(cli.out.find("compact"), std::string::npos) << cli.out;

  serve.Signal(SIGTERM);
  auto exited = serve.Wait(std::chrono::seconds(30));
  ASSERT_TRUE(exited.has_value()) << "serve did not exit within 30 s of SIGTERM";
  EXPECT_EQ(exited->exit_code, 0) << ReadFile(log);
  const std::string log_text = ReadFile(log);
  EXPECT_NE(log_text.find("swapped in place"), std::string::npos) << log_text;
  EXPECT_NE(log_text.find("new runs held back while the archive is compacted"), std::string::npos);

  ArchiveOptions o;
  o.data_dir = data;
  auto archive = Archive::Open(o);
  ASSERT_TRUE(archive.ok()) << archive.status().ToString();
  EXPECT_EQ((*archive)->Stats()->messages, static_cast<uint64_t>(kUsers * (kMessagesEach + 1)));
  VerifyReport report;
  ASSERT_TRUE((*archive)->Verify(&report).ok());
  EXPECT_TRUE(report.ok()) << report.faults.front().where << ": " << report.faults.front().problem;
  for (const std::string& user : users) {
    for (int m : {0, kMessagesEach - 1, 100}) {
      Digest id = Sha256::Of(testing::CanonicalizeForTest(Mail(user, m)));
      auto info = (*archive)->Info(id);
      ASSERT_TRUE(info.ok()) << user << " " << m << ": " << info.status().ToString();
      ASSERT_EQ(info->provenance.size(), 1u);
      EXPECT_EQ(info->provenance[0].source, user);
    }
  }
}

// Each kind of configuration error is refused with the file, the line and the
// key named, before the data directory is created.
TEST(ServeConfigTest, BadConfigurationIsRefusedNamingFileLineAndKey) {
  testing::TempDir dir;
  const std::string data = dir.path() + "/data";
  struct Case {
    std::string name;
    std::string body;  // after the [archive] section (lines 1-2)
    std::string expected;
  };
  const std::string head = "[archive]\ndata_dir = " + data + "\n";
  const std::vector<Case> cases = {
      {"unknown key", "[collector]\nmax_sesions = 3\n", "bad.ini:4: [collector] max_sesions"},
      {"wrong type", "[collector]\nmax_sessions = lots\n", "bad.ini:4: [collector] max_sessions"},
      {"bad cron", "[collector]\nschedule = 0 25 * * *\n", "bad.ini:4: [collector] schedule"},
      {"bad listen", "[web]\nlisten = nowhere\n", "bad.ini:4: [web] listen"},
      {"bad compaction schedule", "compact_schedule = 4 * *\n", "bad.ini:3: [archive] compact_schedule"},
      {"bad account", "[account.a1]\nhost = h\nuser = u\npassword_file = " + dir.path() +
                          "/missing\ntls = none\n",
       "bad.ini:3: [account.a1]: password_file"},
  };
  for (const Case& c : cases) {
    const std::string path = dir.path() + "/bad.ini";
    WriteFile(path, head + c.body);
    testing::ProcessResult r =
        testing::RunProcess({testing::MailvaultBinary(), "--config", path, "serve"});
    EXPECT_NE(r.exit_code, 0) << c.name;
    EXPECT_NE(r.err.find(c.expected), std::string::npos) << c.name << ": " << r.err;
    EXPECT_FALSE(std::filesystem::exists(data)) << c.name << ": the data directory was touched";
  }
  testing::ProcessResult missing = testing::RunProcess(
      {testing::MailvaultBinary(), "--config", dir.path() + "/nope.ini", "serve"});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("nope.ini"), std::string::npos) << missing.err;
}


// With a certificate and key, the web UI is HTTPS only: the session cookie is
// Secure (and HttpOnly, SameSite), HSTS is sent, and plain HTTP gets nothing.
TEST(ServeHttpsTest, WebUiOverHttpsWithSecureCookiesAndTheFirstAdminPrintedOnce) {
  testing::TempDir dir;
  const std::string cert = dir.path() + "/cert.pem", key = dir.path() + "/key.pem";
  testing::ProcessResult made = testing::RunProcess(
      {"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
       "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
       "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  auto port = testing::FreePort();
  ASSERT_TRUE(port.ok());
  const std::string config_path = dir.path() + "/mailvault.ini";
  WriteFile(config_path, "[archive]\ndata_dir = " + dir.path() + "/data\n[web]\nlisten = 127.0.0.1:" +
                             std::to_string(*port) + "\ntls_cert = " + cert + "\ntls_key = " + key +
                             "\n[collector]\nschedule = 0 3 1 1 *\n");
  const std::string out = dir.path() + "/serve.out";
  testing::BackgroundProcess serve({testing::MailvaultBinary(), "--config", config_path, "serve"},
                                   {}, out);

  Poco::Net::Context::Ptr context(new Poco::Net::Context(
      Poco::Net::Context::TLS_CLIENT_USE, "", "", cert, Poco::Net::Context::VERIFY_STRICT));
  struct Answer {
    int status = 0;
    std::string body;
    Poco::Net::HTTPResponse head;
  };
  auto https = [&](const std::string& method, const std::string& path, const std::string& body) {
    Answer a;
    try {
      Poco::Net::HTTPSClientSession session("127.0.0.1", *port, context);
      session.setTimeout(Poco::Timespan(5, 0));
      Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
      if (!body.empty()) {
        request.setContentType("application/json");
        request.setContentLength(static_cast<std::streamsize>(body.size()));
      }
      session.sendRequest(request) << body;
      Poco::StreamCopier::copyToString(session.receiveResponse(a.head), a.body);
      a.status = a.head.getStatus();
    } catch (const std::exception&) {
      a.status = 0;
    }
    return a;
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (https("GET", "/healthz", "").status != 200 && std::chrono::steady_clock::now() < deadline) {
    ASSERT_FALSE(serve.Wait(std::chrono::milliseconds(100)).has_value()) << ReadFile(out);
  }
  ASSERT_EQ(https("GET", "/healthz", "").status, 200) << ReadFile(out);
  EXPECT_EQ(Get(*port, "/healthz").status, 0) << "plain HTTP on the HTTPS port";

  std::smatch m;
  const std::string printed = ReadFile(out);
  const std::regex first_admin("log in as user \"admin\" with password (\\S+)");
  ASSERT_TRUE(std::regex_search(printed, m, first_admin)) << printed;
  Answer login = https("POST", "/api/login",
                       "{\"user\": \"admin\", \"password\": \"" + m[1].str() + "\"}");
  ASSERT_EQ(login.status, 200) << login.body;
  const std::string cookie = login.head.get("Set-Cookie", "");
  EXPECT_NE(cookie.find("; Secure"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos) << cookie;
  EXPECT_NE(login.head.get("Strict-Transport-Security", ""), "");
  Answer page = https("GET", "/", "");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("<script type=\"module\""), std::string::npos) << page.body.substr(0, 300);

  serve.Signal(SIGTERM);
  auto exited = serve.Wait(std::chrono::seconds(30));
  ASSERT_TRUE(exited.has_value());
  EXPECT_EQ(exited->exit_code, 0) << ReadFile(out);
  // A second start prints no password: the admin exists.
  testing::BackgroundProcess again({testing::MailvaultBinary(), "--config", config_path, "serve"},
                                   {}, out + ".2");
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (https("GET", "/healthz", "").status != 200 && std::chrono::steady_clock::now() < deadline) {
    ASSERT_FALSE(again.Wait(std::chrono::milliseconds(100)).has_value()) << ReadFile(out + ".2");
  }
  again.Signal(SIGTERM);
  ASSERT_TRUE(again.Wait(std::chrono::seconds(30)).has_value());
  EXPECT_EQ(ReadFile(out + ".2").find("password"), std::string::npos) << ReadFile(out + ".2");
}

}  // namespace
}  // namespace mailvault
