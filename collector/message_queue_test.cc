#include "collector/message_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace mailvault {
namespace {

MessagePiece Piece(uint32_t number, size_t bytes) { return MessagePiece{number, std::string(bytes, 'x'), {}}; }

TEST(MessageQueueTest, DeliversPiecesInOrderThenTheCloseStatus) {
  MessageQueue queue(1024);
  ASSERT_TRUE(queue.Push(Piece(1, 10)).ok());
  MessagePiece last = Piece(1, 5);
  Pop3Message done;
  done.number = 1;
  done.bytes = 15;
  last.done = Result<Pop3Message>(done);
  ASSERT_TRUE(queue.Push(std::move(last)).ok());
  queue.Close(Status::IoError("connection reset"));

  auto first = queue.Pop();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->bytes.size(), 10u);
  EXPECT_FALSE(first->done.has_value());
  auto second = queue.Pop();
  ASSERT_TRUE(second.has_value());
  ASSERT_TRUE(second->done.has_value());
  ASSERT_TRUE(second->done->ok());
  EXPECT_EQ((*second->done)->bytes, 15u);
  EXPECT_FALSE(queue.Pop().has_value());
  EXPECT_EQ(queue.close_status().code(), StatusCode::kIoError);
}

// The producer waits while the queue holds max_bytes: memory stays bounded
// however fast the network is and however large a message.
TEST(MessageQueueTest, PushWaitsWhileFullAndAPieceLargerThanTheBoundStillPasses) {
  MessageQueue queue(100);
  std::atomic<int> pushed{0};
  std::thread producer([&] {
    for (int i = 0; i < 5; ++i) {
      ASSERT_TRUE(queue.Push(Piece(1, 60)).ok());
      ++pushed;
    }
    ASSERT_TRUE(queue.Push(Piece(2, 1000)).ok());  // larger than the bound
    ++pushed;
    queue.Close(Status::Ok());
  });
  // 60 + 60 bytes fill it: the third push waits for the consumer.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(pushed.load(), 2);
  size_t bytes = 0;
  int pieces = 0;
  while (auto piece = queue.Pop()) {
    bytes += piece->bytes.size();
    ++pieces;
  }
  producer.join();
  EXPECT_EQ(pieces, 6);
  EXPECT_EQ(bytes, 5u * 60 + 1000);
  EXPECT_TRUE(queue.close_status().ok());
}

// The consumer's failure reaches the producer at its next push, also when the
// producer is waiting on a full queue, and queued pieces are dropped.
TEST(MessageQueueTest, FailStopsTheProducer) {
  MessageQueue queue(10);
  ASSERT_TRUE(queue.Push(Piece(1, 10)).ok());
  Status waiting_push;
  std::thread producer([&] { waiting_push = queue.Push(Piece(1, 10)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  queue.Fail(Status::NoSpace("disk full"));
  producer.join();
  EXPECT_EQ(waiting_push.code(), StatusCode::kNoSpace);
  EXPECT_EQ(queue.Push(Piece(2, 1)).code(), StatusCode::kNoSpace);
  EXPECT_FALSE(queue.Pop().has_value());
}

}  // namespace
}  // namespace mailvault
