#pragma once
// One set of worker threads for the whole process: the engine's passes and the quantization
// preview run their tasks on it instead of starting threads for every pass.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace cle::core {

class ThreadPool {
public:
    /// task(index, worker) for one task index; worker < the thread count given to run().
    using Task = std::function<void(std::int64_t, int)>;

    /// The process's pool (its threads start when first needed and stay until exit).
    static ThreadPool& shared();

    ThreadPool() = default;
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    /// Runs task(i, w) for every i < count on at most `threads` threads, the caller's included
    /// (worker 0), and returns when all are done. Tasks are handed out in index order; which
    /// worker runs which task varies, so results must not depend on it. When the pool is already
    /// running a job (another thread's, or the caller is one of its tasks), the caller runs every
    /// task itself as worker 0. The first exception a task throws is rethrown here.
    void run(std::int64_t count, int threads, const Task& task);

    /// Worker threads started so far (not counting callers).
    int workerCount();

private:
    void workerLoop();
    void work(int worker);

    std::mutex busy_;  // held by the caller whose job the workers serve
    std::mutex mutex_;
    std::condition_variable wake_;
    std::condition_variable done_;
    std::vector<std::thread> workers_;
    bool stop_ = false;
    std::uint64_t generation_ = 0;
    const Task* task_ = nullptr;
    std::int64_t count_ = 0;
    std::atomic<std::int64_t> next_{0};  // the next task index to hand out
    int seats_ = 0;                      // workers that may still join the current job
    int nextWorker_ = 1;
    int active_ = 0;  // workers inside the current job
    std::exception_ptr error_;
};

/// Worker threads to use when the caller does not say: the machine's cores, at most 8.
int defaultThreadCount();

}  // namespace cle::core
