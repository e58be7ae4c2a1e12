#include "search/attachment_text.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdlib>

#include "base/file.h"

namespace mailvault {
namespace {

struct ConverterSpec {
  std::string_view program;
  std::vector<std::string_view> args;  // "{in}" is the input file
  std::vector<std::string_view> mime_types;
  std::vector<std::string_view> extensions;  // lowercase, with the dot
};

const std::vector<ConverterSpec>& Converters() {
  static const std::vector<ConverterSpec> kConverters = {
      {"pdftotext",
       {"-q", "-enc", "UTF-8", "-nopgbrk", "{in}", "-"},
       {"application/pdf", "application/x-pdf", "application/acrobat"},
       {".pdf"}},
      {"antiword", {"-w", "0", "{in}"}, {"application/msword"}, {".doc"}},
      {"odt2txt", {"{in}"}, {"application/vnd.oasis.opendocument.text"}, {".odt"}},
  };
  return kConverters;
}

std::string FindProgram(std::string_view name) {
  for (std::string_view dir : {"/usr/bin", "/usr/local/bin", "/bin"}) {
    std::string path = std::string(dir) + "/" + std::string(name);
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  return "";
}

const ConverterSpec* SpecFor(std::string_view mime_type, std::string_view filename) {
  std::string type(mime_type);
  std::transform(type.begin(), type.end(), type.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string name(filename);
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const auto& spec : Converters()) {
    if (std::find(spec.mime_types.begin(), spec.mime_types.end(), type) != spec.mime_types.end()) {
      return &spec;
    }
  }
  for (const auto& spec : Converters()) {
    for (std::string_view ext : spec.extensions) {
      if (name.size() > ext.size() &&
          name.compare(name.size() - ext.size(), ext.size(), ext) == 0) {
        return &spec;
      }
    }
  }
  return nullptr;
}

// A temporary file removed on destruction.
class TempFile {
 public:
  TempFile() = default;
  ~TempFile() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  Status Create(const std::string& dir, std::string_view data) {
    std::string tmpl = dir + "/mailvault-attachment-XXXXXX";
    int fd = ::mkstemp(tmpl.data());  // mode 0600
    if (fd < 0) return ErrnoToStatus(errno, "create temporary file in " + dir);
    path_ = tmpl;
    UniqueFd owner(fd);
    return WriteAll(fd, data, path_);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string TempDirFor(const ConverterLimits& limits) {
  if (!limits.temp_dir.empty()) return limits.temp_dir;
  const char* env = std::getenv("TMPDIR");
  return env != nullptr && *env != '\0' ? env : "/tmp";
}

}  // namespace

std::string ConverterFor(std::string_view mime_type, std::string_view filename) {
  const ConverterSpec* spec = SpecFor(mime_type, filename);
  return spec == nullptr ? "" : std::string(spec->program);
}

ConverterResult RunConverter(const std::vector<std::string>& argv, std::string_view data,
                             const ConverterLimits& limits) {
  ConverterResult result;
  result.outcome = ConverterOutcome::kFailed;
  if (argv.empty()) {
    result.detail = "empty converter command";
    return result;
  }
  result.converter = argv[0].substr(argv[0].rfind('/') + 1);
  TempFile input;
  if (Status s = input.Create(TempDirFor(limits), data); !s.ok()) {
    result.detail = result.converter + ": " + s.ToString();
    return result;
  }
  std::vector<std::string> args = argv;
  for (auto& a : args) {
    if (a == "{in}") a = input.path();
  }
  std::vector<char*> cargs;
  for (auto& a : args) cargs.push_back(a.data());
  cargs.push_back(nullptr);

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    result.detail = result.converter + ": " + ErrnoToStatus(errno, "pipe").ToString();
    return result;
  }
  UniqueFd read_end(pipe_fds[0]);
  UniqueFd write_end(pipe_fds[1]);
  UniqueFd dev_null(::open("/dev/null", O_RDWR | O_CLOEXEC));
  const rlim_t cpu_seconds = static_cast<rlim_t>(
      std::chrono::duration_cast<std::chrono::seconds>(limits.timeout).count() + 1);
  const rlim_t memory = static_cast<rlim_t>(limits.max_memory_bytes);

  const struct rlimit cpu_limit = {cpu_seconds, cpu_seconds};
  const struct rlimit memory_limit = {memory, memory};
  const struct rlimit no_files = {0, 0};

  const auto deadline = std::chrono::steady_clock::now() + limits.timeout;
  // vfork, not fork: the indexer is a large process, and fork copied its page
  // tables and made every page copy-on-write for a child that only execs
  // (most of the indexer's system time on archives with PDF attachments). The
  // parent waits until the exec; the child writes no memory, it only makes the
  // system calls below.
  pid_t pid = ::vfork();
  if (pid < 0) {
    result.detail = result.converter + ": " + ErrnoToStatus(errno, "fork").ToString();
    return result;
  }
  if (pid == 0) {
    // Child: only system calls until exec (memory is shared with the parent).
    if (dev_null.valid()) {
      ::dup2(dev_null.get(), 0);
      ::dup2(dev_null.get(), 2);
    }
    ::dup2(write_end.get(), 1);
    ::setrlimit(RLIMIT_CPU, &cpu_limit);
    ::setrlimit(RLIMIT_AS, &memory_limit);
    ::setrlimit(RLIMIT_FSIZE, &no_files);
    ::execv(cargs[0], cargs.data());
    ::_exit(127);
  }
  write_end.Reset();
  ::fcntl(read_end.get(), F_SETFL, O_NONBLOCK);

  bool eof = false;
  bool killed = false;
  bool timed_out = false;
  int status = 0;
  bool reaped = false;
  std::array<char, 65536> buf;
  while (!reaped) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline && !killed) {
      ::kill(pid, SIGKILL);
      killed = timed_out = true;
    }
    if (!eof && !killed) {
      int wait_ms = static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1);
      pollfd pfd = {read_end.get(), POLLIN, 0};
      int rc = ::poll(&pfd, 1, std::min(wait_ms, 1000));
      if (rc < 0 && errno != EINTR) eof = true;
      if (rc > 0) {
        ssize_t n = ::read(read_end.get(), buf.data(), buf.size());
        if (n > 0) {
          size_t room = limits.max_output_bytes - result.text.size();
          result.text.append(buf.data(), std::min(room, static_cast<size_t>(n)));
          if (static_cast<size_t>(n) >= room) {
            result.truncated = true;
            ::kill(pid, SIGKILL);
            killed = true;
          }
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
          eof = true;
        }
      }
      continue;
    }
    // Output closed or child killed: reap it, without blocking past the deadline.
    pid_t w = ::waitpid(pid, &status, killed ? 0 : WNOHANG);
    if (w == pid || (w < 0 && errno != EINTR)) {
      reaped = true;
    } else if (!killed) {
      ::usleep(2000);
    }
  }
  if (timed_out) {
    result.outcome = ConverterOutcome::kTimeout;
    result.detail =
        result.converter + ": killed after " + std::to_string(limits.timeout.count()) + " ms";
  } else if (result.truncated) {
    result.outcome = ConverterOutcome::kOk;
    result.detail =
        result.converter + ": output cut at " + std::to_string(limits.max_output_bytes) + " bytes";
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    result.outcome = ConverterOutcome::kOk;
  } else if (WIFEXITED(status)) {
    result.detail = result.converter + " exited with status " + std::to_string(WEXITSTATUS(status));
  } else {
    result.detail = result.converter + " killed by signal " +
                    std::to_string(WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  }
  return result;
}

ConverterResult ExtractAttachmentText(std::string_view mime_type, std::string_view filename,
                                      std::string_view data, const ConverterLimits& limits) {
  const ConverterSpec* spec = SpecFor(mime_type, filename);
  if (spec == nullptr && data.substr(0, 5) == "%PDF-") spec = SpecFor("application/pdf", "");
  ConverterResult result;
  if (spec == nullptr) return result;  // kNoConverter
  std::string path = FindProgram(spec->program);
  if (path.empty()) {
    result.outcome = ConverterOutcome::kMissing;
    result.converter = std::string(spec->program);
    result.detail = result.converter + " not installed";
    return result;
  }
  std::vector<std::string> argv = {path};
  for (std::string_view a : spec->args) argv.emplace_back(a);
  return RunConverter(argv, data, limits);
}

}  // namespace mailvault
