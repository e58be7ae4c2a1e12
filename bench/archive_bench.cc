// archive_bench: the in-process half of bench/run_archive_bench.sh.
//
//   archive_bench read --data DIR [--samples N] [--seed S]
//       Random single-message reads through Archive::ReadMessage: N ids drawn
//       (with a fixed seed) from every message in the archive, read once with
//       the page cache warm and once after posix_fadvise(DONTNEED) on every
//       file of the data directory. Prints key=value lines with p50/p99/max
//       latencies in microseconds.
//   archive_bench baseline --data DIR [--tar]
//       The comparison figures, over the same messages the archive holds (its
//       canonical bytes, in arrival order): raw bytes and the sum of the sizes
//       of each message compressed on its own with zstd level 3 (libzstd,
//       ZSTD_compressCCtx), as key=value lines on stderr. With --tar, also
//       writes the messages as a ustar archive to stdout (NNNNNNNN.eml each), for
//       `| zstd -19 --long=27`.
//   archive_bench spawn OUT -- COMMAND [ARGS...]
//       Runs COMMAND as a child (stdout and stderr passed through), waits for
//       it with wait4, and writes wall seconds, user and system CPU seconds,
//       peak RSS (KiB) and the exit status to OUT as key=value lines. Exits
//       with the child's status.
//
// Opens the archive read-only; never writes to it.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "archive/archive.h"
#include "base/sha256.h"
#include "base/status.h"

namespace mailvault {
namespace {

int Usage() {
  std::fprintf(stderr,
               "usage: archive_bench read --data DIR [--samples N] [--seed S]\n"
               "       archive_bench baseline --data DIR [--tar]\n"
               "       archive_bench spawn OUT -- COMMAND [ARGS...]\n");
  return 2;
}

int Fail(const Status& s) {
  std::fprintf(stderr, "archive_bench: %s\n", s.ToString().c_str());
  return 1;
}

Result<std::unique_ptr<Archive>> OpenReadOnly(const std::string& dir) {
  ArchiveOptions options;
  options.data_dir = dir;
  options.mode = ArchiveOptions::Mode::kReadOnly;
  return Archive::Open(std::move(options));
}

// Drops the page cache of every file under `dir` (only those files; other
// processes' caches are untouched). The files are clean: the import fsynced them.
void DropCache(const std::string& dir) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (!entry.is_regular_file(ec)) continue;
    const int fd = ::open(entry.path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ::fdatasync(fd);
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
  }
}

struct Percentiles {
  double p50 = 0, p99 = 0, max = 0, mean = 0;
};

Percentiles Summarize(std::vector<double> v) {
  Percentiles p;
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    size_t i = static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
  };
  p.p50 = at(0.50);
  p.p99 = at(0.99);
  p.max = v.back();
  double sum = 0;
  for (double x : v) sum += x;
  p.mean = sum / static_cast<double>(v.size());
  return p;
}

int RunRead(const std::string& dir, size_t samples, uint64_t seed) {
  std::vector<Digest> ids;
  {
    auto archive = OpenReadOnly(dir);
    if (!archive.ok()) return Fail(archive.status());
    Status s = (*archive)->ForEachMessage([&](const MessageInfo& info) {
      ids.push_back(info.id);
      return Status::Ok();
    });
    if (!s.ok()) return Fail(s);
  }
  if (ids.empty()) return Fail(Status::NotFound(dir + ": the archive holds no message"));
  std::mt19937_64 rng(seed);
  std::vector<Digest> picks;
  for (size_t i = 0; i < samples; ++i) picks.push_back(ids[rng() % ids.size()]);

  for (const char* pass : {"cold", "warm"}) {
    // Cold: caches of the data directory dropped, archive opened afresh (its
    // open is not timed). Warm: the same ids again, everything cached.
    const bool cold = std::strcmp(pass, "cold") == 0;
    if (cold) DropCache(dir);
    auto archive = OpenReadOnly(dir);
    if (!archive.ok()) return Fail(archive.status());
    std::vector<double> micros;
    micros.reserve(picks.size());
    uint64_t bytes = 0;
    for (const Digest& id : picks) {
      const auto start = std::chrono::steady_clock::now();
      Status s = (*archive)->ReadMessage(id, [&](std::string_view chunk) {
        bytes += chunk.size();
        return Status::Ok();
      });
      const auto end = std::chrono::steady_clock::now();
      if (!s.ok()) return Fail(s.WithContext("reading " + ToHex(id)));
      micros.push_back(std::chrono::duration<double, std::micro>(end - start).count());
    }
    const Percentiles p = Summarize(std::move(micros));
    std::printf("%s_samples=%zu\n%s_bytes=%llu\n%s_p50_us=%.1f\n%s_p99_us=%.1f\n%s_max_us=%.1f\n%s_mean_us=%.1f\n",
                pass, picks.size(), pass, static_cast<unsigned long long>(bytes), pass, p.p50, pass, p.p99, pass,
                p.max, pass, p.mean);
  }
  std::printf("distinct_messages=%zu\n", ids.size());
  return 0;
}

// Writes a ustar header block for a regular file.
void TarHeader(const std::string& name, uint64_t size, char block[512]) {
  std::memset(block, 0, 512);
  std::snprintf(block, 100, "%s", name.c_str());
  std::snprintf(block + 100, 8, "%07o", 0644);
  std::snprintf(block + 108, 8, "%07o", 0);
  std::snprintf(block + 116, 8, "%07o", 0);
  std::snprintf(block + 124, 12, "%011llo", static_cast<unsigned long long>(size));
  std::snprintf(block + 136, 12, "%011o", 0);
  block[156] = '0';
  std::memcpy(block + 257, "ustar", 6);
  std::memcpy(block + 263, "00", 2);
  std::memset(block + 148, ' ', 8);
  unsigned sum = 0;
  for (int i = 0; i < 512; ++i) sum += static_cast<unsigned char>(block[i]);
  std::snprintf(block + 148, 8, "%06o", sum);
}

bool WriteAll(std::string_view data) {
  return std::fwrite(data.data(), 1, data.size(), stdout) == data.size();
}

int RunBaseline(const std::string& dir, bool tar) {
  auto archive = OpenReadOnly(dir);
  if (!archive.ok()) return Fail(archive.status());
  std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> cctx(ZSTD_createCCtx(), &ZSTD_freeCCtx);
  if (!cctx) return Fail(Status::Internal("ZSTD_createCCtx failed"));
  uint64_t messages = 0, raw = 0, zstd3 = 0;
  std::string message;
  std::string compressed;
  double zstd_seconds = 0;
  Status s = (*archive)->ForEachMessage([&](const MessageInfo& info) -> Status {
    message.clear();
    MV_RETURN_IF_ERROR((*archive)->ReadMessage(info.id, [&](std::string_view chunk) {
      message.append(chunk);
      return Status::Ok();
    }));
    compressed.resize(ZSTD_compressBound(message.size()));
    const auto start = std::chrono::steady_clock::now();
    const size_t n = ZSTD_compressCCtx(cctx.get(), compressed.data(), compressed.size(), message.data(),
                                       message.size(), 3);
    zstd_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (ZSTD_isError(n)) return Status::Internal(std::string("zstd: ") + ZSTD_getErrorName(n));
    ++messages;
    raw += message.size();
    zstd3 += n;
    if (tar) {
      char header[512];
      // Sequential names: hex ids would add 32 incompressible bytes per message.
      char name[32];
      std::snprintf(name, sizeof name, "%08llu.eml", static_cast<unsigned long long>(messages));
      TarHeader(name, message.size(), header);
      static const char kZeros[512] = {};
      const size_t pad = (512 - message.size() % 512) % 512;
      if (!WriteAll({header, 512}) || !WriteAll(message) || !WriteAll({kZeros, pad})) {
        return Status::IoError("writing the tar stream to stdout failed");
      }
    }
    return Status::Ok();
  });
  if (!s.ok()) return Fail(s);
  if (tar) {
    static const char kEnd[1024] = {};
    if (!WriteAll({kEnd, sizeof kEnd}) || std::fflush(stdout) != 0) {
      return Fail(Status::IoError("writing the tar stream to stdout failed"));
    }
  }
  std::fprintf(stderr, "baseline_messages=%llu\nbaseline_raw_bytes=%llu\nzstd3_bytes=%llu\nzstd3_seconds=%.3f\n",
               static_cast<unsigned long long>(messages), static_cast<unsigned long long>(raw),
               static_cast<unsigned long long>(zstd3), zstd_seconds);
  return 0;
}

int RunSpawn(const std::string& out, char** argv) {
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = ::fork();
  if (pid < 0) return Fail(Status::IoError(std::string("fork: ") + std::strerror(errno)));
  if (pid == 0) {
    ::execvp(argv[0], argv);
    std::fprintf(stderr, "archive_bench: exec %s: %s\n", argv[0], std::strerror(errno));
    ::_exit(127);
  }
  int status = 0;
  struct rusage usage {};
  while (::wait4(pid, &status, 0, &usage) < 0) {
    if (errno != EINTR) return Fail(Status::IoError(std::string("wait4: ") + std::strerror(errno)));
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  auto secs = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; };
  FILE* f = std::fopen(out.c_str(), "w");
  if (f == nullptr) return Fail(Status::IoError(out + ": " + std::strerror(errno)));
  std::fprintf(f, "wall_s=%.3f\nuser_s=%.3f\nsys_s=%.3f\nmaxrss_kib=%ld\nexit=%d\n", wall, secs(usage.ru_utime),
               secs(usage.ru_stime), usage.ru_maxrss, code);
  if (std::fclose(f) != 0) return Fail(Status::IoError(out + ": write failed"));
  return code;
}

}  // namespace
}  // namespace mailvault

int main(int argc, char** argv) {
  using namespace mailvault;
  if (argc < 2) return Usage();
  const std::string_view command = argv[1];
  if (command == "spawn") {
    if (argc < 5 || std::string_view(argv[3]) != "--") return Usage();
    return RunSpawn(argv[2], argv + 4);
  }
  std::string data;
  size_t samples = 2000;
  uint64_t seed = 1;
  bool tar = false;
  for (int i = 2; i < argc; ++i) {
    const std::string_view a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--data" && has_value) data = argv[++i];
    else if (a == "--samples" && has_value) samples = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--seed" && has_value) seed = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--tar") tar = true;
    else return Usage();
  }
  if (data.empty()) return Usage();
  if (command == "read") return RunRead(data, samples, seed);
  if (command == "baseline") return RunBaseline(data, tar);
  return Usage();
}
