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
#include "search/html_text.h"

namespace mailvault {
namespace {

struct ConverterSpec {
  std::string_view program;
  std::vector<std::string_view> args;  // "{in}" is the input file
  std::vector<std::string_view> mime_types;  // lowercase
  std::vector<std::string_view> extensions;  // lowercase, with the dot
  std::vector<std::string_view> signatures;  // how the files it reads begin
  // The tool exits 0 on input it cannot read and says so only on stderr, so no
  // output plus an error message is a failure.
  bool exits_zero_on_bad_input = false;
  // The tool writes DrawingML XML (slides unzipped as they are), whose text is
  // taken out here (SlideText).
  bool writes_slide_xml = false;
};

constexpr std::string_view kZip("PK\x03\x04", 4);
constexpr std::string_view kOle("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8);

const std::vector<ConverterSpec>& Converters() {
  static const std::vector<ConverterSpec> kConverters = {
      {"pdftotext",
       {"-q", "-enc", "UTF-8", "-nopgbrk", "{in}", "-"},
       {"application/pdf", "application/x-pdf", "application/acrobat"},
       {".pdf"},
       {"%PDF-"}},
      // Without the "-" it writes FILE.txt beside the input. It runs unzip through
      // a shell with the input path in double quotes: the path is ours
      // (mailvault-attachment-XXXXXX in the configured temp_dir), never the
      // attachment's name.
      {"docx2txt",
       {"{in}", "-"},
       {"application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.ms-word.document.macroenabled.12"},
       {".docx", ".docm"},
       {kZip}},
      {"xlsx2csv",
       {"--all", "{in}"},
       {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.ms-excel.sheet.macroenabled.12"},
       {".xlsx", ".xlsm"},
       {kZip}},
      // catdoc rather than antiword: mail clients often send RTF as
      // application/msword, which catdoc reads and antiword refuses, as it refuses
      // the small Word files LibreOffice writes ("text stream too small").
      {"catdoc",
       {"-d", "utf-8", "-w", "{in}"},
       {"application/msword", "application/rtf", "application/x-rtf"},
       {".doc", ".dot", ".rtf"},
       {kOle, "{\\rtf"}},
      {"xls2csv",
       {"-d", "utf-8", "{in}"},
       {"application/vnd.ms-excel", "application/excel", "application/x-excel",
        "application/x-msexcel"},
       {".xls"},
       {kOle},
       true},
      {"catppt",
       {"-d", "utf-8", "{in}"},
       {"application/vnd.ms-powerpoint", "application/mspowerpoint",
        "application/x-mspowerpoint"},
       {".ppt", ".pps"},
       {kOle},
       true},
      // No Debian tool converts PowerPoint 2007+ (.pptx) to text: its slides
      // are DrawingML XML in the zip, which unzip (what docx2txt runs) writes
      // out and SlideText reads: the slides, in zip order (speaker notes are
      // left out: unzip fails when a pattern matches nothing, and most
      // presentations have none).
      {"unzip",
       {"-p", "{in}", "ppt/slides/slide*.xml"},
       {"application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.openxmlformats-officedocument.presentationml.slideshow",
        "application/vnd.ms-powerpoint.presentation.macroenabled.12"},
       {".pptx", ".ppsx", ".pptm"},
       {kZip},
       false,
       true},
      {"odt2txt",
       {"--encoding=UTF-8", "--width=-1", "{in}"},
       {"application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation"},
       {".odt", ".ods", ".odp"},
       {kZip}},
  };
  return kConverters;
}

// The text of DrawingML XML: what its text runs (<a:t>) hold, entities
// decoded, a line per paragraph (</a:p>). Linear in the input; anything else
// (shapes, styles, malformed markup) is skipped.
std::string SlideText(std::string_view xml) {
  std::string text;
  size_t at = 0;
  while ((at = xml.find('<', at)) != std::string_view::npos) {
    const std::string_view rest = xml.substr(at);
    if (rest.starts_with("</a:p>")) {
      if (!text.empty() && text.back() != '\n') text += '\n';
      at += 6;
      continue;
    }
    if (rest.starts_with("<a:t>") || rest.starts_with("<a:t ")) {
      const size_t open_end = xml.find('>', at);
      if (open_end == std::string_view::npos) break;
      const size_t close = xml.find("</a:t>", open_end);
      if (close == std::string_view::npos) break;
      text += DecodeHtmlEntities(xml.substr(open_end + 1, close - open_end - 1));
      at = close + 6;
      continue;
    }
    ++at;
  }
  return text;
}

std::string FindProgram(std::string_view name) {
  for (std::string_view dir : {"/usr/bin", "/usr/local/bin", "/bin"}) {
    std::string path = std::string(dir) + "/" + std::string(name);
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  return "";
}

std::string Lowercase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

const ConverterSpec* SpecForType(std::string_view mime_type) {
  const std::string type = Lowercase(mime_type);
  for (const auto& spec : Converters()) {
    if (std::find(spec.mime_types.begin(), spec.mime_types.end(), type) != spec.mime_types.end()) {
      return &spec;
    }
  }
  return nullptr;
}

const ConverterSpec* SpecForName(std::string_view filename) {
  const std::string name = Lowercase(filename);
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

const ConverterSpec* SpecFor(std::string_view mime_type, std::string_view filename) {
  const ConverterSpec* by_type = SpecForType(mime_type);
  return by_type != nullptr ? by_type : SpecForName(filename);
}

bool Reads(const ConverterSpec& spec, std::string_view data) {
  return std::any_of(spec.signatures.begin(), spec.signatures.end(),
                     [&](std::string_view sig) { return data.substr(0, sig.size()) == sig; });
}

// For these bytes: the MIME type's converter, unless the bytes are of a kind it
// does not read and the file name's converter reads them (mail clients send a
// .docx as application/msword, which catdoc cannot read); with neither, a PDF by
// its signature.
const ConverterSpec* SpecForData(std::string_view mime_type, std::string_view filename,
                                 std::string_view data) {
  const ConverterSpec* by_type = SpecForType(mime_type);
  const ConverterSpec* by_name = SpecForName(filename);
  if (by_type != nullptr && by_name != nullptr && !Reads(*by_type, data) &&
      Reads(*by_name, data)) {
    return by_name;
  }
  if (by_type != nullptr) return by_type;
  if (by_name != nullptr) return by_name;
  return data.substr(0, 5) == "%PDF-" ? SpecForType("application/pdf") : nullptr;
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

// The start of a child's stderr: enough for a problem line.
constexpr size_t kMaxErrorOutput = 512;

// One pipe from the child, read without blocking into `sink` up to `cap` bytes.
struct ChildOutput {
  UniqueFd fd;
  std::string* sink = nullptr;
  size_t cap = 0;
  bool open = true;
  bool overflowed = false;  // the child wrote more than `cap`

  void ReadAvailable(std::array<char, 65536>& buf) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n > 0) {
      size_t room = cap - std::min(cap, sink->size());
      sink->append(buf.data(), std::min(room, static_cast<size_t>(n)));
      if (static_cast<size_t>(n) >= room) overflowed = true;
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
      open = false;
    }
  }
};

// Printable ASCII only (it goes into problem lines), the input file's path named
// "<input>", lines joined by "; ".
std::string CleanErrorOutput(std::string text, const std::string& input_path) {
  for (size_t at = text.find(input_path); !input_path.empty() && at != std::string::npos;
       at = text.find(input_path, at + 7)) {
    text.replace(at, input_path.size(), "<input>");
  }
  std::string out;
  for (char c : text) {
    if (c == '\n' || c == '\r') {
      if (!out.empty() && out.back() != ' ') out += "; ";
    } else {
      out += (c >= 0x20 && c < 0x7f) ? c : '?';
    }
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == ';')) out.pop_back();
  return out;
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

  int out_fds[2];
  int err_fds[2];
  if (::pipe2(out_fds, O_CLOEXEC) != 0) {
    result.detail = result.converter + ": " + ErrnoToStatus(errno, "pipe").ToString();
    return result;
  }
  ChildOutput out{UniqueFd(out_fds[0]), &result.text, limits.max_output_bytes};
  UniqueFd out_write(out_fds[1]);
  if (::pipe2(err_fds, O_CLOEXEC) != 0) {
    result.detail = result.converter + ": " + ErrnoToStatus(errno, "pipe").ToString();
    return result;
  }
  std::string error_output;
  ChildOutput err{UniqueFd(err_fds[0]), &error_output, kMaxErrorOutput};
  UniqueFd err_write(err_fds[1]);
  UniqueFd dev_null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
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
    // Its own process group, so that helpers it starts are killed with it.
    ::setpgid(0, 0);
    if (dev_null.valid()) ::dup2(dev_null.get(), 0);
    ::dup2(out_write.get(), 1);
    ::dup2(err_write.get(), 2);
    ::setrlimit(RLIMIT_CPU, &cpu_limit);
    ::setrlimit(RLIMIT_AS, &memory_limit);
    ::setrlimit(RLIMIT_FSIZE, &no_files);
    ::execv(cargs[0], cargs.data());
    ::_exit(127);
  }
  // Also here, so that the group exists before any kill below, whichever of
  // parent and child runs first.
  ::setpgid(pid, pid);
  out_write.Reset();
  err_write.Reset();
  ::fcntl(out.fd.get(), F_SETFL, O_NONBLOCK);
  ::fcntl(err.fd.get(), F_SETFL, O_NONBLOCK);
  auto kill_group = [pid] {
    if (::kill(-pid, SIGKILL) != 0) ::kill(pid, SIGKILL);
  };

  bool killed = false;
  bool timed_out = false;
  int status = 0;
  bool reaped = false;
  std::array<char, 65536> buf;
  while (!reaped) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline && !killed) {
      kill_group();
      killed = timed_out = true;
    }
    // Only stdout's end is waited for: a helper left holding stderr must not
    // hold up the result.
    if (out.open && !killed) {
      int wait_ms = static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1);
      std::array<pollfd, 2> pfds = {pollfd{out.open ? out.fd.get() : -1, POLLIN, 0},
                                    pollfd{err.open ? err.fd.get() : -1, POLLIN, 0}};
      int rc = ::poll(pfds.data(), pfds.size(), std::min(wait_ms, 1000));
      if (rc < 0 && errno != EINTR) out.open = err.open = false;
      if (rc > 0) {
        if (pfds[0].revents != 0) out.ReadAvailable(buf);
        if (pfds[1].revents != 0) err.ReadAvailable(buf);
        if (out.overflowed) {
          result.truncated = true;
          kill_group();
          killed = true;
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
  // Helpers the child left behind (it exited, they did not) go with it.
  if (!killed) ::kill(-pid, SIGKILL);
  // What the child wrote to stderr before it exited is in the pipe by now.
  for (int i = 0; i < 4 && err.open; ++i) {
    size_t before = error_output.size();
    err.ReadAvailable(buf);
    if (error_output.size() == before) break;
  }
  result.error_output = CleanErrorOutput(std::move(error_output), input.path());
  // The first line says what went wrong; the rest is often a traceback.
  const std::string first_line = result.error_output.substr(0, result.error_output.find("; "));
  const std::string says = first_line.empty() ? "" : ": " + first_line;
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
    result.detail =
        result.converter + " exited with status " + std::to_string(WEXITSTATUS(status)) + says;
  } else {
    result.detail = result.converter + " killed by signal " +
                    std::to_string(WIFSIGNALED(status) ? WTERMSIG(status) : 0) + says;
  }
  return result;
}

ConverterResult ExtractAttachmentText(std::string_view mime_type, std::string_view filename,
                                      std::string_view data, const ConverterLimits& limits) {
  const ConverterSpec* spec = SpecForData(mime_type, filename, data);
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
  result = RunConverter(argv, data, limits);
  if (spec->writes_slide_xml && result.outcome == ConverterOutcome::kOk) {
    result.text = SlideText(result.text);
  }
  if (spec->exits_zero_on_bad_input && result.outcome == ConverterOutcome::kOk &&
      result.text.empty() && !result.error_output.empty()) {
    result.outcome = ConverterOutcome::kFailed;
    result.detail = result.converter + " failed: " +
                    result.error_output.substr(0, result.error_output.find("; "));
  }
  return result;
}

}  // namespace mailvault
