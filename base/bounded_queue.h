// BoundedQueue: a queue between one producer thread and one consumer thread,
// bounded by the summed cost of what it holds, so a fast producer waits for a
// slow consumer instead of filling memory.
//
// Push() waits while the queue holds `capacity` or more (an item costing more
// than `capacity` still passes when the queue is empty). Each item's cost is
// `cost(item)`, 1 when no cost function is given.
//
// Errors travel both ways: the producer ends with Close(status) (the consumer
// takes what is queued, then nullopt; close_status() says how the producer
// ended); the consumer stops with Fail(status), which drops what is queued, and
// from then on Push() returns that status (dropping its item), so the producer
// stops at its next item.
//
// Items are moved in and out: nothing of an item stays with the producer once
// pushed (what a Xapian::Document, whose reference counts are not atomic,
// needs to change threads).
//
// Thread-safety: one producer thread and one consumer thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <utility>

#include "base/status.h"

namespace mailvault {

template <typename T>
class BoundedQueue {
 public:
  using Cost = size_t (*)(const T&);
  explicit BoundedQueue(size_t capacity, Cost cost = nullptr) : capacity_(capacity), cost_(cost) {}
  BoundedQueue(const BoundedQueue&) = delete;
  BoundedQueue& operator=(const BoundedQueue&) = delete;

  // Producer: queues `item`, waiting while the queue is full. After Fail(), the
  // consumer's status instead (the item is dropped).
  Status Push(T item) {
    std::unique_lock lock(mutex_);
    ++producer_waiting_;
    changed_.wait(lock, [&] { return failed_.has_value() || held_ < capacity_ || items_.empty(); });
    --producer_waiting_;
    if (failed_) return *failed_;
    held_ += CostOf(item);
    items_.push_back(std::move(item));
    // A wake-up (a futex call) only when the other side sleeps: most pushes find it busy.
    if (consumer_waiting_ > 0) changed_.notify_all();
    return Status::Ok();
  }
  // Producer: there are no more items; `status` says how the producer ended.
  void Close(Status status) {
    std::lock_guard lock(mutex_);
    closed_ = true;
    close_status_ = std::move(status);
    changed_.notify_all();
  }

  // Consumer: the next item; nullopt once the queue is closed and empty, or failed.
  std::optional<T> Pop() {
    std::unique_lock lock(mutex_);
    ++consumer_waiting_;
    changed_.wait(lock, [&] { return failed_.has_value() || closed_ || !items_.empty(); });
    --consumer_waiting_;
    if (failed_ || items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    held_ -= CostOf(item);
    if (producer_waiting_ > 0) changed_.notify_all();
    return item;
  }
  // Consumer: stops taking items; queued ones are dropped and Push() returns `status`.
  void Fail(Status status) {
    std::lock_guard lock(mutex_);
    if (!failed_) failed_ = std::move(status);
    items_.clear();
    held_ = 0;
    changed_.notify_all();
  }
  // The producer's status given to Close() (OK before).
  Status close_status() const {
    std::lock_guard lock(mutex_);
    return close_status_;
  }

 private:
  size_t CostOf(const T& item) const { return cost_ != nullptr ? cost_(item) : 1; }

  const size_t capacity_;
  const Cost cost_;
  mutable std::mutex mutex_;  // guards everything below
  std::condition_variable changed_;
  std::deque<T> items_;
  size_t held_ = 0;  // summed cost of items_
  int producer_waiting_ = 0;  // threads in Push's wait
  int consumer_waiting_ = 0;  // threads in Pop's wait
  bool closed_ = false;
  Status close_status_;
  std::optional<Status> failed_;
};

}  // namespace mailvault
