#include "archive/block_compressor.h"

#include <utility>

namespace mailvault {

BlockCompressor::BlockCompressor(int level, NewestFn newest, WriteFn write, size_t max_in_flight)
    : level_(level),
      newest_(std::move(newest)),
      write_(std::move(write)),
      max_in_flight_(max_in_flight < 1 ? 1 : max_in_flight) {}

BlockCompressor::~BlockCompressor() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    queue_.clear();
  }
  changed_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void BlockCompressor::Submit(Block block) {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return queue_.size() + running_ < max_in_flight_; });
  queue_.push_back(std::move(block));
  if (!worker_.joinable()) worker_ = std::thread([this] { Work(); });
  changed_.notify_all();
}

Status BlockCompressor::Drain() {
  std::unique_lock lock(mutex_);
  for (Block& b : failed_) queue_.push_front(std::move(b));
  failed_.clear();
  if (!queue_.empty() && !worker_.joinable()) worker_ = std::thread([this] { Work(); });
  changed_.notify_all();
  changed_.wait(lock, [&] { return queue_.empty() && running_ == 0; });
  return std::exchange(failure_, Status::Ok());
}

void BlockCompressor::Work() {
  SegmentCodec codec;
  std::string frame;
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping
    Block block = std::move(queue_.front());
    queue_.pop_front();
    ++running_;
    lock.unlock();
    if (block.with_newest_dictionary) block.dictionary = newest_();
    Status s = codec.Compress(block.plain, block.dictionary.get(), level_, &frame);
    if (s.ok()) s = write_(block, frame);
    lock.lock();
    --running_;
    if (!s.ok()) {
      if (failure_.ok()) failure_ = s;
      failed_.push_back(std::move(block));
    }
    changed_.notify_all();
  }
}

}  // namespace mailvault
