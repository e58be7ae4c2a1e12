#include "base/bounded_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

namespace mailvault {
namespace {

// Without a cost function each item counts one; items may be move-only.
// (The cost in bytes, Close and Fail: collector/message_queue_test.cc.)
TEST(BoundedQueueTest, CountsItemsAndMovesThemThrough) {
  BoundedQueue<std::unique_ptr<int>> queue(2);
  ASSERT_TRUE(queue.Push(std::make_unique<int>(1)).ok());
  ASSERT_TRUE(queue.Push(std::make_unique<int>(2)).ok());
  std::atomic<bool> third_pushed{false};
  std::thread producer([&] {
    EXPECT_TRUE(queue.Push(std::make_unique<int>(3)).ok());
    third_pushed = true;
    queue.Close(Status::Ok());
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(third_pushed.load());  // two items fill it
  for (int expected = 1; expected <= 3; ++expected) {
    std::optional<std::unique_ptr<int>> item = queue.Pop();
    ASSERT_TRUE(item.has_value());
    EXPECT_EQ(**item, expected);
  }
  producer.join();
  EXPECT_TRUE(third_pushed.load());
  EXPECT_FALSE(queue.Pop().has_value());
  EXPECT_TRUE(queue.close_status().ok());
}

}  // namespace
}  // namespace mailvault
