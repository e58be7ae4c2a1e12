// FifoSlots: at most N holders at a time, and those who wait are let in in the
// order they arrived.
//
// A condition variable with a counter lets a thread that arrives just as a slot
// is released take it before the thread that was woken for it runs again; under
// load (many threads on few cores, where a woken thread waits to be scheduled)
// some waiters are passed over again and again, and the slowest answers grow
// far beyond the average. Here Release() hands its slot straight to the
// longest waiter, whom no later arrival can overtake.
//
// Acquire() waits without a deadline: a holder must Release() (use Slot, RAII).
// Thread-safety: every member may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>

namespace mailvault {

class FifoSlots {
 public:
  explicit FifoSlots(size_t slots) : free_(slots) {}
  FifoSlots(const FifoSlots&) = delete;
  FifoSlots& operator=(const FifoSlots&) = delete;

  void Acquire() {
    std::unique_lock lock(mutex_);
    if (free_ > 0 && waiters_.empty()) {
      --free_;
      return;
    }
    Waiter me;
    waiters_.push_back(&me);
    me.granted.wait(lock, [&] { return me.has_slot; });
  }

  void Release() {
    std::lock_guard lock(mutex_);
    if (waiters_.empty()) {
      ++free_;
      return;
    }
    Waiter* next = waiters_.front();
    waiters_.pop_front();
    next->has_slot = true;
    // Notified under the lock: `next` lives on its thread's stack and may
    // return (destroying its condition variable) as soon as the lock is free.
    next->granted.notify_one();
  }

  // Threads waiting in Acquire() now (for tests and statistics).
  size_t waiting() const {
    std::lock_guard lock(mutex_);
    return waiters_.size();
  }

  // Holds one slot for its lifetime.
  class Slot {
   public:
    explicit Slot(FifoSlots* slots) : slots_(slots) { slots_->Acquire(); }
    ~Slot() {
      if (slots_ != nullptr) slots_->Release();
    }
    Slot(Slot&& other) noexcept : slots_(other.slots_) { other.slots_ = nullptr; }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    Slot& operator=(Slot&&) = delete;

   private:
    FifoSlots* slots_;
  };

 private:
  struct Waiter {
    std::condition_variable granted;
    bool has_slot = false;
  };
  mutable std::mutex mutex_;
  size_t free_;
  std::deque<Waiter*> waiters_;
};

}  // namespace mailvault
