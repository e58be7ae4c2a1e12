// SIGKILL of `mailvault collect` at random moments, against a real Dovecot,
// with the delete-when-archived policy (the one that deletes the most). After
// every kill: each message ever delivered is still on the server or in the
// archive (never deleted unless archived first), and the archive holds nothing
// twice and nothing that was not delivered. A last undisturbed run archives
// everything, and `verify` passes.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "archive/archive.h"
#include "base/sha256.h"
#include "tests/dovecot_server.h"
#include "tests/testing.h"

namespace mailvault {
namespace {

using testing::DovecotServer;

std::string Mail(int i, std::mt19937& rng) {
  std::string m = "From: crash@example.org\nTo: box@example.org\nSubject: crash test " +
                  std::to_string(i) + "\nMessage-ID: <" + std::to_string(i) + "@crash.test>\n\n";
  int lines = i % 5 == 0 ? 5000 : 20 + static_cast<int>(rng() % 200);  // every 5th ~350 KB
  for (int l = 0; l < lines; ++l)
    m += "line " + std::to_string(l) + " " + std::to_string(rng()) + " of " + std::to_string(i) +
         " padding padding padding padding\n";
  return m;
}

// Starts `mailvault collect` and SIGKILLs it (our own child, by PID) after
// `kill_after`. Returns nullopt when it was killed while running, else how
// long it took to finish by itself.
std::optional<std::chrono::milliseconds> CollectAndKill(const std::string& data,
                                                        std::chrono::milliseconds kill_after) {
  auto start = std::chrono::steady_clock::now();
  pid_t pid = ::fork();
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 1);
    ::dup2(devnull, 2);
    std::string bin = testing::MailvaultBinary();
    ::execl(bin.c_str(), bin.c_str(), "--data", data.c_str(), "collect", "--commit-every", "8",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  while (std::chrono::steady_clock::now() < start + kill_after) {
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - start);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return std::nullopt;
}

TEST(CollectorCrashTest, SigkillDuringCollectLosesNothingAndStoresNothingTwice) {
  DovecotServer server;
  const std::string user = "crashbox";
  const std::string password = "pw-Crash-1";
  ASSERT_TRUE(server.AddUser(user, password).ok());
  ASSERT_TRUE(server.Start().ok()) << server.Log();
  testing::TempDir dir;
  const std::string data = dir.path() + "/data";
  testing::WriteFile(dir.path() + "/pw", password + "\n");
  auto add = testing::RunProcess({testing::MailvaultBinary(),
                                  "--data",
                                  data,
                                  "account",
                                  "add",
                                  "box",
                                  "--host",
                                  "127.0.0.1",
                                  "--port",
                                  std::to_string(server.pop3s_port()),
                                  "--user",
                                  user,
                                  "--password-file",
                                  dir.path() + "/pw",
                                  "--tls",
                                  "pop3s",
                                  "--fingerprint",
                                  server.cert_fingerprint(),
                                  "--policy",
                                  "delete-when-archived"});
  ASSERT_EQ(add.exit_code, 0) << add.err;

  std::mt19937 rng(20261122);
  std::set<Digest> delivered;
  int next = 0;
  int killed = 0;
  int rounds_with_progress = 0;
  std::chrono::milliseconds typical(400);
  uint64_t archived_before = 0;
  // At least kRounds rounds, and more (up to 3 × kRounds) until half that
  // many kills landed during a run: a kill chosen as a fraction of the last
  // run's time can come after a run that went faster, more often while the
  // machine's load changes.
  const int kRounds = 10;
  for (int round = 0; round < 3 * kRounds && (round < kRounds || killed < kRounds / 2);
       ++round) {
    for (int k = 0; k < 60; ++k, ++next) {
      std::string m = Mail(next, rng);
      ASSERT_TRUE(server.Deliver(user, m).ok());
      delivered.insert(Sha256::Of(testing::CanonicalizeForTest(m)));
    }
    // Kill somewhere in the run: a random fraction of how long a whole run took
    // last time one finished by itself (so the kills follow the machine's speed).
    auto kill_after = std::chrono::milliseconds(20 + typical.count() * (10 + rng() % 90) / 100);
    auto finished = CollectAndKill(data, kill_after);
    if (finished) {
      typical = *finished;
    } else {
      ++killed;
    }

    std::set<Digest> on_server;
    auto stored = server.Messages(user);
    ASSERT_TRUE(stored.ok());
    for (const auto& m : *stored)
      on_server.insert(Sha256::Of(testing::CanonicalizeForTest(m.data)));
    ArchiveOptions o;
    o.data_dir = data;
    auto archive = Archive::Open(o);
    ASSERT_TRUE(archive.ok()) << "round " << round << ": " << archive.status().ToString();
    for (const Digest& id : delivered) {
      if (on_server.count(id)) continue;
      ASSERT_TRUE((*archive)->Info(id).ok()) << "round " << round << ": message " << ToHex(id)
                                             << " left the server but is not archived";
    }
    uint64_t archived = 0;
    ASSERT_TRUE((*archive)
                    ->ForEachMessage([&](const MessageInfo& info) {
                      EXPECT_TRUE(delivered.count(info.id))
                          << "an archived message that was never delivered";
                      ++archived;
                      return Status::Ok();
                    })
                    .ok());
    EXPECT_EQ((*archive)->Stats()->messages, archived);
    if (archived > archived_before) ++rounds_with_progress;
    archived_before = archived;
  }
  // Killed runs must also have committed (and deleted) something, or the kills
  // only ever hit the start of a run.
  EXPECT_GE(rounds_with_progress, 3);
  EXPECT_GE(killed, kRounds / 2) << "too few kills landed during a run";

  auto last =
      testing::RunProcess({testing::MailvaultBinary(), "--data", data, "collect", "--json"});
  ASSERT_EQ(last.exit_code, 0) << last.out << last.err;
  EXPECT_NE(last.out.find("\"complete\":true"), std::string::npos) << last.out;
  EXPECT_EQ(*server.CountMessages(user), 0u);
  {
    ArchiveOptions o;
    o.data_dir = data;
    auto archive = Archive::Open(o);
    ASSERT_TRUE(archive.ok());
    EXPECT_EQ((*archive)->Stats()->messages, delivered.size());
    for (const Digest& id : delivered) EXPECT_TRUE((*archive)->Info(id).ok());
  }
  auto verify = testing::RunProcess({testing::MailvaultBinary(), "--data", data, "verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  std::printf("collector crash test: %d of %d runs killed midway, %d made progress, %zu messages\n",
              killed, kRounds, rounds_with_progress, delivered.size());
}

}  // namespace
}  // namespace mailvault
