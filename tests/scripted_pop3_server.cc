#include "tests/scripted_pop3_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "base/file.h"

namespace mailvault::testing {
namespace {

using Millis = std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

int MillisLeft(SteadyClock::time_point deadline) {
  auto left = std::chrono::duration_cast<Millis>(deadline - SteadyClock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

}  // namespace

ScriptedPop3Server::ScriptedPop3Server() : ScriptedPop3Server(Options()) {}
ScriptedPop3Server::ScriptedPop3Server(Options options) : options_(options) {}

ScriptedPop3Server::~ScriptedPop3Server() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

ScriptedPop3Server& ScriptedPop3Server::Send(std::string bytes) {
  steps_.push_back({Step::kSend, std::move(bytes)});
  return *this;
}
ScriptedPop3Server& ScriptedPop3Server::Reply(const std::string& line) {
  return Send(line + "\r\n");
}
ScriptedPop3Server& ScriptedPop3Server::Expect(std::string line) {
  steps_.push_back({Step::kExpect, std::move(line)});
  return *this;
}
ScriptedPop3Server& ScriptedPop3Server::ExpectPrefix(std::string prefix) {
  steps_.push_back({Step::kExpectPrefix, std::move(prefix)});
  return *this;
}
ScriptedPop3Server& ScriptedPop3Server::ExpectSilence(Millis quiet) {
  Step step{Step::kSilence, ""};
  step.duration = quiet;
  steps_.push_back(step);
  return *this;
}
ScriptedPop3Server& ScriptedPop3Server::SendSlowly(std::string bytes, size_t piece, Millis pause) {
  Step step{Step::kSlow, std::move(bytes)};
  step.piece = piece == 0 ? 1 : piece;
  step.duration = pause;
  steps_.push_back(step);
  return *this;
}
ScriptedPop3Server& ScriptedPop3Server::SendGeneratedMessage(uint64_t size) {
  Step step{Step::kGenerated, ""};
  step.size = size;
  steps_.push_back(step);
  return *this;
}
ScriptedPop3Server& ScriptedPop3Server::Stall(Millis max) {
  Step step{Step::kStall, ""};
  step.duration = max;
  steps_.push_back(step);
  return *this;
}
ScriptedPop3Server& ScriptedPop3Server::Close() {
  steps_.push_back({Step::kClose, ""});
  return *this;
}
ScriptedPop3Server& ScriptedPop3Server::ExpectClientClose() {
  steps_.push_back({Step::kClientClose, ""});
  return *this;
}

std::string ScriptedPop3Server::GeneratedMessage(uint64_t size) {
  // Lines of 78 printable characters + CRLF; the last line is shorter. A line
  // never starts with '.', so no stuffing is needed. The total is `size` bytes
  // (REQUIRES: size >= 2; smaller sizes yield an empty message).
  std::string out;
  out.reserve(size);
  uint64_t line = 0;
  while (out.size() + 2 <= size) {
    uint64_t left = size - out.size();
    // Keep at least 2 bytes for the last line's CRLF: never leave 1 byte over.
    uint64_t text = left == 81 ? 77 : std::min<uint64_t>(78, left - 2);
    for (uint64_t i = 0; i < text; ++i) out += static_cast<char>('A' + (line + i) % 26);
    out += "\r\n";
    ++line;
  }
  return out;
}

uint16_t ScriptedPop3Server::Start() {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 8) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::perror("ScriptedPop3Server: cannot listen on 127.0.0.1");
    std::abort();
  }
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { Run(); });
  return port_;
}

std::string ScriptedPop3Server::Finish() {
  if (thread_.joinable()) thread_.join();
  return error_;
}

std::vector<std::string> ScriptedPop3Server::received() const { return received_; }

void ScriptedPop3Server::Fail(std::string what) {
  if (error_.empty()) error_ = std::move(what);
}

void ScriptedPop3Server::Run() {
  for (int c = 0; c < options_.connections && !stop_; ++c) {
    pollfd pfd{listen_fd_, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(options_.step_timeout.count())) != 1) {
      Fail("connection " + std::to_string(c + 1) + ": no client connected");
      return;
    }
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      Fail("accept failed");
      return;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    pending_.clear();
    bool ok = PlayConnection(fd);
    ::close(fd);
    if (!ok) return;
  }
}

bool ScriptedPop3Server::SendAll(int fd, const char* data, size_t size) {
  auto deadline = SteadyClock::now() + options_.step_timeout;
  while (size > 0) {
    pollfd pfd{fd, POLLOUT, 0};
    if (::poll(&pfd, 1, MillisLeft(deadline)) != 1 || stop_) {
      Fail("timed out sending to the client");
      return false;
    }
    ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Fail("client closed the connection while the server was sending");
      return false;
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

bool ScriptedPop3Server::ReadLine(int fd, std::string* line, Millis timeout) {
  auto deadline = SteadyClock::now() + timeout;
  for (;;) {
    size_t nl = pending_.find('\n');
    if (nl != std::string::npos) {
      *line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      if (!line->empty() && line->back() == '\r') line->pop_back();
      received_.push_back(*line);
      return true;
    }
    pollfd pfd{fd, POLLIN, 0};
    if (stop_ || ::poll(&pfd, 1, MillisLeft(deadline)) != 1) return false;
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    pending_.append(buf, static_cast<size_t>(n));
  }
}

bool ScriptedPop3Server::PlayConnection(int fd) {
  for (size_t i = 0; i < steps_.size(); ++i) {
    const Step& step = steps_[i];
    const std::string where = "step " + std::to_string(i + 1) + ": ";
    std::string line;
    switch (step.kind) {
      case Step::kSend:
        if (!SendAll(fd, step.text.data(), step.text.size())) return false;
        break;
      case Step::kExpect:
      case Step::kExpectPrefix: {
        if (!ReadLine(fd, &line, options_.step_timeout)) {
          Fail(where + "expected '" + step.text + "', got nothing");
          return false;
        }
        bool match = step.kind == Step::kExpect ? line == step.text
                                                : line.compare(0, step.text.size(), step.text) == 0;
        if (!match) {
          Fail(where + "expected '" + step.text + "', got '" + line + "'");
          return false;
        }
        break;
      }
      case Step::kSilence:
        if (ReadLine(fd, &line, step.duration)) {
          Fail(where + "expected no command yet, got '" + line + "'");
          return false;
        }
        break;
      case Step::kSlow:
        for (size_t off = 0; off < step.text.size(); off += step.piece) {
          size_t n = std::min(step.piece, step.text.size() - off);
          if (!SendAll(fd, step.text.data() + off, n)) return false;
          if (off + n < step.text.size()) std::this_thread::sleep_for(step.duration);
          if (stop_) return false;
        }
        break;
      case Step::kGenerated: {
        // Generated in 64 KiB pieces of whole lines so memory stays small.
        constexpr uint64_t kPiece = 80 * 800;
        uint64_t sent = 0;
        while (sent < step.size) {
          uint64_t n = std::min(kPiece, step.size - sent);
          std::string piece = GeneratedMessage(n);
          if (!SendAll(fd, piece.data(), piece.size())) return false;
          sent += n;
        }
        if (!SendAll(fd, ".\r\n", 3)) return false;
        break;
      }
      case Step::kStall: {
        auto deadline = SteadyClock::now() + step.duration;
        // Returns when the client closes (recv 0) or the time is up; commands
        // sent meanwhile are read and ignored.
        while (!stop_ && MillisLeft(deadline) > 0) {
          pollfd pfd{fd, POLLIN, 0};
          if (::poll(&pfd, 1, std::min(MillisLeft(deadline), 50)) == 1) {
            char buf[4096];
            if (::recv(fd, buf, sizeof buf, 0) <= 0) break;
          }
        }
        break;
      }
      case Step::kClose:
        return true;
      case Step::kClientClose: {
        if (ReadLine(fd, &line, options_.step_timeout)) {
          Fail(where + "expected the client to close, got '" + line + "'");
          return false;
        }
        pollfd pfd{fd, POLLIN, 0};
        char c;
        if (::poll(&pfd, 1, 0) != 1 || ::recv(fd, &c, 1, MSG_PEEK) != 0) {
          Fail(where + "the client did not close the connection in time");
          return false;
        }
        break;
      }
    }
  }
  return true;
}

}  // namespace mailvault::testing

namespace mailvault::testing {

bool ResetPeakRss() {
  FILE* f = std::fopen("/proc/self/clear_refs", "w");
  if (f == nullptr) return false;
  bool ok = std::fputs("5", f) >= 0;
  return std::fclose(f) == 0 && ok;
}

long PeakRssKib() {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return -1;
  char line[256];
  long kib = -1;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::sscanf(line, "VmHWM: %ld kB", &kib) == 1) break;
  }
  std::fclose(f);
  return kib;
}

Status WriteGeneratedMailFile(const std::string& path, std::string_view head, uint64_t size, Digest* hash) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd.valid()) return ErrnoToStatus(errno, "open " + path);
  Sha256 sha;
  MV_RETURN_IF_ERROR(WriteAll(fd.get(), head, path));
  sha.Update(head);
  uint64_t written = head.size();
  while (written < size) {
    std::string piece = ScriptedPop3Server::GeneratedMessage(std::min<uint64_t>(64'000, size - written));
    MV_RETURN_IF_ERROR(WriteAll(fd.get(), piece, path));
    sha.Update(piece);
    written += piece.size();
  }
  *hash = sha.Finish();
  return Status::Ok();
}

}  // namespace mailvault::testing
