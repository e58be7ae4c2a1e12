// Helpers shared by the test suites: temporary directories, test data paths,
// the path of the built mailvault binary, and running child processes.
#pragma once

#include <chrono>
#include <optional>
#include <sys/types.h>
#include <string>
#include <vector>

#include "base/status.h"

namespace mailvault::testing {

// A fresh directory under $TMPDIR, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The repository's root (from MAILVAULT_SOURCE_DIR, set by CTest).
std::string SourceDir();
// tests/data/<relative>.
std::string TestData(const std::string& relative);
// Path of the built `mailvault` executable.
std::string MailvaultBinary();

// The absolute path of `program` found on $PATH; "" when it is not installed.
std::string FindProgram(const std::string& program);
// True when running in CI (CI=true, as .ci/run is started): a test that needs a
// tool scripts/install-deps.sh installs then fails when the tool is missing,
// where a developer's run skips it.
bool InCi();

// Writes `data` to `path`, replacing it. Aborts the test program on failure.
void WriteFile(const std::string& path, const std::string& data);
std::string ReadFile(const std::string& path);

// Canonical form computed the simple way (whole string in memory), to check the
// streaming code against: every LF not preceded by CR becomes CRLF, a final CRLF
// is added when missing.
std::string CanonicalizeForTest(const std::string& raw);

struct ProcessResult {
  int exit_code = -1;    // -1 when killed by a signal
  int signal = 0;
  std::string out;       // stdout
  std::string err;       // stderr
  long max_rss_kib = 0;  // peak resident memory of the child
};
// Runs `argv` to completion, capturing stdout and stderr.
ProcessResult RunProcess(const std::vector<std::string>& argv);

// A child started in the background (`argv[0]` a path), stdout and stderr
// appended to `output_path`, with `env` ("NAME=value") added to the
// environment. It gets SIGTERM if the test process dies (PR_SET_PDEATHSIG),
// and the destructor SIGKILLs and reaps it if it still runs. Only this child is
// ever signalled, by its PID. Aborts the test program if it cannot start.
class BackgroundProcess {
 public:
  BackgroundProcess(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                    const std::string& output_path);
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  pid_t pid() const { return pid_; }
  void Signal(int signal);
  // Waits up to `timeout` for the child to end; nullopt if it still runs.
  // exit_code/signal are set; out/err stay empty (see output_path).
  std::optional<ProcessResult> Wait(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
};

// A port that was free on 127.0.0.1 a moment ago (the kernel's choice).
Result<uint16_t> FreePort();

}  // namespace mailvault::testing
