#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>

#include "support/thread_pool.h"

using namespace cle;

namespace {

TEST(ThreadPool, RunsEveryTaskOnceWithWorkersBelowTheThreadCount) {
    core::ThreadPool pool;
    for (int threads : {1, 2, 3}) {
        std::vector<std::atomic<int>> runs(1000);
        std::atomic<int> badWorker{0};
        pool.run(1000, threads, [&](std::int64_t i, int worker) {
            ++runs[size_t(i)];
            if (worker < 0 || worker >= threads) ++badWorker;
        });
        for (auto& r : runs) EXPECT_EQ(r.load(), 1);
        EXPECT_EQ(badWorker.load(), 0);
    }
    EXPECT_EQ(pool.workerCount(), 2);  // started once, kept for later jobs
    pool.run(10, 2, [](std::int64_t, int) {});
    EXPECT_EQ(pool.workerCount(), 2);
}

TEST(ThreadPool, ATaskRunningAJobRunsItItself) {
    core::ThreadPool pool;
    std::atomic<int> inner{0};
    pool.run(4, 2, [&](std::int64_t, int) {
        pool.run(3, 2, [&](std::int64_t, int worker) {
            EXPECT_EQ(worker, 0);
            ++inner;
        });
    });
    EXPECT_EQ(inner.load(), 12);
}

TEST(ThreadPool, TwoCallersAtOnceBothFinish) {
    core::ThreadPool pool;
    std::atomic<std::int64_t> sum{0};
    auto job = [&] {
        for (int k = 0; k < 50; ++k) pool.run(100, 2, [&](std::int64_t i, int) { sum += i; });
    };
    std::thread other(job);
    job();
    other.join();
    EXPECT_EQ(sum.load(), 2 * 50 * 4950);
}

TEST(ThreadPool, RethrowsTheFirstException) {
    core::ThreadPool pool;
    EXPECT_THROW(pool.run(100, 2,
                          [](std::int64_t i, int) {
                              if (i == 37) throw std::runtime_error("task 37");
                          }),
                 std::runtime_error);
    std::atomic<int> after{0};
    pool.run(10, 2, [&](std::int64_t, int) { ++after; });  // still usable
    EXPECT_EQ(after.load(), 10);
}

}  // namespace
