// web_bench_server: what `mailvault serve` runs (the Daemon: archive opened for
// writing, scheduler, background indexer, the HttpListener) with the web UI's
// WebApp mounted, for the load benchmark (bench/run_web_bench.sh, issue 6).
//
//   web_bench_server --data DIR --port-file FILE [--max-seconds N]
//
// Listens on 127.0.0.1 on a free port and writes that port to FILE once it
// serves. Stops on SIGTERM/SIGINT or, so that a forgotten server never
// outlives its benchmark, after --max-seconds (default 1800). On exit it prints
// its own CPU time (`user_s=`, `sys_s=`) and peak RSS on stdout.
//
// A bench program rather than `mailvault serve` so the benchmark does not
// depend on how the command line wires the web UI; the wiring below is the
// same Daemon + WebApp pair.
#include <signal.h>
#include <sys/resource.h>
#include <time.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "base/log.h"
#include "config/settings.h"
#include "daemon/daemon.h"
#include "search/indexer.h"
#include "webui/web_app.h"

namespace mailvault {
namespace {

int Usage() {
  std::fprintf(stderr, "usage: web_bench_server --data DIR --port-file FILE [--max-seconds N]\n");
  return 2;
}

bool WriteFileAtomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr) return false;
  const bool ok = std::fputs(text.c_str(), f) >= 0;
  if (std::fclose(f) != 0 || !ok) return false;
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

int Run(int argc, char** argv) {
  std::string data_dir, port_file;
  long max_seconds = 1800;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--data" && has_value) {
      data_dir = argv[++i];
    } else if (a == "--port-file" && has_value) {
      port_file = argv[++i];
    } else if (a == "--max-seconds" && has_value) {
      max_seconds = std::strtol(argv[++i], nullptr, 10);
    } else {
      return Usage();
    }
  }
  if (data_dir.empty() || port_file.empty() || max_seconds <= 0) return Usage();

  // Only sigtimedwait below takes the termination signals: block them before
  // any thread starts so that every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  SetLogLevel(LogLevel::kWarning);

  // The WebApp is created by the daemon's web factory and must outlive the
  // listener: it is declared before the daemon so it is destroyed after it.
  std::unique_ptr<WebApp> app;
  DaemonOptions options;
  options.settings = DefaultSettings();
  options.settings.archive.data_dir = data_dir;
  options.settings.web.listen_host = "127.0.0.1";
  options.settings.web.listen_port = 0;
  options.web = [&](Archive& archive, CollectionControl& control) -> Result<HttpRouter> {
    WebAppOptions wo;
    wo.archive = &archive;
    wo.data_dir = data_dir;
    wo.index_dir = IndexDirectory(data_dir);
    wo.control = &control;
    MV_ASSIGN_OR_RETURN(app, WebApp::Create(std::move(wo)));
    WebApp* web = app.get();
    return HttpRouter([web](const Poco::Net::HTTPServerRequest& request) {
      return web->CreateRequestHandler(request);
    });
  };
  auto daemon = Daemon::Start(std::move(options));
  if (!daemon.ok()) {
    std::fprintf(stderr, "web_bench_server: %s\n", daemon.status().ToString().c_str());
    return 1;
  }
  if (!WriteFileAtomically(port_file, std::to_string((*daemon)->port()) + "\n")) {
    std::fprintf(stderr, "web_bench_server: cannot write %s\n", port_file.c_str());
    return 1;
  }

  timespec limit{max_seconds, 0};
  const int sig = sigtimedwait(&signals, nullptr, &limit);
  if (sig < 0 && errno == EAGAIN) {
    std::fprintf(stderr, "web_bench_server: stopping after --max-seconds %ld\n", max_seconds);
  }
  (*daemon)->Stop(std::chrono::seconds(5));
  daemon->reset();
  app.reset();

  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::printf("user_s=%.3f\nsys_s=%.3f\nmaxrss_kib=%ld\n",
              static_cast<double>(usage.ru_utime.tv_sec) + usage.ru_utime.tv_usec / 1e6,
              static_cast<double>(usage.ru_stime.tv_sec) + usage.ru_stime.tv_usec / 1e6,
              usage.ru_maxrss);
  return 0;
}

}  // namespace
}  // namespace mailvault

int main(int argc, char** argv) { return mailvault::Run(argc, argv); }
