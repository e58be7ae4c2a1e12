#include "tests/dovecot_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "base/file.h"

namespace mailvault::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

constexpr char kDovecot[] = "/usr/sbin/dovecot";
constexpr char kOpenssl[] = "/usr/bin/openssl";

// Connects to 127.0.0.1:port and, when `want_greeting`, reads until "+OK".
bool Greets(uint16_t port, bool want_greeting) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return false;
  if (!want_greeting) return true;
  pollfd pfd{fd.get(), POLLIN, 0};
  if (::poll(&pfd, 1, 2'000) != 1) return false;
  char buf[64];
  ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
  return n >= 3 && std::string_view(buf, 3) == "+OK";
}

}  // namespace

DovecotServer::DovecotServer() {
  if (::geteuid() == 0) {
    // Dovecot refuses uid 0 for mail: use nobody's uid.
    passwd* pw = ::getpwnam("nobody");
    mail_uid_ = pw ? pw->pw_uid : 65534;
    mail_gid_ = pw ? pw->pw_gid : 65534;
    // Let the unprivileged mail processes traverse into the homes.
    ::chmod(dir_.path().c_str(), 0711);
  } else {
    mail_uid_ = ::geteuid();
    mail_gid_ = ::getegid();
  }
}

DovecotServer::~DovecotServer() { Stop(); }

std::string DovecotServer::ca_file() const { return dir_.path() + "/cert.pem"; }

std::string DovecotServer::MaildirOf(const std::string& user) const {
  return dir_.path() + "/home/" + user + "/Maildir";
}

std::string DovecotServer::Log() const {
  Result<std::string> log = ReadSmallFile(dir_.path() + "/dovecot.log", 1 << 20);
  return log.ok() ? *log : "(no log)";
}

Status DovecotServer::Chown(const std::string& path) const {
  if (::geteuid() != 0) return Status::Ok();
  if (::chown(path.c_str(), mail_uid_, mail_gid_) != 0)
    return ErrnoToStatus(errno, "chown " + path);
  return Status::Ok();
}

// One passwd-file per user (the config's path has %u): Dovecot loads a new
// user's file on first use. A single shared file would be re-read only when
// Dovecot notices its change, which races with a login right after AddUser().
Status DovecotServer::WriteUserPasswd(const std::string& user, const std::string& password) {
  MV_RETURN_IF_ERROR(MakeDirs(dir_.path() + "/users"));
  const std::string line = user + ":{PLAIN}" + password + ":" + std::to_string(mail_uid_) + ":" +
                           std::to_string(mail_gid_) + "::" + dir_.path() + "/home/" + user +
                           "::\n";
  return WriteFileAtomically(dir_.path() + "/users/" + user, line, 0644);
}

Status DovecotServer::AddUser(const std::string& user, const std::string& password) {
  const std::string home = dir_.path() + "/home/" + user;
  for (const std::string& sub :
       {std::string(), std::string("/tmp"), std::string("/new"), std::string("/cur")}) {
    MV_RETURN_IF_ERROR(MakeDirs(home + "/Maildir" + sub));
  }
  MV_RETURN_IF_ERROR(MakeDirs(dir_.path() + "/home"));
  ::chmod((dir_.path() + "/home").c_str(), 0711);
  for (const std::string& path : {home, home + "/Maildir", home + "/Maildir/tmp",
                                  home + "/Maildir/new", home + "/Maildir/cur"}) {
    ::chmod(path.c_str(), 0700);
    MV_RETURN_IF_ERROR(Chown(path));
  }
  // Only this user's file: rewriting every user's file per AddUser() would be
  // quadratic (a benchmark adds 1,000 users).
  return WriteUserPasswd(user, password);
}

Status DovecotServer::MakeCertificate() {
  const std::string& d = dir_.path();
  ProcessResult made = RunProcess(
      {kOpenssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
       "-nodes", "-keyout", d + "/key.pem", "-out", d + "/cert.pem", "-days", "2", "-subj",
       "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"});
  if (made.exit_code != 0) return Status::Internal("openssl req failed: " + made.err);
  ProcessResult fp =
      RunProcess({kOpenssl, "x509", "-in", d + "/cert.pem", "-noout", "-fingerprint", "-sha256"});
  size_t eq = fp.out.find('=');
  if (fp.exit_code != 0 || eq == std::string::npos) {
    return Status::Internal("openssl x509 -fingerprint failed: " + fp.err);
  }
  fingerprint_.clear();
  for (char c : fp.out.substr(eq + 1)) {
    if (std::isxdigit(static_cast<unsigned char>(c))) {
      fingerprint_ += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  if (fingerprint_.size() != 64) return Status::Internal("odd fingerprint output: " + fp.out);
  return Status::Ok();
}

Status DovecotServer::WriteConfig() {
  const std::string& d = dir_.path();
  std::string config = "# Written by mailvault's test harness (tests/dovecot_server.cc).\n";
  config += "protocols = pop3\n";
  config += "listen = 127.0.0.1\n";
  config += "base_dir = " + d + "/run\n";
  config += "state_dir = " + d + "/state\n";
  config += "log_path = " + d + "/dovecot.log\n";
  config += "info_log_path = " + d + "/dovecot.log\n";
  config += "ssl = yes\n";
  config += "ssl_cert = <" + d + "/cert.pem\n";
  config += "ssl_key = <" + d + "/key.pem\n";
  config += "disable_plaintext_auth = no\n";
  config += "auth_mechanisms = plain login\n";
  config += "mail_location = maildir:~/Maildir\n";
  config += "first_valid_uid = 1\n";
  config += "first_valid_gid = 1\n";
  config += "pop3_uidl_format = %08Xu%08Xv\n";
  config += "passdb {\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u " + d +
            "/users/%u\n}\n";
  config += "userdb {\n  driver = passwd-file\n  args = username_format=%u " + d + "/users/%u\n}\n";
  config += "service pop3-login {\n";
  config +=
      "  inet_listener pop3 {\n    address = 127.0.0.1\n    port = " + std::to_string(pop3_port_) +
      "\n  }\n";
  config += "  inet_listener pop3s {\n    address = 127.0.0.1\n    port = " +
            std::to_string(pop3s_port_) + "\n    ssl = yes\n  }\n";
  if (::geteuid() != 0) config += "  chroot =\n";
  config += "}\n";
  if (::geteuid() != 0) {
    // Unprivileged: every service runs as us, without chroot.
    passwd* pw = ::getpwuid(::geteuid());
    const std::string me = pw ? pw->pw_name : "nobody";
    config += "default_login_user = " + me + "\n";
    config += "default_internal_user = " + me + "\n";
    config += "service anvil {\n  chroot =\n}\n";
  }
  MV_RETURN_IF_ERROR(MakeDirs(d + "/run"));
  MV_RETURN_IF_ERROR(MakeDirs(d + "/state"));
  return WriteFileAtomically(d + "/dovecot.conf", config, 0644);
}

Status DovecotServer::Start() {
  if (pid_ > 0) return Status::Internal("DovecotServer already started");
  if (::access(kDovecot, X_OK) != 0) {
    return Status::NotFound(std::string(kDovecot) + " missing: run scripts/install-deps.sh");
  }
  if (fingerprint_.empty()) MV_RETURN_IF_ERROR(MakeCertificate());
  Status last = Status::Internal("not started");
  // The ports are chosen free but could be taken before Dovecot binds them;
  // a few fresh tries make that harmless. A restart tries the old ports first.
  for (int attempt = 0; attempt < 4; ++attempt) {
    if (attempt > 0 || pop3_port_ == 0) {
      MV_ASSIGN_OR_RETURN(pop3_port_, FreePort());
      MV_ASSIGN_OR_RETURN(pop3s_port_, FreePort());
    }
    if (pop3_port_ == pop3s_port_) continue;
    MV_RETURN_IF_ERROR(WriteConfig());
    const std::string config = dir_.path() + "/dovecot.conf";
    const pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) return ErrnoToStatus(errno, "fork");
    if (pid == 0) {
      // Own process group, so Stop() can reach Dovecot's children too; die
      // with the test process; no inherited stdio.
      ::setpgid(0, 0);
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) ::_exit(1);
      int null_fd = ::open("/dev/null", O_RDWR);
      ::dup2(null_fd, 0);
      ::dup2(null_fd, 1);
      ::dup2(null_fd, 2);
      ::execl(kDovecot, kDovecot, "-F", "-c", config.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::setpgid(pid, pid);  // also from here, so it holds before we ever signal
    pid_ = pid;
    last = WaitUntilReady();
    if (last.ok()) return last;
    Stop();
  }
  return last;
}

Status DovecotServer::WaitUntilReady() {
  const auto deadline = SteadyClock::now() + milliseconds(15'000);
  while (SteadyClock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return Status::Unavailable("dovecot exited at start; its log:\n" + Log());
    }
    if (Greets(pop3_port_, true) && Greets(pop3s_port_, false)) return Status::Ok();
    std::this_thread::sleep_for(milliseconds(20));
  }
  return Status::Timeout("dovecot did not greet within 15 s; its log:\n" + Log());
}

void DovecotServer::Stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  const auto deadline = SteadyClock::now() + milliseconds(10'000);
  bool reaped = false;
  while (SteadyClock::now() < deadline) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) {
      reaped = true;
      break;
    }
    std::this_thread::sleep_for(milliseconds(10));
  }
  // The group is ours (setpgid above): this reaches leftover children too.
  ::kill(-pid_, SIGKILL);
  if (!reaped) ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

Result<std::string> DovecotServer::Deliver(const std::string& user, std::string_view message) {
  const std::string name = std::to_string(::time(nullptr)) + ".M" + std::to_string(++delivered_) +
                           "P" + std::to_string(::getpid()) + ".mailvault-test";
  const std::string tmp = MaildirOf(user) + "/tmp/" + name;
  {
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd.valid()) return ErrnoToStatus(errno, "create " + tmp);
    MV_RETURN_IF_ERROR(WriteAll(fd.get(), message, tmp));
  }
  return DeliverFile(user, tmp);
}

Result<std::string> DovecotServer::DeliverFile(const std::string& user, const std::string& path) {
  std::string name = fs::path(path).filename().string();
  if (name.find(".mailvault-test") == std::string::npos) {
    name = std::to_string(::time(nullptr)) + ".M" + std::to_string(++delivered_) + "P" +
           std::to_string(::getpid()) + ".mailvault-test";
  }
  MV_RETURN_IF_ERROR(Chown(path));
  ::chmod(path.c_str(), 0600);
  const std::string target = MaildirOf(user) + "/new/" + name;
  if (::rename(path.c_str(), target.c_str()) != 0) {
    return ErrnoToStatus(errno, "rename " + path + " to " + target);
  }
  return name;
}

Result<std::vector<DovecotServer::StoredMessage>> DovecotServer::Messages(
    const std::string& user) const {
  // Dovecot renames files (new/ to cur/, flag changes in cur/) and expunges them
  // while a session ends, also one whose client was killed. A file gone between
  // our listing and our read means the snapshot is torn: list again, a bounded
  // number of times, until one listing reads through.
  for (int attempt = 0; attempt < 50; ++attempt) {
    std::vector<StoredMessage> out;
    bool torn = false;
    for (const char* sub : {"/new", "/cur"}) {
      std::error_code ec;
      for (const auto& entry : fs::directory_iterator(MaildirOf(user) + sub, ec)) {
        auto data = ReadSmallFile(entry.path().string(), 1ull << 30);
        if (!data.ok() && data.status().code() == StatusCode::kNotFound) {
          torn = true;
          break;
        }
        if (!data.ok()) return data.status();
        out.push_back({entry.path().string(), std::move(data).value()});
      }
      if (torn) break;
      if (ec) return Status::IoError("list " + MaildirOf(user) + sub + ": " + ec.message());
    }
    if (!torn) {
      std::sort(out.begin(), out.end(),
                [](const StoredMessage& a, const StoredMessage& b) { return a.path < b.path; });
      return out;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Status::Unavailable("the Maildir of " + user + " kept changing while being read");
}

Result<size_t> DovecotServer::CountMessages(const std::string& user) const {
  size_t count = 0;
  for (const char* sub : {"/new", "/cur"}) {
    std::error_code ec;
    for (auto it = fs::directory_iterator(MaildirOf(user) + sub, ec);
         !ec && it != fs::directory_iterator(); it.increment(ec)) {
      ++count;
    }
    if (ec) return Status::IoError("list " + MaildirOf(user) + sub + ": " + ec.message());
  }
  return count;
}

Status DovecotServer::Remove(const std::string& user, const std::string& file_name) {
  for (const char* sub : {"/new", "/cur"}) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(MaildirOf(user) + sub, ec)) {
      if (entry.path().filename().string().rfind(file_name, 0) == 0) {
        if (!fs::remove(entry.path(), ec) || ec) {
          return Status::IoError("remove " + entry.path().string() + ": " + ec.message());
        }
        return Status::Ok();
      }
    }
  }
  return Status::NotFound("no message " + file_name + " in " + MaildirOf(user));
}

Status DovecotServer::WipeUidList(const std::string& user) {
  // Dovecot is stopped meanwhile: a session process that is still closing
  // after QUIT would otherwise write the old list back. It restarts on the
  // same ports with the same certificate.
  const bool was_running = running();
  Stop();
  // Dovecot derives a new UIDVALIDITY from the clock, so a wipe within the
  // same second as the first listing could give the same UIDLs back. Like a
  // real loss, the new list must differ: write an empty uidlist whose
  // UIDVALIDITY is one more than the old one, and drop the indexes.
  const std::string maildir = MaildirOf(user);
  uint64_t validity = static_cast<uint64_t>(::time(nullptr));
  Result<std::string> old = ReadSmallFile(maildir + "/dovecot-uidlist", 1 << 20);
  if (old.ok() && old->rfind("3 V", 0) == 0) {
    validity = std::strtoull(old->c_str() + 3, nullptr, 10) + 1;
  }
  std::vector<fs::path> doomed;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(maildir, ec)) {
    const std::string name = entry.path().filename().string();
    // dovecot-uidlist, dovecot.index*, dovecot.list.index* (2.3 also keeps
    // UIDVALIDITY there).
    if (name == "dovecot-uidlist" || name.rfind("dovecot.", 0) == 0) doomed.push_back(entry.path());
  }
  if (ec) return Status::IoError("list " + maildir + ": " + ec.message());
  for (const fs::path& path : doomed) {
    fs::remove(path, ec);  // false without error when already gone
    if (ec) return Status::IoError("remove " + path.string() + ": " + ec.message());
  }
  const std::string uidlist = maildir + "/dovecot-uidlist";
  MV_RETURN_IF_ERROR(
      WriteFileAtomically(uidlist, "3 V" + std::to_string(validity) + " N1\n", 0600));
  MV_RETURN_IF_ERROR(Chown(uidlist));
  return was_running ? Start() : Status::Ok();
}

DovecotServer* DovecotSuite::server_ = nullptr;
std::string DovecotSuite::start_error_;

void DovecotSuite::SetUpTestSuite() {
  server_ = new DovecotServer();
  Status status = server_->Start();
  if (!status.ok()) {
    start_error_ = status.ToString();
    delete server_;
    server_ = nullptr;
  }
}

void DovecotSuite::TearDownTestSuite() {
  delete server_;
  server_ = nullptr;
}

void DovecotSuite::AddTestUser(const std::string& prefix, const std::string& password) {
  ASSERT_NE(server_, nullptr) << "Dovecot did not start: " << start_error_;
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  user_ = prefix + info->name();
  std::transform(user_.begin(), user_.end(), user_.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  ASSERT_TRUE(server_->AddUser(user_, password).ok());
}

}  // namespace mailvault::testing
