// collect_bench: the in-process half of bench/run_collect_bench.sh (issues 3
// and 4, "Measured, in bench/").
//
//   collect_bench dovecot --info FILE [--password PW] [--mailbox USER=DIR]...
//                         [--accounts N --corpus DIR [--prefix P]]
//       Starts a private Dovecot (tests/dovecot_server.h: passwd-file users,
//       Maildir, plain POP3 and POP3S on 127.0.0.1), adds the users and moves
//       mail into their Maildirs: every file under DIR for each --mailbox, and
//       for --accounts the files under the --corpus DIR in order, AccountSize(i)
//       of them to user P<i> (P defaults to "acct"). Then lists every mailbox
//       once (UIDL and LIST), so Dovecot has built its index and message sizes
//       before anything is measured, as on a server in service, and lists them
//       all again, timed, with two sessions at a time (the raw limit of a
//       no-new-mail pass). Writes key=value lines to FILE (pop3_port, dir,
//       users, messages, octets, relist_s) once ready, then runs until SIGTERM
//       or SIGINT and stops Dovecot.
//   collect_bench account-sizes N
//       Prints total=<messages> for --accounts N (so the corpus can be made).
//   collect_bench raw --port P --user U --password PW [--retr] [--window W]
//       One POP3 session on a plain socket, the limit the real clients are
//       compared with: USER/PASS, UIDL, LIST, with --retr a RETR of every
//       message, W requests in flight (default 64; Dovecot offers PIPELINING),
//       the bytes read and discarded; QUIT. Prints messages, octets (by LIST),
//       retrieved and wire_bytes as key=value lines.
//   collect_bench service --data DIR --accounts N --port P [--prefix P] [--password PW]
//       Issue 4 through the daemon's own code path: creates an archive in DIR
//       with N accounts (users P0..P<N-1> on 127.0.0.1:P, no TLS, keep), starts
//       CollectionService with the defaults `mailvault serve` has without a
//       configuration file (max_sessions 8, max_sessions_per_host 2), asks it
//       to run every account now, waits for all N runs, and does it again (the
//       no-new-mail pass). Prints per pass: wall_s, cpu_s (this process:
//       user+sys), runs, failed, new, duplicate, bytes, rss_kib and hwm_kib
//       (VmRSS and VmHWM after the pass); and VmRSS when the accounts were
//       added (start_rss_kib) and when the service had loaded them
//       (service_rss_kib), before any mail. Not `serve` itself: serve's indexer
//       would index the archived mail at the same time, which is not what
//       issue 4 measures.
//   collect_bench free-port
//       Prints a port that was free on 127.0.0.1.
//   collect_bench runs FILE
//       Sums the runs of a `mailvault collect --json` document: runs,
//       failed_runs, seen, archived_before, new, duplicate, failed, bytes.
//
// Never run by CTest; see bench/README.md.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "archive/archive.h"
#include "base/file.h"
#include "base/status.h"
#include "collector/account_store.h"
#include "collector/collection_run.h"
#include "collector/secret_box.h"
#include "config/settings.h"
#include "daemon/collection_service.h"
#include "daemon/daemon.h"
#include "tests/dovecot_server.h"

namespace mailvault {
namespace {

namespace fs = std::filesystem;

int Usage() {
  std::fprintf(stderr,
               "usage: collect_bench dovecot --info FILE [--password PW] [--mailbox USER=DIR]...\n"
               "                             [--accounts N --corpus DIR [--prefix P]]\n"
               "       collect_bench account-sizes N\n"
               "       collect_bench raw --port P --user U --password PW [--retr] [--window W]\n"
               "       collect_bench service --data DIR --accounts N --port P [--prefix P]\n"
               "                             [--password PW]\n"
               "       collect_bench free-port\n"
               "       collect_bench runs FILE\n");
  return 2;
}

int Fail(const Status& s) {
  std::fprintf(stderr, "collect_bench: %s\n", s.ToString().c_str());
  return 1;
}

// Messages of account i (issue 4: "10 to 200 messages each"), spread evenly
// over that range by a fixed permutation, so any prefix of the accounts has
// about the same mean (105).
size_t AccountSize(size_t i) { return 10 + (i * 97) % 191; }

// A POP3 client on a plain blocking socket with a read timeout: no parsing
// beyond what finding the end of each response needs. The benchmark's limit.
class RawPop3 {
 public:
  Status Connect(uint16_t port) {
    fd_ = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd_.valid()) return ErrnoToStatus(errno, "socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    if (::connect(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      return ErrnoToStatus(errno, "connect 127.0.0.1:" + std::to_string(port));
    }
    int one = 1;
    ::setsockopt(fd_.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return ExpectOk("greeting");
  }

  Status Login(const std::string& user, const std::string& password) {
    MV_RETURN_IF_ERROR(Send("USER " + user + "\r\n"));
    MV_RETURN_IF_ERROR(ExpectOk("USER"));
    MV_RETURN_IF_ERROR(Send("PASS " + password + "\r\n"));
    return ExpectOk("PASS");
  }

  // Sends `command` and calls `on_line` for each line of its multi-line answer
  // (dot-stuffing left in place: nothing here needs the lines themselves).
  Status Multiline(const std::string& command, const std::function<void(std::string_view)>& on_line) {
    MV_RETURN_IF_ERROR(Send(command + "\r\n"));
    MV_RETURN_IF_ERROR(ExpectOk(command));
    return ReadBody(on_line);
  }

  // RETR 1..count, `window` requests in flight; the bytes are discarded.
  Result<uint64_t> RetrAll(uint32_t count, uint32_t window) {
    uint32_t sent = 0;
    uint64_t lines = 0;
    std::string out;
    auto top_up = [&](uint32_t done) -> Status {
      out.clear();
      while (sent < count && sent - done < window) out += "RETR " + std::to_string(++sent) + "\r\n";
      return out.empty() ? Status::Ok() : Send(out);
    };
    MV_RETURN_IF_ERROR(top_up(0));
    for (uint32_t done = 0; done < count;) {
      MV_RETURN_IF_ERROR(ExpectOk("RETR " + std::to_string(done + 1)));
      MV_RETURN_IF_ERROR(ReadBody([&](std::string_view) { ++lines; }));
      ++done;
      MV_RETURN_IF_ERROR(top_up(done));
    }
    return lines;
  }

  Status Quit() {
    MV_RETURN_IF_ERROR(Send("QUIT\r\n"));
    return ExpectOk("QUIT");
  }

  uint64_t wire_bytes() const { return wire_bytes_; }

 private:
  Status Send(std::string_view data) { return WriteAll(fd_.get(), data, "POP3 socket"); }

  Status ExpectOk(std::string_view what) {
    MV_ASSIGN_OR_RETURN(std::string_view line, ReadLine());
    if (line.substr(0, 3) != "+OK") {
      return Status::Protocol(std::string(what) + ": " + std::string(line));
    }
    return Status::Ok();
  }

  Status ReadBody(const std::function<void(std::string_view)>& on_line) {
    for (;;) {
      MV_ASSIGN_OR_RETURN(std::string_view line, ReadLine());
      if (line == ".") return Status::Ok();
      on_line(line);
    }
  }

  // The next line without its CRLF; valid until the next call.
  Result<std::string_view> ReadLine() {
    for (;;) {
      const char* start = buf_.data() + begin_;
      const void* nl = std::memchr(start, '\n', end_ - begin_);
      if (nl != nullptr) {
        const char* stop = static_cast<const char*>(nl);
        begin_ = static_cast<size_t>(stop - buf_.data()) + 1;
        if (stop > start && stop[-1] == '\r') --stop;
        return std::string_view(start, static_cast<size_t>(stop - start));
      }
      // Keep the partial line at the front (it is short), read more behind it.
      std::memmove(buf_.data(), start, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
      if (buf_.size() - end_ < kChunk) buf_.resize(end_ + kChunk);
      pollfd pfd{fd_.get(), POLLIN, 0};
      const int ready = ::poll(&pfd, 1, kTimeoutMs);
      if (ready == 0) return Status::Timeout("no answer from the server within 30 s");
      if (ready < 0) {
        if (errno == EINTR) continue;
        return ErrnoToStatus(errno, "poll");
      }
      const ssize_t n = ::recv(fd_.get(), buf_.data() + end_, buf_.size() - end_, 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoToStatus(errno, "recv");
      }
      if (n == 0) return Status::IoError("the server closed the connection");
      end_ += static_cast<size_t>(n);
      wire_bytes_ += static_cast<uint64_t>(n);
    }
  }

  static constexpr size_t kChunk = 256 * 1024;
  static constexpr int kTimeoutMs = 30'000;
  UniqueFd fd_;
  std::vector<char> buf_ = std::vector<char>(2 * kChunk);
  size_t begin_ = 0;  // unread bytes are buf_[begin_, end_)
  size_t end_ = 0;
  uint64_t wire_bytes_ = 0;
};

struct Listing {
  uint32_t messages = 0;
  uint64_t octets = 0;
};

// Logs in, UIDL and LIST; the session stays open for more.
Result<Listing> List(RawPop3& pop3, uint16_t port, const std::string& user,
                     const std::string& password) {
  MV_RETURN_IF_ERROR(pop3.Connect(port));
  MV_RETURN_IF_ERROR(pop3.Login(user, password));
  uint32_t uidls = 0;
  MV_RETURN_IF_ERROR(pop3.Multiline("UIDL", [&](std::string_view) { ++uidls; }));
  Listing listing;
  MV_RETURN_IF_ERROR(pop3.Multiline("LIST", [&](std::string_view line) {
    ++listing.messages;
    const size_t space = line.find(' ');
    if (space != std::string_view::npos) {
      listing.octets += std::strtoull(std::string(line.substr(space + 1)).c_str(), nullptr, 10);
    }
  }));
  if (uidls != listing.messages) {
    return Status::Protocol("UIDL lists " + std::to_string(uidls) + " messages, LIST " +
                            std::to_string(listing.messages));
  }
  return listing;
}

int RunRaw(uint16_t port, const std::string& user, const std::string& password, bool retr,
           uint32_t window) {
  RawPop3 pop3;
  auto listing = List(pop3, port, user, password);
  if (!listing.ok()) return Fail(listing.status());
  uint32_t retrieved = 0;
  if (retr && listing->messages > 0) {
    auto lines = pop3.RetrAll(listing->messages, std::max<uint32_t>(window, 1));
    if (!lines.ok()) return Fail(lines.status());
    retrieved = listing->messages;
  }
  Status quit = pop3.Quit();
  if (!quit.ok()) return Fail(quit);
  std::printf("messages=%u\noctets=%llu\nretrieved=%u\nwire_bytes=%llu\n", listing->messages,
              static_cast<unsigned long long>(listing->octets), retrieved,
              static_cast<unsigned long long>(pop3.wire_bytes()));
  return 0;
}

// Lists every user's mailbox with `concurrency` sessions at a time; sums them.
Result<Listing> ListAll(uint16_t port, const std::vector<std::string>& users,
                        const std::string& password, int concurrency) {
  std::atomic<size_t> next{0};
  std::atomic<uint64_t> messages{0}, octets{0};
  std::mutex mu;
  Status first_error;
  std::vector<std::thread> threads;
  for (int t = 0; t < concurrency; ++t) {
    threads.emplace_back([&] {
      for (size_t i = next++; i < users.size(); i = next++) {
        RawPop3 pop3;
        auto listing = List(pop3, port, users[i], password);
        Status s = listing.ok() ? pop3.Quit() : listing.status();
        if (!s.ok()) {
          std::lock_guard<std::mutex> lock(mu);
          if (first_error.ok()) first_error = s.WithContext("user " + users[i]);
          return;
        }
        messages += listing->messages;
        octets += listing->octets;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  MV_RETURN_IF_ERROR(first_error);
  return Listing{static_cast<uint32_t>(messages.load()), octets.load()};
}

// Every regular file under `dir`, sorted (generate_corpus writes them in
// generation order: DIR/NNN/NNNNNN.eml).
Result<std::vector<std::string>> FilesUnder(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file()) files.push_back(it->path().string());
  }
  if (ec) return Status::IoError("list " + dir + ": " + ec.message());
  std::sort(files.begin(), files.end());
  return files;
}

// Moves `files` into `user`'s Maildir, giving each a name Dovecot accepts.
Status DeliverAll(testing::DovecotServer& server, const std::string& user,
                  const std::vector<std::string>& files, size_t begin, size_t end) {
  for (size_t i = begin; i < end; ++i) {
    MV_RETURN_IF_ERROR(server.DeliverFile(user, files[i]).status());
  }
  return Status::Ok();
}

struct DovecotFlags {
  std::string info;
  std::string password = "bench-password";
  std::vector<std::pair<std::string, std::string>> mailboxes;  // user, dir
  size_t accounts = 0;
  std::string corpus;
  std::string prefix = "acct";
};

int RunDovecot(const DovecotFlags& f) {
  // Blocked before any thread starts, so only sigwait() below takes them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  testing::DovecotServer server;
  std::vector<std::string> users;
  for (const auto& [user, dir] : f.mailboxes) {
    Status s = server.AddUser(user, f.password);
    auto files = FilesUnder(dir);
    if (s.ok()) s = files.status();
    if (s.ok()) s = DeliverAll(server, user, *files, 0, files->size());
    if (!s.ok()) return Fail(s.WithContext("mailbox " + user));
    users.push_back(user);
  }
  if (f.accounts > 0) {
    auto files = FilesUnder(f.corpus);
    if (!files.ok()) return Fail(files.status());
    size_t used = 0;
    for (size_t i = 0; i < f.accounts; ++i) {
      const std::string user = f.prefix + std::to_string(i);
      const size_t n = AccountSize(i);
      if (used + n > files->size()) {
        return Fail(Status::InvalidArgument("the corpus has " + std::to_string(files->size()) +
                                            " files, fewer than the accounts need"));
      }
      Status s = server.AddUser(user, f.password);
      if (s.ok()) s = DeliverAll(server, user, *files, used, used + n);
      if (!s.ok()) return Fail(s.WithContext("account " + user));
      used += n;
      users.push_back(user);
    }
  }
  Status started = server.Start();
  if (!started.ok()) return Fail(started);
  // First listing: Dovecot moves new/ to cur/, assigns UIDs, computes sizes.
  auto primed = ListAll(server.pop3_port(), users, f.password, 2);
  if (!primed.ok()) return Fail(primed.status().WithContext("priming\n" + server.Log()));
  const auto start = std::chrono::steady_clock::now();
  auto relisted = ListAll(server.pop3_port(), users, f.password, 2);
  const double relist_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!relisted.ok()) return Fail(relisted.status());

  std::ostringstream info;
  info << "pop3_port=" << server.pop3_port() << "\ndir=" << server.dir()
       << "\nusers=" << users.size() << "\nmessages=" << relisted->messages
       << "\noctets=" << relisted->octets << "\nrelist_s=" << relist_s << "\n";
  Status written = WriteFileAtomically(f.info, info.str(), 0644);
  if (!written.ok()) return Fail(written);

  int signal = 0;
  sigwait(&stop_signals, &signal);
  server.Stop();
  return 0;
}

// VmRSS and VmHWM of this process, KiB (0 when /proc is not readable).
std::pair<long, long> MemoryKib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  long rss = 0, hwm = 0;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) rss = std::strtol(line.c_str() + 6, nullptr, 10);
    if (line.rfind("VmHWM:", 0) == 0) hwm = std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return {rss, hwm};
}

double CpuSeconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto secs = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return secs(usage.ru_utime) + secs(usage.ru_stime);
}

struct ServiceFlags {
  std::string data;
  size_t accounts = 0;
  uint16_t port = 0;
  std::string prefix = "acct";
  std::string password = "bench-password";
};

// One pass: run-now for every account, wait until `runs_before` + N runs ended.
Status Pass(CollectionService& service, const std::string& name, size_t accounts,
            uint64_t runs_before) {
  const CollectionMetrics before = service.Metrics();
  const double cpu0 = CpuSeconds();
  const auto start = std::chrono::steady_clock::now();
  service.RunNowAll();
  const auto deadline = start + std::chrono::minutes(30);
  CollectionMetrics m;
  for (;;) {
    m = service.Metrics();
    if (m.runs_ok + m.runs_failed + m.runs_interrupted >= runs_before + accounts) break;
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::Timeout(name + ": the runs did not end within 30 minutes");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double cpu = CpuSeconds() - cpu0;
  const auto [rss, hwm] = MemoryKib();
  std::printf("%s_wall_s=%.3f\n%s_cpu_s=%.3f\n%s_runs=%llu\n%s_failed=%llu\n%s_new=%llu\n"
              "%s_duplicate=%llu\n%s_bytes=%llu\n%s_sessions_peak=%d\n%s_rss_kib=%ld\n"
              "%s_hwm_kib=%ld\n",
              name.c_str(), wall, name.c_str(), cpu, name.c_str(),
              static_cast<unsigned long long>(m.runs_ok + m.runs_failed + m.runs_interrupted -
                                              runs_before),
              name.c_str(), static_cast<unsigned long long>(m.runs_failed - before.runs_failed),
              name.c_str(), static_cast<unsigned long long>(m.messages_new - before.messages_new),
              name.c_str(),
              static_cast<unsigned long long>(m.messages_duplicate - before.messages_duplicate),
              name.c_str(), static_cast<unsigned long long>(m.bytes - before.bytes), name.c_str(),
              m.running_peak, name.c_str(), rss, name.c_str(), hwm);
  std::fflush(stdout);
  return Status::Ok();
}

int RunService(const ServiceFlags& f) {
  ArchiveOptions ao;
  ao.data_dir = f.data;
  ao.mode = ArchiveOptions::Mode::kReadWrite;
  ao.create = true;
  auto archive = Archive::Open(ao);
  if (!archive.ok()) return Fail(archive.status());
  auto box = SecretBox::Open(f.data);
  if (!box.ok()) return Fail(box.status());
  {
    AccountStore store(archive->get(), box->get());
    const auto start = std::chrono::steady_clock::now();
    for (size_t i = 0; i < f.accounts; ++i) {
      Account a;
      a.name = f.prefix + std::to_string(i);
      a.host = "127.0.0.1";
      a.port = f.port;
      a.user = a.name;
      a.tls = TlsMode::kNone;
      Status s = store.Add(a, f.password);
      if (!s.ok()) return Fail(s);
    }
    std::printf("accounts=%zu\nadd_accounts_s=%.3f\n", f.accounts,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  const auto [rss0, hwm0] = MemoryKib();
  std::printf("start_rss_kib=%ld\nstart_hwm_kib=%ld\n", rss0, hwm0);

  // What `serve` runs with no configuration file (daemon/daemon.cc).
  const CollectorSettings defaults;
  CollectionServiceOptions co;
  co.archive = archive->get();
  co.box = box->get();
  co.scheduler = SchedulerOptionsFrom(defaults, TimeZone::Local());
  co.default_schedule = defaults.schedule;
  co.collection = CollectionOptionsFrom(defaults);
  std::printf("max_sessions=%d\nmax_sessions_per_host=%d\n", co.scheduler.max_sessions,
              co.scheduler.max_sessions_per_host);
  auto service = CollectionService::Start(std::move(co));
  if (!service.ok()) return Fail(service.status());
  // The service holds its per-account records now, and no mail yet: the
  // difference between two account counts is what an account costs.
  const auto [rss1, hwm1] = MemoryKib();
  std::printf("service_rss_kib=%ld\nservice_hwm_kib=%ld\n", rss1, hwm1);
  Status s = Pass(**service, "first", f.accounts, 0);
  if (s.ok()) s = Pass(**service, "again", f.accounts, f.accounts);
  (*service)->Stop(std::chrono::seconds(60));
  return s.ok() ? 0 : Fail(s);
}

int RunRuns(const std::string& path) {
  auto text = ReadSmallFile(path, 256u << 20);
  if (!text.ok()) return Fail(text.status());
  try {
    Poco::JSON::Parser parser;
    auto doc = parser.parse(*text).extract<Poco::JSON::Object::Ptr>();
    auto runs = doc->getArray("runs");
    if (runs.isNull()) return Fail(Status::Protocol(path + ": no \"runs\" array"));
    uint64_t failed_runs = 0;
    std::vector<std::pair<std::string, uint64_t>> sums = {
        {"seen", 0}, {"archived_before", 0}, {"new", 0}, {"duplicate", 0}, {"failed", 0}, {"bytes", 0}};
    for (size_t i = 0; i < runs->size(); ++i) {
      auto run = runs->getObject(static_cast<unsigned>(i));
      if (!run->isNull("error")) ++failed_runs;
      for (auto& [key, sum] : sums) sum += run->getValue<uint64_t>(key);
    }
    std::printf("runs=%zu\nfailed_runs=%llu\n", runs->size(),
                static_cast<unsigned long long>(failed_runs));
    for (const auto& [key, sum] : sums) {
      std::printf("%s=%llu\n", key.c_str(), static_cast<unsigned long long>(sum));
    }
  } catch (const Poco::Exception& e) {
    return Fail(Status::Protocol(path + ": " + e.displayText()));
  }
  return 0;
}

}  // namespace
}  // namespace mailvault

int main(int argc, char** argv) {
  using namespace mailvault;
  if (argc < 2) return Usage();
  const std::string_view command = argv[1];
  if (command == "account-sizes" && argc == 3) {
    const size_t n = std::strtoull(argv[2], nullptr, 10);
    size_t total = 0;
    for (size_t i = 0; i < n; ++i) total += AccountSize(i);
    std::printf("total=%zu\n", total);
    return 0;
  }
  if (command == "runs" && argc == 3) return RunRuns(argv[2]);
  if (command == "free-port" && argc == 2) {
    auto port = mailvault::testing::FreePort();
    if (!port.ok()) return Fail(port.status());
    std::printf("%u\n", static_cast<unsigned>(*port));
    return 0;
  }
  DovecotFlags dovecot;
  ServiceFlags service;
  uint16_t port = 0;
  std::string user;
  bool retr = false;
  uint32_t window = 64;
  for (int i = 2; i < argc; ++i) {
    const std::string_view a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--info" && has_value) dovecot.info = argv[++i];
    else if (a == "--password" && has_value) dovecot.password = argv[++i];
    else if (a == "--mailbox" && has_value) {
      const std::string spec = argv[++i];
      const size_t eq = spec.find('=');
      if (eq == std::string::npos) return Usage();
      dovecot.mailboxes.emplace_back(spec.substr(0, eq), spec.substr(eq + 1));
    } else if (a == "--accounts" && has_value) dovecot.accounts = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--data" && has_value) service.data = argv[++i];
    else if (a == "--corpus" && has_value) dovecot.corpus = argv[++i];
    else if (a == "--prefix" && has_value) dovecot.prefix = argv[++i];
    else if (a == "--port" && has_value) port = static_cast<uint16_t>(std::strtoul(argv[++i], nullptr, 10));
    else if (a == "--user" && has_value) user = argv[++i];
    else if (a == "--retr") retr = true;
    else if (a == "--window" && has_value) window = static_cast<uint32_t>(std::strtoul(argv[++i], nullptr, 10));
    else return Usage();
  }
  if (command == "dovecot") {
    if (dovecot.info.empty() || (dovecot.accounts > 0 && dovecot.corpus.empty())) return Usage();
    return RunDovecot(dovecot);
  }
  if (command == "service") {
    service.accounts = dovecot.accounts;
    service.port = port;
    service.prefix = dovecot.prefix;
    service.password = dovecot.password;
    if (service.data.empty() || service.accounts == 0 || port == 0) return Usage();
    return RunService(service);
  }
  if (command == "raw") {
    if (port == 0 || user.empty()) return Usage();
    return RunRaw(port, user, dovecot.password, retr, window);
  }
  return Usage();
}
