// DovecotServer: a private instance of Debian's Dovecot POP3 server for tests.
//
// Start() writes a configuration into a TempDir (base_dir, state_dir, logs,
// passwd-file users with {PLAIN} passwords, mail_location = maildir:~/Maildir),
// generates a self-signed certificate for 127.0.0.1 with the openssl CLI, picks
// free ports on 127.0.0.1 for plain POP3 (STLS offered) and POP3S, and runs
// `dovecot -F -c CONFIG` as a child in a process group of its own, stdio
// detached. Mail is owned by an unprivileged uid (Dovecot refuses uid 0 for
// mail): `nobody` when the test runs as root, the test's own uid otherwise.
//
// Stopping: Stop() (and the destructor) sends SIGTERM to the PID it started,
// waits for it (bounded), then SIGKILLs the process group it created. If the
// test process dies first, the kernel sends Dovecot SIGTERM (PR_SET_PDEATHSIG),
// so no instance outlives its test. Nothing else is ever signalled.
//
// Mail access (Deliver, Remove, Messages, WipeUidList) works on the Maildir
// files directly, as a local delivery agent would.
//
// Thread-safety: none; use from the test's thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "base/status.h"
#include "tests/testing.h"

namespace mailvault::testing {

class DovecotServer {
 public:
  DovecotServer();
  ~DovecotServer();
  DovecotServer(const DovecotServer&) = delete;
  DovecotServer& operator=(const DovecotServer&) = delete;

  // Adds a user (before or after Start()). `user` is used as a file name:
  // letters, digits, '.', '_' and '-' only.
  [[nodiscard]] Status AddUser(const std::string& user, const std::string& password);

  // Starts Dovecot and waits (bounded, 15 s) until both ports greet. After a
  // Stop(), starts it again on the same ports when they are still free.
  [[nodiscard]] Status Start();
  // Stops Dovecot (SIGTERM, wait, then SIGKILL of its group). Idempotent.
  void Stop();
  bool running() const { return pid_ > 0; }

  uint16_t pop3_port() const { return pop3_port_; }    // plain, STLS offered
  uint16_t pop3s_port() const { return pop3s_port_; }  // implicit TLS
  // SHA-256 of the server certificate's DER form, 64 lowercase hex digits.
  const std::string& cert_fingerprint() const { return fingerprint_; }
  // The self-signed certificate (PEM): usable as the CA file.
  std::string ca_file() const;
  const std::string& dir() const { return dir_.path(); }
  // Dovecot's log (for failure messages).
  std::string Log() const;

  // Writes a message into the user's Maildir/new atomically (tmp/ then rename).
  // Returns the file name (unique). The bytes are stored as given.
  [[nodiscard]] Result<std::string> Deliver(const std::string& user, std::string_view message);
  // Moves an existing file (e.g. a large generated one) into Maildir/new.
  // REQUIRES: `path` is on the same file system (e.g. under dir()).
  [[nodiscard]] Result<std::string> DeliverFile(const std::string& user, const std::string& path);

  struct StoredMessage {
    std::string path;  // full path of the Maildir file
    std::string data;  // its bytes as stored (usually LF line ends)
  };
  // Every message in the user's Maildir (new/ and cur/), sorted by path.
  // Reads whole files: for small messages only.
  [[nodiscard]] Result<std::vector<StoredMessage>> Messages(const std::string& user) const;
  // Number of messages in new/ and cur/ (cheap, for big mailboxes).
  [[nodiscard]] Result<size_t> CountMessages(const std::string& user) const;
  // Deletes the Maildir file whose name starts with `file_name` (the name
  // Deliver() returned; Dovecot may have moved it to cur/ and added flags).
  [[nodiscard]] Status Remove(const std::string& user, const std::string& file_name);
  // Deletes dovecot-uidlist and the index files and starts an empty uidlist
  // with a new UIDVALIDITY: Dovecot assigns new UIDs, so every UIDL changes
  // (what happens when a server loses its dovecot-uidlist). Dovecot is
  // restarted around it (same ports, same certificate); open sessions end.
  [[nodiscard]] Status WipeUidList(const std::string& user);

  std::string MaildirOf(const std::string& user) const;

 private:
  Status WriteConfig();
  Status MakeCertificate();
  Status WriteUserPasswd(const std::string& user, const std::string& password);
  Status WaitUntilReady();
  Status Chown(const std::string& path) const;

  TempDir dir_;
  uid_t mail_uid_ = 0;
  gid_t mail_gid_ = 0;
  uint16_t pop3_port_ = 0;
  uint16_t pop3s_port_ = 0;
  std::string fingerprint_;
  pid_t pid_ = -1;
  uint64_t delivered_ = 0;
};

// A GoogleTest fixture base: one Dovecot for the whole test suite (starting one
// takes about a second), and a fresh user per test, named after the test.
class DovecotSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  // Fails the test when Dovecot did not start; else adds the user
  // `prefix` + the test's name in lower case, as user_. Call with
  // ASSERT_NO_FATAL_FAILURE.
  void AddTestUser(const std::string& prefix, const std::string& password);

  static DovecotServer* server_;
  static std::string start_error_;
  std::string user_;
};

}  // namespace mailvault::testing
