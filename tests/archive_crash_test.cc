// Crash safety, for real: a child `mailvault import` is killed with SIGKILL at
// random moments, many times. After each kill the archive must open, verify, and
// hold every message whose commit the child had reported as returned.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include "archive/archive.h"
#include "base/log.h"
#include "tests/testing.h"

namespace mailvault {
namespace {

// An mbox of `count` distinct messages; every 25th carries an attachment of
// `attachment_lines` × 77 bytes (~600 KB by default) so that kills also land in
// the middle of large segments.
void WriteMbox(const std::string& path, int round, int count, std::mt19937& rng, int attachment_lines = 8000) {
  std::ofstream out(path, std::ios::binary);
  for (int m = 0; m < count; ++m) {
    out << "From crash-test Mon Jan  1 00:00:00 2001\n"
        << "Message-ID: <" << round << "." << m << "@crash.test>\n"
        << "Subject: round " << round << " message " << m << "\n";
    if (m % 25 == 0) {
      out << "Content-Type: multipart/mixed; boundary=\"b" << m << "\"\n\n--b" << m
          << "\nContent-Type: text/plain\n\nsee attached\n--b" << m
          << "\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n";
      for (int line = 0; line < attachment_lines; ++line) {
        std::string l(76, 'A');
        for (char& c : l) c = static_cast<char>('A' + rng() % 26);
        out << l << "\n";
      }
      out << "--b" << m << "--\n\n";
    } else {
      out << "\n";
      int lines = 5 + static_cast<int>(rng() % 200);
      for (int line = 0; line < lines; ++line) {
        out << "Line " << line << " of message " << m << " in round " << round << ": "
            << rng() << "\n";
      }
      out << "\n";
    }
  }
}

// Every message of `ids` reads back whole and matches its SHA-256; with
// `verify`, Archive::Verify finds nothing wrong either.
void ExpectAllThere(Archive& archive, const std::set<Digest>& ids, int round, bool verify) {
  for (const Digest& id : ids) {
    Sha256 h;
    Status s = archive.ReadMessage(id, [&](std::string_view c) {
      h.Update(c);
      return Status::Ok();
    });
    ASSERT_TRUE(s.ok()) << "round " << round << ": " << s.ToString();
    EXPECT_EQ(h.Finish(), id);
  }
  if (!verify) return;
  VerifyReport report;
  ASSERT_TRUE(archive.Verify(&report).ok());
  ASSERT_TRUE(report.ok()) << "round " << round << ": " << report.faults[0].where << ": " << report.faults[0].problem;
}

struct KilledRun {
  std::set<Digest> committed;
  bool exited_by_itself = false;
  std::string out;  // what the child wrote to stdout before it ended
};

// Runs `mailvault ARGS...` as our child and kills it (by its PID) with SIGKILL
// after `kill_after_ms`, unless it ended before.
KilledRun RunAndKill(const std::vector<std::string>& args, int kill_after_ms) {
  int out_pipe[2];
  if (::pipe(out_pipe) != 0) throw std::runtime_error("pipe");
  std::string bin = testing::MailvaultBinary();
  std::vector<char*> argv{bin.data()};
  std::vector<std::string> owned = args;
  for (std::string& a : owned) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out_pipe[1], 1);
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 2);
    ::execv(bin.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  KilledRun run;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kill_after_ms);
  char buf[65536];
  bool open = true;
  while (open) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{out_pipe[0], POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) > 0) {
      ssize_t n = ::read(out_pipe[0], buf, sizeof buf);
      if (n <= 0) open = false;
      else run.out.append(buf, static_cast<size_t>(n));
    }
  }
  ::kill(pid, SIGKILL);  // our own child, by its PID
  int status = 0;
  ::waitpid(pid, &status, 0);
  run.exited_by_itself = WIFEXITED(status);
  // Lines written before the kill are in the pipe still.
  for (ssize_t n; (n = ::read(out_pipe[0], buf, sizeof buf)) > 0;) run.out.append(buf, static_cast<size_t>(n));
  ::close(out_pipe[0]);
  return run;
}

KilledRun ImportAndKill(const std::string& data, const std::string& mbox, int kill_after_ms) {
  KilledRun run = RunAndKill({"--data", data, "import", "--commit-every", "40", "--report-commits", mbox},
                             kill_after_ms);
  const std::string& text = run.out;
  size_t pos = 0;
  while ((pos = text.find("committed ", pos)) != std::string::npos) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) break;  // a line cut by the kill promises nothing
    auto d = DigestFromHex(text.substr(pos + 10, end - pos - 10));
    if (d) run.committed.insert(*d);
    pos = end;
  }
  return run;
}

TEST(ArchiveCrashTest, SigkillAtRandomMomentsLosesNoCommittedMessage) {
  testing::TempDir dir;
  std::string data = dir.path() + "/data";
  std::mt19937 rng(20261122);
  std::set<Digest> all_committed;
  int killed_midway = 0;
  int torn_tails = 0;
  const int kRounds = 24;
  // Round 0 runs to the end and tells how long an import takes on this machine;
  // later rounds are killed at a random moment within that time.
  int full_run_ms = 0;
  for (int round = 0; round < kRounds; ++round) {
    std::string mbox = dir.path() + "/round.mbox";
    WriteMbox(mbox, round, 1500, rng);
    int kill_after = 120000;
    if (round > 0) kill_after = 5 + static_cast<int>(rng() % static_cast<unsigned>(std::max(10, full_run_ms * 9 / 10)));
    auto started = std::chrono::steady_clock::now();
    KilledRun run = ImportAndKill(data, mbox, kill_after);
    if (round == 0) {
      ASSERT_TRUE(run.exited_by_itself) << "the calibration import did not finish in 120 s";
      full_run_ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - started).count());
    }
    if (!run.exited_by_itself) ++killed_midway;
    all_committed.insert(run.committed.begin(), run.committed.end());

    // The archive opens (cutting any torn tail) and holds everything committed.
    std::vector<std::string> lines;
    LogSink previous = SetLogSink([&](LogLevel, std::string_view l) { lines.emplace_back(l); });
    ArchiveOptions o;
    o.data_dir = data;
    auto archive = Archive::Open(o);
    SetLogSink(previous);
    if (!archive.ok() && !std::filesystem::exists(data + "/packs")) continue;  // killed before init
    ASSERT_TRUE(archive.ok()) << "round " << round << ": " << archive.status().ToString();
    for (const auto& l : lines) torn_tails += l.find("torn tail") != std::string::npos;
    for (const Digest& id : all_committed) {
      ASSERT_TRUE((*archive)->Info(id).ok()) << "round " << round << ": committed message " << ToHex(id) << " is missing";
    }
    ExpectAllThere(**archive, run.committed, round, round % 6 == 5 || round == kRounds - 1);
  }
  EXPECT_GE(killed_midway, (kRounds - 1) / 2) << "too few kills landed during the import";
  EXPECT_GT(all_committed.size(), 0u);
  std::printf("crash test: full import %d ms; %d of %d runs killed midway, %zu messages committed, %d torn tails cut\n",
              full_run_ms, killed_midway, kRounds - 1, all_committed.size(), torn_tails);
  testing::ProcessResult verify = testing::RunProcess({testing::MailvaultBinary(), "--data", data, "verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
}

// The same for `mailvault compact`: each round imports a new mailbox (the
// tail), then a compaction is killed at a random moment within the time a
// whole one takes. After each kill the archive opens (completing a committed
// swap or removing an uncommitted one), holds every message byte-exact, and
// verifies.
TEST(ArchiveCrashTest, SigkillDuringCompactionLosesNothing) {
  testing::TempDir dir;
  std::string data = dir.path() + "/data";
  std::mt19937 rng(20261207);
  std::set<Digest> all;
  ArchiveOptions options;
  options.data_dir = data;
  const int kRounds = 15;
  int full_run_ms = 0;
  int kills = 0;
  int killed_midway = 0;
  int completed_at_open = 0;
  int removed_at_open = 0;
  for (int round = 0; round < kRounds; ++round) {
    std::string mbox = dir.path() + "/round.mbox";
    WriteMbox(mbox, 100 + round, 300, rng, /*attachment_lines=*/600);
    testing::ProcessResult import =
        testing::RunProcess({testing::MailvaultBinary(), "--data", data, "import", mbox});
    ASSERT_EQ(import.exit_code, 0) << import.err;
    {
      auto archive = Archive::Open(options);
      ASSERT_TRUE(archive.ok()) << archive.status().ToString();
      ASSERT_TRUE((*archive)->ForEachMessage([&](const MessageInfo& m) {
        all.insert(m.id);
        return Status::Ok();
      }).ok());
    }
    // Every third compaction runs to its end: it tells how long one takes on
    // this machine, and the next kills land in compactions of a short tail
    // after compacted packs.
    const bool whole = round % 3 == 0;
    int kill_after = 120000;
    if (!whole) kill_after = 5 + static_cast<int>(rng() % static_cast<unsigned>(std::max(10, full_run_ms)));
    auto started = std::chrono::steady_clock::now();
    KilledRun run = RunAndKill({"--data", data, "compact"}, kill_after);
    if (whole) {
      ASSERT_TRUE(run.exited_by_itself) << "round " << round << ": the compaction did not finish in 120 s";
      ASSERT_NE(run.out.find("compact: packs "), std::string::npos) << run.out;
      full_run_ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - started).count());
    } else {
      ++kills;
      if (!run.exited_by_itself) ++killed_midway;
    }

    std::vector<std::string> lines;
    LogSink previous = SetLogSink([&](LogLevel, std::string_view l) { lines.emplace_back(l); });
    auto archive = Archive::Open(options);
    SetLogSink(previous);
    ASSERT_TRUE(archive.ok()) << "round " << round << ": " << archive.status().ToString();
    for (const auto& l : lines) {
      completed_at_open += l.find("completing the compaction") != std::string::npos;
      removed_at_open += l.find("stopped before it was committed") != std::string::npos;
    }
    EXPECT_FALSE(std::filesystem::exists(data + "/compact.tmp"));
    EXPECT_FALSE(std::filesystem::exists(data + "/compact.commit"));
    ASSERT_EQ((*archive)->Stats()->messages, all.size()) << "round " << round;
    ExpectAllThere(**archive, all, round, round % 5 == 4 || round == kRounds - 1);
  }
  // Durations swing with the load of other tests: a third of the kills must land.
  EXPECT_GE(killed_midway, kills / 3) << "too few kills landed during the compaction";
  std::printf("compaction crash test: last whole compaction %d ms; %d of %d runs killed midway; at open %d swaps "
              "completed, %d unfinished compactions removed; %zu messages\n",
              full_run_ms, killed_midway, kills, completed_at_open, removed_at_open, all.size());
  // What the kills left uncompacted is compacted now, and nothing is lost.
  testing::ProcessResult compact = testing::RunProcess({testing::MailvaultBinary(), "--data", data, "compact"});
  EXPECT_EQ(compact.exit_code, 0) << compact.err;
  testing::ProcessResult verify = testing::RunProcess({testing::MailvaultBinary(), "--data", data, "verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  EXPECT_NE(verify.out.find(std::to_string(all.size()) + " messages checked"), std::string::npos) << verify.out;
}

}  // namespace
}  // namespace mailvault
