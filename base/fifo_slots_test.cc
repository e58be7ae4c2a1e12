#include "base/fifo_slots.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace mailvault {
namespace {

using namespace std::chrono_literals;

// Waits (bounded) until `slots` has `n` waiters.
void AwaitWaiters(const FifoSlots& slots, size_t n) {
  for (int i = 0; i < 5000 && slots.waiting() != n; ++i) std::this_thread::sleep_for(1ms);
  ASSERT_EQ(slots.waiting(), n);
}

TEST(FifoSlotsTest, NeverMoreHoldersThanSlots) {
  FifoSlots slots(2);
  std::atomic<int> holders{0};
  std::atomic<int> most{0};
  std::atomic<int> entries{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 300; ++i) {
        FifoSlots::Slot slot(&slots);
        const int now = ++holders;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        ++entries;
        if (i % 50 == 0) std::this_thread::sleep_for(100us);
        --holders;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(entries.load(), 8 * 300);
  EXPECT_LE(most.load(), 2);
  EXPECT_EQ(holders.load(), 0);
  EXPECT_EQ(slots.waiting(), 0u);
}

TEST(FifoSlotsTest, WaitersAreLetInInTheOrderTheyCame) {
  FifoSlots slots(1);
  slots.Acquire();
  std::mutex order_mutex;
  std::vector<int> order;
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&, i] {
      FifoSlots::Slot slot(&slots);
      std::lock_guard lock(order_mutex);
      order.push_back(i);
    });
    AwaitWaiters(slots, static_cast<size_t>(i) + 1);
  }
  slots.Release();
  for (auto& t : threads) t.join();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5}));
}

// The case a condition variable and a counter get wrong: the holder releases
// and asks again at once, before the waiter it woke has run.
TEST(FifoSlotsTest, ALateArrivalDoesNotOvertakeAWaiter) {
  FifoSlots slots(1);
  slots.Acquire();
  std::mutex order_mutex;
  std::vector<std::string> order;
  std::thread waiter([&] {
    FifoSlots::Slot slot(&slots);
    std::this_thread::sleep_for(20ms);  // long enough for the main thread to ask
    std::lock_guard lock(order_mutex);
    order.push_back("waiter");
  });
  AwaitWaiters(slots, 1);
  slots.Release();
  slots.Acquire();
  {
    std::lock_guard lock(order_mutex);
    order.push_back("late");
  }
  slots.Release();
  waiter.join();
  EXPECT_EQ(order, (std::vector<std::string>{"waiter", "late"}));
}

TEST(FifoSlotsTest, AFreeSlotIsTakenWithoutWaiting) {
  FifoSlots slots(3);
  slots.Acquire();
  slots.Acquire();
  slots.Acquire();
  EXPECT_EQ(slots.waiting(), 0u);
  slots.Release();
  {
    FifoSlots::Slot slot(&slots);  // the released one
    EXPECT_EQ(slots.waiting(), 0u);
  }
  slots.Release();
  slots.Release();
  slots.Release();
}

}  // namespace
}  // namespace mailvault
