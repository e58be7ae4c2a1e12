// The web UI end to end in a real headless Chromium: prepares an archive (the
// hostile-message corpus and some real mail), an admin and a user, and a
// mailbox on the real Dovecot; runs `mailvault serve`; and runs
// tests/browser/ui_test.mjs (Playwright, Debian's Chromium), which logs in,
// searches, opens messages, downloads an attachment, exports, adds the Dovecot
// account with a connection test, runs it, watches its progress bar, checks
// the run history and the audit log, and fails on any dialog or script error.
// Screenshots of each page: <build>/browser-artifacts/.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "tests/dovecot_server.h"
#include "tests/testing.h"

namespace mailvault {
namespace {

using testing::DovecotSuite;
using testing::ReadFile;
using testing::WriteFile;

constexpr int kMailboxMessages = 15000;

std::string SourceDir() {
  const char* dir = std::getenv("MAILVAULT_SOURCE_DIR");
  return dir != nullptr ? dir : ".";
}

// The build directory: the mailvault binary is <build>/app/mailvault.
std::string BuildDir() {
  return std::filesystem::path(testing::MailvaultBinary()).parent_path().parent_path().string();
}

class BrowserTest : public DovecotSuite {
 protected:
  testing::TempDir dir_;
};

TEST_F(BrowserTest, SearchViewDownloadExportCollectAndAuditInChromium) {
  const std::string playwright =
      BuildDir() + "/browser-node/node_modules/playwright-core/index.mjs";
  const bool tools = std::filesystem::exists(playwright) &&
                     std::filesystem::exists("/usr/bin/chromium") &&
                     std::filesystem::exists("/usr/bin/node");
  if (!tools) {
    if (testing::InCi()) FAIL() << "the browser tools are missing: run scripts/test.sh (it installs them)";
    GTEST_SKIP() << "no Chromium, Node.js or " << playwright
                 << " (scripts/install-browser-tools.sh installs it)";
  }
  ASSERT_NE(server_, nullptr) << "Dovecot did not start: " << start_error_;

  // The mailbox the UI adds as an account and collects: big enough that the
  // run lasts a few seconds, so its progress can be watched.
  const std::string pop3_user = "browser-box";
  ASSERT_TRUE(server_->AddUser(pop3_user, "box-secret").ok());
  for (int i = 0; i < kMailboxMessages; ++i) {
    std::string mail = "From: Colleague <colleague@example.com>\nTo: box@example.com\nSubject: "
                       "harvest report " + std::to_string(i) + "\nMessage-ID: <harvest." +
                       std::to_string(i) + "@example.com>\n\nfigures for week " +
                       std::to_string(i) + "\n" + std::string(2000, 'h') + "\n";
    ASSERT_TRUE(server_->Deliver(pop3_user, mail).ok());
  }

  const std::string data = dir_.path() + "/data";
  const std::string bin = testing::MailvaultBinary();
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {bin, "--data", data});
    return testing::RunProcess(args);
  };
  ASSERT_EQ(run({"init"}).exit_code, 0);
  testing::ProcessResult imported =
      run({"import", SourceDir() + "/tests/data/hostile", SourceDir() + "/tests/data/corpus/enron"});
  ASSERT_TRUE(imported.exit_code == 0 || imported.exit_code == 2) << imported.err;
  WriteFile(dir_.path() + "/admin.pw", "admin-browser-pw\n");
  WriteFile(dir_.path() + "/user.pw", "user-browser-pw\n");
  testing::ProcessResult admin = run({"user", "add", "auditrix", "--role", "admin",
                                      "--password-file", dir_.path() + "/admin.pw"});
  ASSERT_EQ(admin.exit_code, 0) << admin.err;
  testing::ProcessResult user = run({"user", "add", "employee", "--role", "user", "--accounts",
                                     "somebody-else", "--password-file", dir_.path() + "/user.pw"});
  ASSERT_EQ(user.exit_code, 0) << user.err;

  auto port = testing::FreePort();
  ASSERT_TRUE(port.ok());
  const std::string config = dir_.path() + "/mailvault.ini";
  WriteFile(config, "[archive]\ndata_dir = " + data + "\n[web]\nlisten = 127.0.0.1:" +
                        std::to_string(*port) + "\n[collector]\nschedule = 0 3 1 1 *\n");
  const std::string log = dir_.path() + "/serve.log";
  testing::BackgroundProcess serve({bin, "--config", config, "serve"}, {}, log);

  const std::string artifacts = BuildDir() + "/browser-artifacts";
  std::filesystem::remove_all(artifacts);
  const std::string node_log = dir_.path() + "/node.log";
  testing::BackgroundProcess node(
      {"/usr/bin/node", SourceDir() + "/tests/browser/ui_test.mjs"},
      {"MV_PLAYWRIGHT=" + playwright, "MV_URL=http://127.0.0.1:" + std::to_string(*port),
       "MV_ARTIFACTS=" + artifacts, "MV_ADMIN_USER=auditrix",
       "MV_ADMIN_PASSWORD=admin-browser-pw", "MV_USER=employee",
       "MV_USER_PASSWORD=user-browser-pw", "MV_POP3_ACCOUNT=harvest",
       "MV_POP3_PORT=" + std::to_string(server_->pop3_port()), "MV_POP3_USER=" + pop3_user,
       "MV_POP3_PASSWORD=box-secret", "MV_POP3_MESSAGES=" + std::to_string(kMailboxMessages),
       "MV_POP3_SUBJECT_WORD=harvest"},
      node_log);
  auto finished = node.Wait(std::chrono::minutes(5));
  std::string output = ReadFile(node_log);
  ASSERT_TRUE(finished.has_value()) << "the browser test did not finish in 5 minutes\n" << output;
  EXPECT_EQ(finished->exit_code, 0) << output << "\n--- serve log ---\n" << ReadFile(log);
  std::printf("%s", output.c_str());
  EXPECT_TRUE(std::filesystem::exists(artifacts + "/02-search.png")) << "screenshots in " << artifacts;

  serve.Signal(SIGTERM);
  auto stopped = serve.Wait(std::chrono::seconds(60));
  ASSERT_TRUE(stopped.has_value());
  EXPECT_EQ(stopped->exit_code, 0) << ReadFile(log);
}

}  // namespace
}  // namespace mailvault
