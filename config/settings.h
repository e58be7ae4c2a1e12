// Settings: everything mailvault.ini can say, with its defaults.
//
// LoadSettings() reads and validates one INI file (see config/ini.h for the
// syntax and config/mailvault.example.ini or doc/config.md for every key).
// Each error names the file, the line and the key, for example
//   mailvault.ini:12: [collector] max_sessions: expected a whole number from 1
//   to 1000, got "lots"
// and nothing is partly applied: the caller gets complete Settings or an error.
// With no file at all, DefaultSettings() serve.
//
// Settings are plain values: copy them freely; not synchronized.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/log.h"
#include "base/status.h"

namespace mailvault {

// How a POP3 connection is secured (`account add --tls`).
enum class TlsMode {
  kPop3s,     // TLS from the first byte, port 995 by default
  kStarttls,  // plain connect, STLS required, port 110 by default
  kNone,      // plain text; only when configured explicitly
};
std::string_view TlsModeName(TlsMode mode);  // "pop3s", "starttls", "none"

// When collected mail may be deleted from the server (`account add --policy`).
struct DeletePolicy {
  enum class Kind {
    kKeep,                // never (default)
    kDeleteAfterDays,     // `days` after it was archived
    kDeleteWhenArchived,  // as soon as its batch is committed
  };
  Kind kind = Kind::kKeep;
  int days = 0;  // for kDeleteAfterDays: 1..36500

  // "keep", "delete-after:30-days", "delete-when-archived".
  std::string ToString() const;
  // Parses the forms ToString() writes. kInvalidArgument otherwise.
  static Result<DeletePolicy> Parse(std::string_view text);
  bool operator==(const DeletePolicy&) const = default;
};

// [account.NAME]: an account declared as code; keys mirror `account add`.
struct AccountSettings {
  std::string name;           // NAME from the section header: [A-Za-z0-9._@-], 1-64 chars
  std::string host;           // required
  int port = 995;             // default 995 for pop3s, 110 otherwise
  std::string user;           // required
  std::string password_file;  // required: a file holding the password
  TlsMode tls = TlsMode::kPop3s;
  std::string ca;           // CA file to verify the server against; empty: system store
  std::string fingerprint;  // pinned certificate SHA-256, 64 lowercase hex; empty: none
  DeletePolicy policy;      // default keep
  std::string schedule;     // cron; empty: [collector] schedule
  int line = 0;             // line of the section header, for later messages

  bool operator==(const AccountSettings&) const = default;
};

struct ArchiveSettings {
  std::string data_dir = "./mailvault-data";
  // `serve` compacts the archive's tail (what `mailvault compact` does) at
  // each slot of this cron schedule, read in [collector] timezone, when no
  // collection runs; empty: never.
  std::string compact_schedule = "0 4 * * *";
  uint64_t compact_min_size = 8u << 20;  // only when the tail is at least this large
  bool operator==(const ArchiveSettings&) const = default;
};

struct WebSettings {
  std::string listen = "127.0.0.1:8080";  // host:port, [v6]:port
  std::string listen_host = "127.0.0.1";  // derived from `listen` (brackets removed)
  int listen_port = 8080;                 // derived from `listen`
  std::string tls_cert;                   // with tls_key: serve HTTPS; empty: HTTP
  std::string tls_key;
  bool operator==(const WebSettings&) const = default;
};

struct CollectorSettings {
  std::string schedule = "0 2 * * *";  // default cron for accounts without their own
  std::string timezone;                // TZ database name; empty: the system's zone
  std::chrono::seconds jitter{600};    // random delay of each slot: 0..jitter
  int max_sessions = 8;                // concurrent POP3 sessions in all (1..1000)
  int max_sessions_per_host = 2;       // concurrent sessions per server (1..1000)
  std::chrono::seconds connect_timeout{30};
  std::chrono::seconds read_timeout{60};
  std::chrono::seconds session_deadline{6 * 3600};  // a whole run
  uint64_t max_message_size = uint64_t{256} << 20;  // larger messages are skipped, recorded
  std::chrono::seconds retry_initial_delay{60};     // back-off after the first failure
  std::chrono::seconds retry_max_delay{3600};       // back-off cap
  int retry_limit = 5;  // retries before an account is marked failing (0..100)
  bool operator==(const CollectorSettings&) const = default;
};

struct LogSettings {
  LogLevel level = LogLevel::kInfo;
  std::string destination = "stderr";  // "stderr" or a file path
  bool operator==(const LogSettings&) const = default;
};

struct Settings {
  ArchiveSettings archive;
  WebSettings web;
  CollectorSettings collector;
  LogSettings log;
  std::vector<AccountSettings> accounts;  // in file order
  bool operator==(const Settings&) const = default;
};

// The settings in force when no file is given.
Settings DefaultSettings();

// Reads and validates the file at `path`. Errors: the file's own (kNotFound,
// kPermissionDenied, kIoError: "cannot read mailvault.ini: ...") or
// kInvalidArgument naming file, line and key.
Result<Settings> LoadSettings(const std::string& path);

// The same for text already in memory; `file_name` appears in messages.
Result<Settings> ParseSettings(std::string_view text, std::string_view file_name);

}  // namespace mailvault
