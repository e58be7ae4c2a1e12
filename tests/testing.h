// Helpers shared by the test suites: temporary directories, test data paths,
// the path of the built mailvault binary, and running child processes.
#pragma once

#include <string>
#include <vector>

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

}  // namespace mailvault::testing
