// native/addon/addon_call_order.h without Node, under ThreadSanitizer (fuzz/build.sh tsan): calls
// take tickets in the order they are made and are served by 1-4 threads from one FIFO queue, as
// libuv's pool serves the addon's work; some are abandoned (libuv cancelled them before they started),
// some fail, some are reads that reach the end of their file. Each call that runs appends its ticket
// to a log no lock guards, so two calls running the core at once would be a data race TSan reports;
// the log must list the tickets that ran in increasing order, and each call must see what the calls
// before it left (a failure, the last read's end).
//   call_order_check [ROUNDS] [SEED]
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include <unistd.h>

#include "addon_call_order.h"

using fastlayer::addon::CallOrder;

namespace {

struct Call {
  uint64_t ticket;
  bool abandon;
  bool fail;
  bool read_short;
};

uint32_t Next(uint32_t* x) {
  *x ^= *x << 13;
  *x ^= *x >> 17;
  *x ^= *x << 5;
  return *x;
}

[[noreturn]] void Fail(const char* what, uint64_t round, uint64_t ticket) {
  std::fprintf(stderr, "call_order_check: %s (round %llu, ticket %llu)\n", what,
               static_cast<unsigned long long>(round), static_cast<unsigned long long>(ticket));
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  const uint64_t rounds = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 2000;
  uint32_t seed = argc > 2 ? static_cast<uint32_t>(std::strtoul(argv[2], nullptr, 10)) : 1;
  // A call that waits for a ticket nobody serves hangs for good: SIGALRM ends the run instead.
  alarm(300);
  if (seed == 0) seed = 1;
  for (uint64_t round = 0; round < rounds; ++round) {
    CallOrder order;
    std::mutex queue_mutex;
    std::condition_variable queue_ready;
    std::deque<Call> queue;
    bool closed = false;
    // Written only by the call whose turn it is: no lock of its own.
    std::vector<uint64_t> ran;
    bool failed_before = false;
    bool last_short = false;

    auto serve = [&] {
      for (;;) {
        Call call;
        {
          std::unique_lock<std::mutex> lock(queue_mutex);
          queue_ready.wait(lock, [&] { return closed || !queue.empty(); });
          if (queue.empty()) return;
          call = queue.front();
          queue.pop_front();
        }
        if (call.abandon) {
          order.Abandon(call.ticket);
          continue;
        }
        const CallOrder::Turn turn = order.Wait(call.ticket);
        if (!ran.empty() && ran.back() >= call.ticket) Fail("out of order", round, call.ticket);
        if (turn.failed != failed_before) Fail("failure not seen", round, call.ticket);
        if (turn.read_short != last_short) Fail("end of file not seen", round, call.ticket);
        if (turn.cancelled) Fail("cancelled", round, call.ticket);
        ran.push_back(call.ticket);
        failed_before = failed_before || call.fail;
        last_short = call.read_short;
        order.Done(call.fail, call.read_short);
      }
    };

    const unsigned threads = 1 + Next(&seed) % 4;
    std::vector<std::thread> pool;
    for (unsigned i = 0; i < threads; ++i) pool.emplace_back(serve);
    const unsigned calls = 1 + Next(&seed) % 12;
    uint64_t expected_runs = 0;
    for (unsigned i = 0; i < calls; ++i) {
      Call call{order.Take(), Next(&seed) % 6 == 0, Next(&seed) % 10 == 0, Next(&seed) % 3 == 0};
      if (!call.abandon) ++expected_runs;
      {
        std::lock_guard<std::mutex> lock(queue_mutex);
        queue.push_back(call);
      }
      queue_ready.notify_one();
      if (Next(&seed) % 4 == 0) std::this_thread::yield();
    }
    {
      std::lock_guard<std::mutex> lock(queue_mutex);
      closed = true;
    }
    queue_ready.notify_all();
    for (std::thread& t : pool) t.join();
    if (ran.size() != expected_runs) Fail("a call did not run", round, ran.size());
  }
  // Cancel(): a call still waiting sees it and the others do not run the core.
  {
    CallOrder order;
    const uint64_t first = order.Take();
    const uint64_t second = order.Take();
    bool second_cancelled = false;
    std::thread waiter([&] { second_cancelled = order.Wait(second).cancelled; order.Done(false, false); });
    order.Wait(first);
    order.Cancel();
    order.Done(false, false);
    waiter.join();
    if (!second_cancelled) Fail("cancel not seen", rounds, second);
  }
  std::printf("call_order_check: %llu rounds ok\n", static_cast<unsigned long long>(rounds));
  return 0;
}
