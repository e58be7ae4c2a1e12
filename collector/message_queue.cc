#include "collector/message_queue.h"

#include <utility>

namespace mailvault {

MessageQueue::MessageQueue(size_t max_bytes) : max_bytes_(max_bytes) {}

Status MessageQueue::Push(MessagePiece piece) {
  std::unique_lock lock(mutex_);
  ++producer_waiting_;
  changed_.wait(lock, [&] { return failed_.has_value() || bytes_ < max_bytes_ || pieces_.empty(); });
  --producer_waiting_;
  if (failed_) return *failed_;
  bytes_ += piece.bytes.size();
  pieces_.push_back(std::move(piece));
  // A wake-up (a futex call) only when the other side sleeps: most pushes find it busy.
  if (consumer_waiting_ > 0) changed_.notify_all();
  return Status::Ok();
}

void MessageQueue::Close(Status status) {
  std::lock_guard lock(mutex_);
  closed_ = true;
  close_status_ = std::move(status);
  changed_.notify_all();
}

std::optional<MessagePiece> MessageQueue::Pop() {
  std::unique_lock lock(mutex_);
  ++consumer_waiting_;
  changed_.wait(lock, [&] { return failed_.has_value() || closed_ || !pieces_.empty(); });
  --consumer_waiting_;
  if (failed_ || pieces_.empty()) return std::nullopt;
  MessagePiece piece = std::move(pieces_.front());
  pieces_.pop_front();
  bytes_ -= piece.bytes.size();
  if (producer_waiting_ > 0) changed_.notify_all();
  return piece;
}

void MessageQueue::Fail(Status status) {
  std::lock_guard lock(mutex_);
  if (!failed_) failed_ = std::move(status);
  pieces_.clear();
  bytes_ = 0;
  changed_.notify_all();
}

Status MessageQueue::close_status() const {
  std::lock_guard lock(mutex_);
  return close_status_;
}

}  // namespace mailvault
