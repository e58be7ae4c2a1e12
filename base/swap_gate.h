// SwapGate: many users inside at a time, or one exclusive holder. An exclusive
// request keeps new users out while it waits for those inside to leave, so a
// steady stream of overlapping users cannot starve it (std::shared_mutex on
// glibc prefers readers and can).
//
// Not recursive: a user must not enter again while inside (a waiting exclusive
// request in between would deadlock it). Use the RAII guards.
// Thread-safety: every member may be called from any thread.
#pragma once

#include <condition_variable>
#include <mutex>

namespace mailvault {

class SwapGate {
 public:
  SwapGate() = default;
  SwapGate(const SwapGate&) = delete;
  SwapGate& operator=(const SwapGate&) = delete;

  void Enter() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return !exclusive_ && exclusive_waiting_ == 0; });
    ++inside_;
  }
  void Leave() {
    std::lock_guard lock(mutex_);
    if (--inside_ == 0) changed_.notify_all();
  }
  void LockExclusive() {
    std::unique_lock lock(mutex_);
    ++exclusive_waiting_;
    changed_.wait(lock, [&] { return !exclusive_ && inside_ == 0; });
    --exclusive_waiting_;
    exclusive_ = true;
  }
  void UnlockExclusive() {
    std::lock_guard lock(mutex_);
    exclusive_ = false;
    changed_.notify_all();
  }

  class Shared {
   public:
    explicit Shared(SwapGate& gate) : gate_(gate) { gate_.Enter(); }
    ~Shared() { gate_.Leave(); }
    Shared(const Shared&) = delete;
    Shared& operator=(const Shared&) = delete;

   private:
    SwapGate& gate_;
  };
  class Exclusive {
   public:
    explicit Exclusive(SwapGate& gate) : gate_(gate) { gate_.LockExclusive(); }
    ~Exclusive() { gate_.UnlockExclusive(); }
    Exclusive(const Exclusive&) = delete;
    Exclusive& operator=(const Exclusive&) = delete;

   private:
    SwapGate& gate_;
  };

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int inside_ = 0;
  int exclusive_waiting_ = 0;
  bool exclusive_ = false;
};

}  // namespace mailvault
