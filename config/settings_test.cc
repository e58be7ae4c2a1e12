#include "config/settings.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/ini.h"
#include "tests/testing.h"

namespace mailvault {
namespace {

using std::chrono::seconds;
using testing::TempDir;
using testing::WriteFile;

TEST(SettingsTest, DefaultsAreTheDocumentedOnes) {
  Settings s = DefaultSettings();
  EXPECT_EQ(s.archive.data_dir, "./mailvault-data");
  EXPECT_EQ(s.archive.compact_schedule, "0 4 * * *");
  EXPECT_EQ(s.archive.compact_min_size, 8u << 20);
  EXPECT_EQ(s.web.listen, "127.0.0.1:8080");
  EXPECT_EQ(s.web.listen_host, "127.0.0.1");
  EXPECT_EQ(s.web.listen_port, 8080);
  EXPECT_EQ(s.web.tls_cert, "");
  EXPECT_EQ(s.collector.schedule, "0 2 * * *");
  EXPECT_EQ(s.collector.timezone, "");
  EXPECT_EQ(s.collector.jitter, seconds(600));
  EXPECT_EQ(s.collector.max_sessions, 8);
  EXPECT_EQ(s.collector.max_sessions_per_host, 2);
  EXPECT_EQ(s.collector.connect_timeout, seconds(30));
  EXPECT_EQ(s.collector.read_timeout, seconds(60));
  EXPECT_EQ(s.collector.session_deadline, seconds(6 * 3600));
  EXPECT_EQ(s.collector.max_message_size, 256u << 20);
  EXPECT_EQ(s.collector.retry_initial_delay, seconds(60));
  EXPECT_EQ(s.collector.retry_max_delay, seconds(3600));
  EXPECT_EQ(s.collector.retry_limit, 5);
  EXPECT_EQ(s.log.level, LogLevel::kInfo);
  EXPECT_EQ(s.log.destination, "stderr");
  EXPECT_TRUE(s.accounts.empty());
}

TEST(SettingsTest, ExampleFileParsesToExactlyTheDefaults) {
  std::string path = testing::SourceDir() + "/config/mailvault.example.ini";
  auto loaded = LoadSettings(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_TRUE(*loaded == DefaultSettings());

  // Its commented-out account, uncommented, is a valid account too.
  std::string text = testing::ReadFile(path);
  std::string account_part = text.substr(text.find("; [account.shop]"));
  std::string uncommented;
  for (size_t pos = 0; pos < account_part.size();) {
    size_t end = account_part.find('\n', pos);
    std::string line = account_part.substr(pos, end - pos);
    uncommented += line.substr(line.rfind("; ", 0) == 0 ? 2 : 0) + "\n";
    pos = end == std::string::npos ? account_part.size() : end + 1;
  }
  auto account = ParseSettings(uncommented, "example-account");
  ASSERT_TRUE(account.ok()) << account.status().ToString() << "\n" << uncommented;
  ASSERT_EQ(account->accounts.size(), 1u);
  const AccountSettings& shop = account->accounts[0];
  EXPECT_EQ(shop.host, "pop.example.com");
  EXPECT_EQ(shop.ca, "/etc/ssl/private-ca.pem");
  EXPECT_EQ(shop.fingerprint, "");
  EXPECT_EQ(shop.schedule, "");
  EXPECT_EQ(shop.policy.kind, DeletePolicy::Kind::kKeep);
}

TEST(SettingsTest, ReadsEveryKey) {
  TempDir dir;
  std::string path = dir.path() + "/mailvault.ini";
  WriteFile(path,
            "[archive]\ndata_dir = /var/lib/mailvault\ncompact_schedule = 30 3 * * 0\n"
            "compact_min_size = 64M\n"
            "[web]\nlisten = [::1]:8443\ntls_cert = /etc/mv/cert.pem\ntls_key = /etc/mv/key.pem\n"
            "[collector]\nschedule = */30 * * * *\ntimezone = Europe/Berlin\njitter = 90\n"
            "max_sessions = 20\nmax_sessions_per_host = 4\nconnect_timeout = 10s\n"
            "read_timeout = 2m\nsession_deadline = 1d\nmax_message_size = 1G\n"
            "retry_initial_delay = 30s\nretry_max_delay = 2h\nretry_limit = 0\n"
            "[log]\nlevel = debug\ndestination = /var/log/mailvault.log\n"
            "[account.shop]\nhost = pop.example.com\nuser = shop\npassword_file = /p\n"
            "policy = delete-after:30-days\nschedule = @hourly\n"
            "fingerprint = AB:CD:" +
                std::string(60, 'e') +
                "\n"
                "[account.plain]\nhost = 10.0.0.5\nport = 1110\nuser = u\npassword_file = /q\n"
                "tls = none\npolicy = delete-when-archived\n"
                "[account.starttls]\nhost = mail\nuser = u\npassword_file = /r\ntls = starttls\n"
                "ca = /etc/ca.pem\n");
  auto loaded = LoadSettings(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  const Settings& s = *loaded;
  EXPECT_EQ(s.archive.data_dir, "/var/lib/mailvault");
  EXPECT_EQ(s.archive.compact_schedule, "30 3 * * 0");
  EXPECT_EQ(s.archive.compact_min_size, 64u << 20);
  EXPECT_EQ(s.web.listen_host, "::1");
  EXPECT_EQ(s.web.listen_port, 8443);
  EXPECT_EQ(s.web.tls_key, "/etc/mv/key.pem");
  EXPECT_EQ(s.collector.schedule, "*/30 * * * *");
  EXPECT_EQ(s.collector.timezone, "Europe/Berlin");
  EXPECT_EQ(s.collector.jitter, seconds(90));
  EXPECT_EQ(s.collector.max_sessions, 20);
  EXPECT_EQ(s.collector.max_sessions_per_host, 4);
  EXPECT_EQ(s.collector.connect_timeout, seconds(10));
  EXPECT_EQ(s.collector.read_timeout, seconds(120));
  EXPECT_EQ(s.collector.session_deadline, seconds(86400));
  EXPECT_EQ(s.collector.max_message_size, uint64_t{1} << 30);
  EXPECT_EQ(s.collector.retry_initial_delay, seconds(30));
  EXPECT_EQ(s.collector.retry_max_delay, seconds(7200));
  EXPECT_EQ(s.collector.retry_limit, 0);
  EXPECT_EQ(s.log.level, LogLevel::kDebug);
  EXPECT_EQ(s.log.destination, "/var/log/mailvault.log");
  ASSERT_EQ(s.accounts.size(), 3u);
  const AccountSettings& shop = s.accounts[0];
  EXPECT_EQ(shop.name, "shop");
  EXPECT_EQ(shop.port, 995);
  EXPECT_EQ(shop.tls, TlsMode::kPop3s);
  EXPECT_EQ(shop.fingerprint, "abcd" + std::string(60, 'e'));
  EXPECT_EQ(shop.policy.ToString(), "delete-after:30-days");
  EXPECT_EQ(shop.schedule, "@hourly");
  EXPECT_EQ(shop.line, 25);
  EXPECT_EQ(s.accounts[1].port, 1110);
  EXPECT_EQ(s.accounts[1].tls, TlsMode::kNone);
  EXPECT_EQ(s.accounts[1].policy.kind, DeletePolicy::Kind::kDeleteWhenArchived);
  EXPECT_EQ(s.accounts[2].port, 110);
  EXPECT_EQ(s.accounts[2].ca, "/etc/ca.pem");
  EXPECT_EQ(TlsModeName(s.accounts[2].tls), "starttls");
}

struct BadFile {
  const char* kind;
  std::string text;
  std::string message;  // expected, after "<path>:"
};

// Every kind of error, each in its own file; the message names file, line and key.
TEST(SettingsTest, RefusesEveryKindOfErrorNamingFileLineAndKey) {
  const std::string kAccount = "[account.a]\nhost = h\nuser = u\npassword_file = /p\n";
  const BadFile cases[] = {
      {"unknown section", "[archive]\n[colector]\n",
       "2: [colector]: unknown section (expected [archive], [web], [collector], [log] or "
       "[account.NAME])"},
      {"unknown key", "[collector]\nmax_session = 3\n",
       "2: [collector] max_session: unknown key (did you mean max_sessions?)"},
      {"unknown key, no hint", "[web]\ncolour = blue\n", "2: [web] colour: unknown key"},
      {"wrong type", "; c\n\n[collector]\nmax_sessions = lots\n",
       "4: [collector] max_sessions: expected a whole number from 1 to 1000, got \"lots\""},
      {"out of range", "[collector]\nmax_sessions_per_host = 0\n",
       "2: [collector] max_sessions_per_host: expected a whole number from 1 to 1000, got \"0\""},
      {"out of range, big", "[collector]\nretry_limit = 99999999999999999999\n",
       "2: [collector] retry_limit: expected a whole number from 0 to 100, got "
       "\"99999999999999999999\""},
      {"bad duration", "[collector]\njitter = 5 minutes\n",
       "2: [collector] jitter: expected a duration such as 30s, 5m, 2h or 1d, from 0s to 1d, got "
       "\"5 minutes\""},
      {"duration out of range", "[collector]\nconnect_timeout = 2h\n",
       "2: [collector] connect_timeout: expected a duration such as 30s, 5m, 2h or 1d, from 1s to "
       "1h, got \"2h\""},
      {"bad size", "[collector]\nmax_message_size = 10T\n",
       "2: [collector] max_message_size: expected a size in bytes or with K, M or G, from 1024 "
       "bytes to 4G, got \"10T\""},
      {"back-off inverted", "[collector]\nretry_initial_delay = 2h\nretry_max_delay = 1h\n",
       "3: [collector] retry_max_delay: retry_max_delay (1h) is shorter than retry_initial_delay "
       "(2h)"},
      {"bad listen", "[web]\nlisten = localhost\n",
       "2: [web] listen: expected host:port such as 127.0.0.1:8080, 0.0.0.0:443 or [::1]:8080, "
       "got \"localhost\""},
      {"bad listen port", "[web]\nlisten = 127.0.0.1:70000\n",
       "2: [web] listen: expected host:port such as 127.0.0.1:8080, 0.0.0.0:443 or [::1]:8080, "
       "got \"127.0.0.1:70000\""},
      {"cert without key", "[web]\ntls_cert = /c.pem\n",
       "2: [web] tls_cert: needs tls_key as well (both or neither)"},
      {"bad cron", "[collector]\nschedule = 0 25 * * *\n",
       "2: [collector] schedule: cron \"0 25 * * *\": hour: 25 is out of range 0-23"},
      {"bad account cron", kAccount + "schedule = every night\n",
       "5: [account.a] schedule: cron \"every night\": expected 5 fields (minute hour "
       "day-of-month month day-of-week), got 2"},
      {"bad time zone", "[collector]\ntimezone = Mars/Olympus\n",
       "2: [collector] timezone: time zone \"Mars/Olympus\" is not in the TZ database "},
      {"bad log level", "[log]\nlevel = loud\n",
       "2: [log] level: expected debug, info, warning or error, got \"loud\""},
      {"empty data dir", "[archive]\ndata_dir =\n",
       "2: [archive] data_dir: expected a directory path, got \"\""},
      {"bad policy", kAccount + "policy = delete-after:soon\n",
       "5: [account.a] policy: expected keep, delete-after:N-days (N from 1 to 36500) or "
       "delete-when-archived, got \"delete-after:soon\""},
      {"bad tls", kAccount + "tls = ssl\n",
       "5: [account.a] tls: expected pop3s, starttls or none, got \"ssl\""},
      {"bad port", kAccount + "port = 0\n",
       "5: [account.a] port: expected a whole number from 1 to 65535, got \"0\""},
      {"bad fingerprint", kAccount + "fingerprint = abc\n",
       "5: [account.a] fingerprint: expected a SHA-256 fingerprint: 64 hex digits, colons "
       "allowed, got \"abc\""},
      {"ca and fingerprint", kAccount + "ca = /ca\nfingerprint = " + std::string(64, '0') + "\n",
       "6: [account.a] fingerprint: give either ca or fingerprint, not both"},
      {"ca without tls", kAccount + "tls = none\nca = /ca\n",
       "6: [account.a] ca: needs tls = pop3s or starttls (tls is none)"},
      {"missing host", "\n[account.a]\nuser = u\npassword_file = /p\n",
       "2: [account.a] host: required key is missing"},
      {"bad account name", "[account.a b]\n",
       "1: [account.a b]: an account name is 1 to 64 letters, digits, '.', '_', '-' or '@'"},
      {"empty account name", "[account.]\n",
       "1: [account.]: an account name is 1 to 64 letters, digits, '.', '_', '-' or '@'"},
      {"account twice", kAccount + "[account.A]\nhost = h\n",
       "5: [account.A]: another account has this name (names ignore case)"},
      {"duplicate key", "[collector]\nmax_sessions = 3\nmax_sessions = 4\n",
       "3: [collector] max_sessions: duplicate key (first at line 2)"},
      {"duplicate section", "[log]\n[web]\n[log]\n",
       "3: [log]: duplicate section (first at line 1)"},
      {"syntax error", "[log]\nlevel debug\n",
       "2: syntax error: expected \"key = value\" or \"[section]\", got \"level debug\""},
  };
  for (const BadFile& c : cases) {
    TempDir dir;
    std::string path = dir.path() + "/mailvault.ini";
    WriteFile(path, c.text);
    auto loaded = LoadSettings(path);
    ASSERT_FALSE(loaded.ok()) << c.kind;
    EXPECT_EQ(loaded.status().code(), StatusCode::kInvalidArgument) << c.kind;
    std::string expected = path + ":" + c.message;
    EXPECT_EQ(loaded.status().message().substr(0, expected.size()), expected)
        << c.kind << "\n  got: " << loaded.status().message();
  }
}

TEST(SettingsTest, RefusesUnreadableFiles) {
  TempDir dir;
  auto missing = LoadSettings(dir.path() + "/nope.ini");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(
      missing.status().message().find("cannot read configuration " + dir.path() + "/nope.ini"),
      std::string::npos)
      << missing.status().message();

  auto directory = LoadSettings(dir.path());
  ASSERT_FALSE(directory.ok());
  EXPECT_NE(directory.status().message().find("cannot read configuration " + dir.path()),
            std::string::npos);

  std::string big = dir.path() + "/big.ini";
  WriteFile(big, std::string(kMaxIniBytes + 10, '#'));
  auto too_big = LoadSettings(big);
  ASSERT_FALSE(too_big.ok());
  EXPECT_NE(too_big.status().message().find("larger than"), std::string::npos);

  if (::geteuid() != 0) {  // root reads anything
    std::string locked = dir.path() + "/locked.ini";
    WriteFile(locked, "[log]\n");
    ASSERT_EQ(::chmod(locked.c_str(), 0), 0);
    auto denied = LoadSettings(locked);
    ASSERT_FALSE(denied.ok());
    EXPECT_EQ(denied.status().code(), StatusCode::kPermissionDenied);
  }
}

TEST(SettingsTest, PolicyRoundTrips) {
  for (const char* text :
       {"keep", "delete-when-archived", "delete-after:1-days", "delete-after:36500-days"}) {
    auto policy = DeletePolicy::Parse(text);
    ASSERT_TRUE(policy.ok()) << text;
    EXPECT_EQ(policy->ToString(), text);
  }
  for (const char* text : {"", "Keep", "delete-after:0-days", "delete-after:-days",
                           "delete-after:3", "delete-after:36501-days"}) {
    EXPECT_FALSE(DeletePolicy::Parse(text).ok()) << text;
  }
}

}  // namespace
}  // namespace mailvault
