// Time as a dependency: components take a Clock so tests can set the time.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace mailvault {

// Wall-clock time source. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::system_clock::time_point Now() const = 0;
  int64_t NowUnixSeconds() const {
    return std::chrono::duration_cast<std::chrono::seconds>(Now().time_since_epoch()).count();
  }
};

// The real clock. Shared instance: SystemClock::Instance().
class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::now();
  }
  static const SystemClock& Instance() {
    static const SystemClock clock;
    return clock;
  }
};

// A clock that runs `speed` times faster than the real one from the moment it
// is made (speed 60: a minute passes every second). For end-to-end tests of a
// schedule; `serve` uses it only when MAILVAULT_CLOCK_SPEED is set.
class ScaledClock final : public Clock {
 public:
  explicit ScaledClock(double speed)
      : speed_(speed),
        origin_(std::chrono::system_clock::now()),
        steady_origin_(std::chrono::steady_clock::now()) {}
  std::chrono::system_clock::time_point Now() const override {
    auto real = std::chrono::duration<double>(std::chrono::steady_clock::now() - steady_origin_);
    return origin_ + std::chrono::duration_cast<std::chrono::system_clock::duration>(real * speed_);
  }
  double speed() const { return speed_; }

 private:
  double speed_;
  std::chrono::system_clock::time_point origin_;
  std::chrono::steady_clock::time_point steady_origin_;
};

// A clock that moves only when told to. For tests.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t unix_seconds = 0) : seconds_(unix_seconds) {}
  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::time_point(std::chrono::seconds(seconds_.load()));
  }
  void Set(int64_t unix_seconds) { seconds_ = unix_seconds; }
  void Advance(int64_t seconds) { seconds_ += seconds; }

 private:
  std::atomic<int64_t> seconds_;
};

}  // namespace mailvault
