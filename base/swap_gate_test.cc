#include "base/swap_gate.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace mailvault {
namespace {

using namespace std::chrono_literals;

TEST(SwapGateTest, NoUserIsInsideWhileTheExclusiveHolderIs) {
  SwapGate gate;
  std::atomic<int> inside{0};
  std::atomic<bool> exclusive{false};
  std::atomic<int> violations{0};
  std::atomic<int> entries{0};
  std::vector<std::thread> users;
  for (int t = 0; t < 4; ++t) {
    users.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        SwapGate::Shared shared(gate);
        ++inside;
        if (exclusive) ++violations;
        ++entries;
        --inside;
      }
    });
  }
  for (int i = 0; i < 200; ++i) {
    SwapGate::Exclusive hold(gate);
    exclusive = true;
    if (inside != 0) ++violations;
    std::this_thread::yield();
    exclusive = false;
  }
  for (std::thread& t : users) t.join();
  EXPECT_EQ(violations, 0);
  EXPECT_EQ(entries, 4 * 2000);
}

// Users that always overlap (one is always inside) would keep a lock that
// prefers readers from ever being taken exclusively; the gate lets the
// exclusive request in while they still run.
TEST(SwapGateTest, OverlappingUsersDoNotStarveAnExclusiveRequest) {
  SwapGate gate;
  std::atomic<bool> stop{false};
  std::atomic<int> ran_out{0};  // users that stopped at their deadline, not when told
  std::vector<std::thread> users;
  for (int t = 0; t < 4; ++t) {
    users.emplace_back([&, t] {
      std::this_thread::sleep_for(t * 250us);
      const auto deadline = std::chrono::steady_clock::now() + 5s;
      while (!stop) {
        if (std::chrono::steady_clock::now() >= deadline) {
          ++ran_out;
          return;
        }
        SwapGate::Shared shared(gate);
        std::this_thread::sleep_for(1ms);
      }
    });
  }
  std::this_thread::sleep_for(50ms);
  {
    SwapGate::Exclusive hold(gate);
    stop = true;
  }
  for (std::thread& t : users) t.join();
  EXPECT_EQ(ran_out, 0);
}

}  // namespace
}  // namespace mailvault
