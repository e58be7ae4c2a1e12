// A bounded queue of message pieces between a collection run's two threads:
// the POP3 reader (the producer: RETR replies as they arrive) and the archive
// writer (the consumer: canonicalising, hashing, deduplicating, compressing,
// committing). With it the network read goes on while the archive works, and
// the archive goes on while the next replies arrive.
//
// Bounded in bytes (base/bounded_queue.h), so a message of any size streams
// through in pieces with bounded memory. The reader ends with Close(status);
// the writer stops with Fail(status), after which the reader's next Push()
// returns that status.
//
// Thread-safety: one producer thread and one consumer thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "base/bounded_queue.h"
#include "base/status.h"
#include "collector/pop3_session.h"

namespace mailvault {

// The next bytes of message `number`, and, on its last piece, how its RETR ended.
struct MessagePiece {
  uint32_t number = 0;
  std::string bytes;
  std::optional<Result<Pop3Message>> done;
};

class MessageQueue : public BoundedQueue<MessagePiece> {
 public:
  explicit MessageQueue(size_t max_bytes)
      : BoundedQueue(max_bytes, [](const MessagePiece& piece) { return piece.bytes.size(); }) {}
};

}  // namespace mailvault
