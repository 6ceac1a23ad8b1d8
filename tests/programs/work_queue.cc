// A C++ work queue, the shape of a thread pool in an application: std::thread
// workers (spread over the nodes) take std::function tasks from a
// std::deque under a std::mutex and std::condition_variable; tasks build
// std::vector and std::string results with new/delete (freed on other nodes
// than the ones that allocated them), push them into a shared std::vector,
// and main waits on a condition variable until every task reported, then
// checks the results against the same work done sequentially.
//
//   work_queue ROUNDS WORKERS   prints "work_queue: ROUNDS rounds, N tasks, all equal"
#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Result {
  int task;
  std::vector<long> primes;  // the primes of the task's range
  std::string summary;
};

std::vector<long> primes_in(long from, long to) {
  std::vector<long> out;
  for (long n = from < 2 ? 2 : from; n < to; ++n) {
    bool prime = true;
    for (long d = 2; d * d <= n; ++d)
      if (n % d == 0) {
        prime = false;
        break;
      }
    if (prime) out.push_back(n);
  }
  return out;
}

std::string summarise(const std::vector<long>& primes) {
  std::string s = std::to_string(primes.size()) + ":";
  for (long p : primes) s += std::to_string(p % 10);
  return s;
}

class WorkQueue {
 public:
  explicit WorkQueue(int workers) {
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { work(); });
  }
  ~WorkQueue() {
    {
      std::lock_guard<std::mutex> hold(lock_);
      closing_ = true;
    }
    ready_.notify_all();
    for (auto& t : threads_) t.join();
  }
  void post(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> hold(lock_);
      tasks_.push_back(std::move(task));
    }
    ready_.notify_one();
  }

 private:
  void work() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> hold(lock_);
        ready_.wait(hold, [this] { return closing_ || !tasks_.empty(); });
        if (tasks_.empty()) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }

  std::mutex lock_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> tasks_;
  bool closing_ = false;
  std::vector<std::thread> threads_;
};

constexpr long kRange = 2000;

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: work_queue ROUNDS WORKERS\n");
    return 2;
  }
  const int rounds = std::atoi(argv[1]);
  const int workers = std::atoi(argv[2]);
  long tasks_done = 0;
  for (int round = 0; round < rounds; ++round) {
    const int tasks = 20 + round % 17;
    std::mutex results_lock;
    std::condition_variable all_in;
    std::vector<std::unique_ptr<Result>> results;
    {
      WorkQueue queue(workers);
      for (int t = 0; t < tasks; ++t) {
        queue.post([&, t] {
          auto r = std::make_unique<Result>();
          r->task = t;
          r->primes = primes_in(t * kRange, (t + 1) * kRange + round);
          r->summary = summarise(r->primes);
          std::lock_guard<std::mutex> hold(results_lock);
          results.push_back(std::move(r));
          if (static_cast<int>(results.size()) == tasks) all_in.notify_one();
        });
      }
      std::unique_lock<std::mutex> hold(results_lock);
      all_in.wait(hold, [&] { return static_cast<int>(results.size()) == tasks; });
    }  // the queue's workers are joined here
    std::vector<int> seen(tasks, 0);
    for (const auto& r : results) {
      const auto want = primes_in(r->task * kRange, (r->task + 1) * kRange + round);
      if (r->primes != want || r->summary != summarise(want)) {
        std::fprintf(stderr, "FAILED: round %d task %d: wrong result\n", round, r->task);
        return 1;
      }
      ++seen[r->task];
    }
    if (std::accumulate(seen.begin(), seen.end(), 0) != tasks ||
        std::count(seen.begin(), seen.end(), 1) != tasks) {
      std::fprintf(stderr, "FAILED: round %d: a task reported twice or never\n", round);
      return 1;
    }
    tasks_done += tasks;
  }
  std::printf("work_queue: %d rounds, %ld tasks, all equal\n", rounds, tasks_done);
  return 0;
}
