#include "support/thread_pool.h"

#include <algorithm>

namespace cle::core {

namespace {

thread_local bool insidePool = false;  // true on pool workers and on a caller running a job

}  // namespace

ThreadPool& ThreadPool::shared() {
    static ThreadPool pool;
    return pool;
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
}

int ThreadPool::workerCount() {
    std::lock_guard lock(mutex_);
    return int(workers_.size());
}

void ThreadPool::work(int worker) {
    try {
        for (std::int64_t i; (i = next_.fetch_add(1)) < count_;) (*task_)(i, worker);
    } catch (...) {
        next_ = count_;  // hand out nothing more
        std::lock_guard lock(mutex_);
        if (!error_) error_ = std::current_exception();
    }
}

void ThreadPool::workerLoop() {
    insidePool = true;
    std::uint64_t served = 0;
    std::unique_lock lock(mutex_);
    for (;;) {
        wake_.wait(lock, [&] { return stop_ || (generation_ != served && seats_ > 0); });
        if (stop_) return;
        served = generation_;
        --seats_;
        const int worker = nextWorker_++;
        ++active_;
        lock.unlock();
        work(worker);
        lock.lock();
        if (--active_ == 0) done_.notify_all();
    }
}

void ThreadPool::run(std::int64_t count, int threads, const Task& task) {
    if (count <= 0) return;
    const int wanted = int(std::min<std::int64_t>(count, std::max(1, threads)));
    std::unique_lock busy(busy_, std::defer_lock);
    if (wanted == 1 || insidePool || !busy.try_lock()) {
        for (std::int64_t i = 0; i < count; ++i) task(i, 0);
        return;
    }
    insidePool = true;
    {
        std::lock_guard lock(mutex_);
        while (int(workers_.size()) < wanted - 1) workers_.emplace_back([this] { workerLoop(); });
        task_ = &task;
        count_ = count;
        next_ = 0;
        seats_ = wanted - 1;
        nextWorker_ = 1;
        error_ = nullptr;
        ++generation_;
    }
    wake_.notify_all();
    work(0);
    std::exception_ptr error;
    {
        std::unique_lock lock(mutex_);
        seats_ = 0;  // workers that have not joined yet stay out
        done_.wait(lock, [&] { return active_ == 0; });
        task_ = nullptr;
        error = error_;
    }
    insidePool = false;
    if (error) std::rethrow_exception(error);
}

int defaultThreadCount() {
    unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : int(std::min(n, 8u));
}

}  // namespace cle::core
