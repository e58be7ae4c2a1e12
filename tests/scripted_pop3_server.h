// ScriptedPop3Server: a fault-injecting POP3 server for tests.
//
// It listens on 127.0.0.1 on an ephemeral port and, on a thread of its own,
// plays a script against each accepted connection in turn: expect a command
// line, send bytes, send bytes slowly, stall, cut the connection. A mismatch
// between what the script expects and what the client sent is recorded and ends
// the connection, so a test can assert both sides: the client's Status and
// Finish()'s report of the dialog.
//
// It uses plain POSIX sockets on purpose: it must not share code (or bugs)
// with the client under test. Every wait is bounded (Options::step_timeout),
// so a client that hangs or misbehaves cannot hang the test.
//
// Thread-safety: build the script, then Start(); after that only Finish(),
// port() and the destructor (which stops the thread) may be called.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/sha256.h"
#include "base/status.h"

namespace mailvault::testing {

class ScriptedPop3Server {
 public:
  struct Options {
    // Longest wait for a connection, a command line, or the client closing.
    std::chrono::milliseconds step_timeout{5'000};
    // Number of connections to accept, each playing the whole script. Default 1.
    int connections = 1;
  };

  ScriptedPop3Server();
  explicit ScriptedPop3Server(Options options);
  ~ScriptedPop3Server();
  ScriptedPop3Server(const ScriptedPop3Server&) = delete;
  ScriptedPop3Server& operator=(const ScriptedPop3Server&) = delete;

  // --- The script (chainable). ---
  // Sends `bytes` as they are (include CRLFs).
  ScriptedPop3Server& Send(std::string bytes);
  // Sends `line` + CRLF.
  ScriptedPop3Server& Reply(const std::string& line);
  // Reads one command line and compares it (without CRLF) with `line`.
  ScriptedPop3Server& Expect(std::string line);
  // Reads one command line and only checks that it starts with `prefix`.
  ScriptedPop3Server& ExpectPrefix(std::string prefix);
  // Checks that the client sends nothing more for `quiet` (it has at most the
  // commands read so far outstanding: used to check the pipelining window).
  ScriptedPop3Server& ExpectSilence(std::chrono::milliseconds quiet);
  // Sends `bytes` one write per `piece` bytes with `pause` in between.
  ScriptedPop3Server& SendSlowly(std::string bytes, size_t piece, std::chrono::milliseconds pause);
  // Sends a stream of `size` generated message bytes (lines of printable text,
  // CRLF-terminated) followed by ".\r\n", without holding them in memory.
  ScriptedPop3Server& SendGeneratedMessage(uint64_t size);
  // Sends nothing until the client closes or `max` passes.
  ScriptedPop3Server& Stall(std::chrono::milliseconds max);
  // Closes the connection now (a cut).
  ScriptedPop3Server& Close();
  // Waits until the client closes its side (bounded by step_timeout); records
  // an error if the client sends anything in the meantime.
  ScriptedPop3Server& ExpectClientClose();

  // Binds and starts the thread. Returns the port. Aborts the test on failure.
  uint16_t Start();
  uint16_t port() const { return port_; }

  // Waits for the script to end (bounded) and returns "" when every step ran
  // as scripted, else a description of the first deviation.
  std::string Finish();
  // Every command line received, in order, over all connections.
  std::vector<std::string> received() const;

  // A message generated the way SendGeneratedMessage does, for comparison
  // (only for small sizes).
  static std::string GeneratedMessage(uint64_t size);

 private:
  struct Step {
    enum Kind {
      kSend,
      kExpect,
      kExpectPrefix,
      kSilence,
      kSlow,
      kGenerated,
      kStall,
      kClose,
      kClientClose
    };
    Kind kind;
    std::string text;
    size_t piece = 0;
    uint64_t size = 0;
    std::chrono::milliseconds duration{0};
  };

  void Run();
  bool PlayConnection(int fd);
  bool ReadLine(int fd, std::string* line, std::chrono::milliseconds timeout);
  bool SendAll(int fd, const char* data, size_t size);
  void Fail(std::string what);

  Options options_;
  std::vector<Step> steps_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::string pending_;  // bytes read past the last line, per connection

  mutable std::atomic<bool> finished_{false};
  std::string error_;                  // written by the thread; read after join
  std::vector<std::string> received_;  // likewise
};

}  // namespace mailvault::testing

namespace mailvault::testing {

// Peak-memory measurement for the bounded-memory tests: ResetPeakRss() sets
// the process's high-water mark (VmHWM) to its current RSS (Linux
// /proc/self/clear_refs "5"); PeakRssKib() reads VmHWM. False / -1 on failure.
bool ResetPeakRss();
long PeakRssKib();

// Writes a mail of exactly `size` bytes to `path` for the huge-message tests:
// `head` (its header block and empty line, CRLF), then lines of
// ScriptedPop3Server::GeneratedMessage, in pieces, never whole in memory. It is
// canonical as written, so its SHA-256 (set in `*hash`) is its archive id.
Status WriteGeneratedMailFile(const std::string& path, std::string_view head, uint64_t size, Digest* hash);

}  // namespace mailvault::testing
