// GeneratorStreams (src/core/generator_streams.h): a C++ caller's bookkeeping of
// generator tasks' items: order, the end after the items, bounded waits, and
// that a dropped stream lets go of every item it holds or is sent later.
#include "core/generator_streams.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "polyray/exceptions.h"

namespace polyray::core {
namespace {

using State = internal::GeneratorStep::State;

// A ref whose release is counted in `released`.
internal::RefPtr CountedRef(const std::string& oid, std::atomic<int>* released) {
  auto* entry = new internal::RefEntry{oid, ""};
  return internal::RefPtr(entry, [released](const internal::RefEntry* e) {
    released->fetch_add(1);
    delete e;
  });
}

TEST(GeneratorStreams, ItemsComeInOrderThenTheEnd) {
  GeneratorStreams s;
  std::atomic<int> released{0};
  s.Open("t");
  EXPECT_TRUE(s.Wants("t"));
  ASSERT_TRUE(s.Add("t", 1, CountedRef("b", &released)));  // out of order: kept by index
  ASSERT_TRUE(s.Add("t", 0, CountedRef("a", &released)));
  s.Finish("t", false);
  internal::GeneratorStep first = s.Take("t", 0, 0);
  ASSERT_EQ(first.state, State::kItem);
  EXPECT_EQ(first.item->object_id, "a");
  internal::GeneratorStep second = s.Take("t", 1, 0);
  ASSERT_EQ(second.state, State::kItem);
  EXPECT_EQ(second.item->object_id, "b");
  EXPECT_EQ(s.Take("t", 2, 0).state, State::kEnded);
  EXPECT_EQ(s.Held("t"), 0u);
  EXPECT_EQ(released.load(), 0);  // handed over: the consumer holds them
}

TEST(GeneratorStreams, ARetrysItemsTakenOrHeldAreRepeats) {
  GeneratorStreams s;
  std::atomic<int> released{0};
  s.Open("t");
  EXPECT_FALSE(s.Repeat("t", 0));
  ASSERT_TRUE(s.Add("t", 0, CountedRef("a", &released)));
  ASSERT_TRUE(s.Add("t", 1, CountedRef("b", &released)));
  ASSERT_EQ(s.Take("t", 0, 0).state, State::kItem);
  // The worker died; its retry yields 0 (taken) and 1 (held) again, then 2.
  EXPECT_TRUE(s.Repeat("t", 0));
  EXPECT_TRUE(s.Repeat("t", 1));
  EXPECT_FALSE(s.Repeat("t", 2));
  ASSERT_TRUE(s.Add("t", 2, CountedRef("c", &released)));
  EXPECT_EQ(s.Take("t", 1, 0).item->object_id, "b");
  EXPECT_TRUE(s.Repeat("t", 1));  // taken now
  EXPECT_EQ(s.Take("t", 2, 0).item->object_id, "c");
  EXPECT_FALSE(s.Repeat("u", 0));  // not open here
}

TEST(GeneratorStreams, AFailedEndComesAtItsPlace) {
  GeneratorStreams s;
  std::atomic<int> released{0};
  s.Open("t");
  s.Add("t", 0, CountedRef("a", &released));
  s.Finish("t", true);
  internal::GeneratorStep item = s.Take("t", 0, 0);
  EXPECT_EQ(item.state, State::kItem);
  EXPECT_EQ(s.Take("t", 1, 0).state, State::kFailed);
  EXPECT_FALSE(s.Add("t", 1, CountedRef("late", &released)));  // after the end: not kept
  EXPECT_EQ(released.load(), 1);  // the late one; item 0 is the consumer's
}

TEST(GeneratorStreams, TakeWaitsForAnItemAndIsBounded) {
  GeneratorStreams s;
  std::atomic<int> released{0};
  s.Open("t");
  auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(s.Take("t", 0, 30), GetTimeoutError);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(30));
  std::thread producer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    s.Add("t", 0, CountedRef("a", &released));
  });
  internal::GeneratorStep step = s.Take("t", 0, 10000);
  producer.join();
  ASSERT_EQ(step.state, State::kItem);
  EXPECT_EQ(step.item->object_id, "a");
  std::thread finisher([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    s.Finish("t", false);
  });
  EXPECT_EQ(s.Take("t", 1, -1).state, State::kEnded);  // no limit: the end wakes it
  finisher.join();
}

TEST(GeneratorStreams, DropReleasesTheItemsNotTakenAndThoseStillToCome) {
  GeneratorStreams s;
  std::atomic<int> released{0};
  s.Open("t");
  for (int k = 0; k < 3; ++k) s.Add("t", k, CountedRef(std::to_string(k), &released));
  internal::GeneratorStep taken = s.Take("t", 0, 0);
  EXPECT_EQ(s.Held("t"), 2u);
  s.Drop("t");
  EXPECT_EQ(released.load(), 2);  // items 1 and 2; item 0 is the consumer's
  EXPECT_FALSE(s.Wants("t"));
  EXPECT_FALSE(s.Add("t", 3, CountedRef("3", &released)));
  EXPECT_EQ(released.load(), 3);
  EXPECT_EQ(s.OpenCount(), 0u);
  taken.item.reset();
  EXPECT_EQ(released.load(), 4);
  EXPECT_THROW(s.Take("t", 1, 0), Error);  // no such stream any more
  s.Drop("t");                             // twice: nothing
}

TEST(GeneratorStreams, CloseEndsEveryWaitAndReleasesEverything) {
  GeneratorStreams s;
  std::atomic<int> released{0};
  s.Open("t");
  s.Open("u");
  s.Add("u", 0, CountedRef("a", &released));
  std::atomic<bool> ended{false};
  std::thread waiter([&] {
    try {
      s.Take("t", 0, -1);
    } catch (const Error&) {
      ended = true;
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  s.Close();
  waiter.join();
  EXPECT_TRUE(ended.load());
  EXPECT_EQ(released.load(), 1);
  EXPECT_FALSE(s.Wants("u"));
  EXPECT_FALSE(s.Add("u", 1, CountedRef("b", &released)));
  EXPECT_EQ(released.load(), 2);
}

}  // namespace
}  // namespace polyray::core
