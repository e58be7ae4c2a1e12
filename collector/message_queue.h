// A bounded queue of message pieces between a collection run's two threads:
// the POP3 reader (the producer: RETR replies as they arrive) and the archive
// writer (the consumer: canonicalising, hashing, deduplicating, compressing,
// committing). With it the network read goes on while the archive works, and
// the archive goes on while the next replies arrive.
//
// Bounded in bytes: Push() waits while the queue holds `max_bytes` or more, so
// a message of any size streams through in pieces with bounded memory (a single
// piece larger than max_bytes still passes when the queue is empty).
//
// Errors travel both ways: the producer ends with Close(status); the consumer
// stops with Fail(status), after which Push() returns that status (and drops
// its piece), so the reader stops at its next piece.
//
// Thread-safety: one producer thread and one consumer thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>

#include "base/status.h"
#include "collector/pop3_session.h"

namespace mailvault {

// The next bytes of message `number`, and, on its last piece, how its RETR ended.
struct MessagePiece {
  uint32_t number = 0;
  std::string bytes;
  std::optional<Result<Pop3Message>> done;
};

class MessageQueue {
 public:
  explicit MessageQueue(size_t max_bytes);
  MessageQueue(const MessageQueue&) = delete;
  MessageQueue& operator=(const MessageQueue&) = delete;

  // Producer: queues `piece`, waiting while the queue is full. After Fail(), the
  // consumer's status instead (the piece is dropped).
  Status Push(MessagePiece piece);
  // Producer: there are no more pieces; `status` says how the producer ended.
  void Close(Status status);

  // Consumer: the next piece; nullopt once the queue is closed and empty.
  std::optional<MessagePiece> Pop();
  // Consumer: stops taking pieces; queued pieces are dropped and Push() returns `status`.
  void Fail(Status status);
  // The producer's status given to Close() (OK before).
  Status close_status() const;

 private:
  const size_t max_bytes_;
  mutable std::mutex mutex_;  // guards everything below
  std::condition_variable changed_;
  std::deque<MessagePiece> pieces_;
  size_t bytes_ = 0;
  int producer_waiting_ = 0;  // threads in Push's wait
  int consumer_waiting_ = 0;  // threads in Pop's wait
  bool closed_ = false;
  Status close_status_;
  std::optional<Status> failed_;
};

}  // namespace mailvault
