// `cle` as a process. Real signals sent at several moments of its work: SIGINT and SIGTERM end it
// at once (exit 130 / 143) and leave nothing behind; SIGKILL leaves the untouched input, the old
// output or the complete new one, and only clearly named temporary files that the next run removes.
// What a damaged file leaves on stderr when the process ends.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include "hostile_files.h"

extern char** environ;

namespace {

using namespace cle::test;
using Clock = std::chrono::steady_clock;

// A `cle` child process; its output goes to `log`.
class Child {
public:
    Child(const std::vector<std::string>& args, const std::string& log) {
        std::vector<std::string> all{CLE_BINARY};
        all.insert(all.end(), args.begin(), args.end());
        std::vector<char*> argv;
        for (auto& a : all) argv.push_back(a.data());
        argv.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                         0644);
        posix_spawn_file_actions_adddup2(&actions, 1, 2);
        if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
        posix_spawn_file_actions_destroy(&actions);
    }
    ~Child() {
        if (pid_ > 0) kill(pid_, SIGKILL), finish(1000);
    }
    pid_t pid() const { return pid_; }
    void signal(int sig) const { kill(pid_, sig); }
    /// Its exit status (128 + the signal if a signal ended it), or -1 if it still runs after
    /// `seconds` (it is then killed).
    int finish(double seconds) {
        auto end = Clock::now() + std::chrono::duration<double>(seconds);
        while (pid_ > 0) {
            int status = 0;
            if (waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            }
            if (Clock::now() > end) {
                kill(pid_, SIGKILL);
                waitpid(pid_, &status, 0);
                pid_ = -1;
                return -1;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
        return -1;
    }

private:
    pid_t pid_ = -1;
};

void sleepSeconds(double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); }

// A chain of four Linear layers, `n` x `n`: big enough that loading, the sweeps and the export
// each take a noticeable time.
void chain(const std::string& path, int n) {
    H5Writer w(path);
    for (int i = 0; i < 4; ++i)
        w.dataset("/fc" + std::to_string(i) + ".weight", {n, n},
                  randomValues(size_t(n) * n, 1.0 + i, unsigned(i + 1)));
}

bool isTemporary(const std::string& entry) { return contains(entry, ".cle-tmp-"); }

bool hasTemporary(const TempDir& dir) {
    auto entries = dir.entries();
    return std::any_of(entries.begin(), entries.end(), isTemporary);
}

// Waits until an export's temporary file exists in `dir` (or the child ended, or `seconds` passed).
void waitForTemporary(const Child& child, const TempDir& dir, double seconds) {
    auto end = Clock::now() + std::chrono::duration<double>(seconds);
    while (Clock::now() < end && !hasTemporary(dir)) {
        siginfo_t info{};
        if (waitid(P_PID, id_t(child.pid()), &info, WEXITED | WNOHANG | WNOWAIT) != 0 ||
            info.si_pid != 0)
            return;
    }
}

class Signals : public ::testing::Test {
protected:
    TempDir dir, logs;
    std::string in = dir.file("in.h5");
    std::string out = dir.file("out.h5");
    std::string report = dir.file("r.json");
    std::string log = logs.file("log");
    std::vector<std::string> run(int sweeps) const {
        return {"equalize",    in,      "-o",           out,
                "--report",    report,  "--pairs",      "fc0,fc1,fc2,fc3",
                "--threshold", "1e-30", "--max-sweeps", std::to_string(sweeps),
                "--force"};
    }
};

TEST_F(Signals, OneSignalStopsAReadThatNeverEnds) {
    // Reading a FIFO nobody writes to blocks forever: the signal must end the process there.
    ASSERT_EQ(mkfifo(in.c_str(), 0644), 0);
    std::vector<std::vector<std::string>> commands{
        {"inspect", in}, {"pairs", in}, {"equalize", in, "-o", out, "--auto"}, {"verify", in, in}};
    for (const auto& args : commands)
        for (int sig : {SIGTERM, SIGINT}) {
            Child child(args, log);
            sleepSeconds(0.2);
            child.signal(sig);
            EXPECT_EQ(child.finish(10), 128 + sig) << args[0] << " signal " << sig;
            EXPECT_EQ(dir.entries(), std::vector<std::string>{"in.h5"});
        }
}

TEST_F(Signals, OneSignalAtAnyMomentOfAnEqualizeEndsItAndLeavesNothing) {
    chain(in, 1024);
    // Loading, planning and the quantization preview come first, the sweeps (a million of them:
    // far longer than the test; 1000 take about a second) after; whichever is under way, the run
    // ends within seconds.
    for (double delay : {0.0, 0.05, 0.2, 0.6, 1.5})
        for (int sig : {SIGTERM, SIGINT}) {
            Child child(run(1000000), log);
            sleepSeconds(delay);
            child.signal(sig);
            EXPECT_EQ(child.finish(10), 128 + sig) << "after " << delay << " s";
            EXPECT_EQ(dir.entries(), std::vector<std::string>{"in.h5"}) << "after " << delay;
        }
}

TEST_F(Signals, OneSignalDuringTheExportRemovesItsTemporaryFiles) {
    chain(in, 1024);
    int stopped = 0;
    for (double delay : {0.0, 0.002, 0.01, 0.03}) {
        std::error_code ec;
        std::filesystem::remove(out, ec), std::filesystem::remove(report, ec);
        Child child(run(1), log);
        waitForTemporary(child, dir, 60);
        sleepSeconds(delay);
        child.signal(SIGTERM);
        int code = child.finish(10);
        // Stopped (nothing written), or it had finished (or was renaming): both files complete.
        std::set<std::string> names;
        for (const auto& e : dir.entries()) names.insert(e);
        if (code == 143 && names == std::set<std::string>{"in.h5"}) {
            ++stopped;
            continue;
        }
        EXPECT_TRUE(code == 143 || code == 3) << code;
        EXPECT_EQ(names, (std::set<std::string>{"in.h5", "out.h5", "r.json"}));
    }
    EXPECT_GT(stopped, 0);
}

TEST_F(Signals, AFaultDuringTheExportRemovesItsTemporaryFiles) {
    // A segmentation fault while the output is written ends `cle` as a fault on reading does:
    // exit 5, one sentence, and no temporary file left. Sent here by kill(), which the sentence
    // names as such.
    chain(in, 1024);
    int stopped = 0;
    for (double delay : {0.0, 0.002, 0.01}) {
        // What the last iteration left (temporaries, if it stopped while committing) goes: a
        // temporary seen before this run created its own would signal it before it starts.
        for (const auto& e : dir.entries())
            if (e != "in.h5") std::filesystem::remove(dir.file(e));
        std::error_code ec;
        std::filesystem::remove(log, ec);
        Child child(run(1), log);
        waitForTemporary(child, dir, 60);
        sleepSeconds(delay);
        child.signal(SIGSEGV);
        int code = child.finish(10);
        std::set<std::string> names;
        for (const auto& e : dir.entries()) names.insert(e);
        if (code == 5 && names == std::set<std::string>{"in.h5"}) {
            std::string text = bytes(log);
            EXPECT_TRUE(contains(text, "cle: '" + in +
                                           "' could not be processed: the process was sent a "
                                           "segmentation fault signal by another process"))
                << text;
            EXPECT_TRUE(contains(text, "; nothing was written")) << text;
            ++stopped;
            continue;
        }
        if (code == 3) {  // it had finished
            EXPECT_EQ(names, (std::set<std::string>{"in.h5", "out.h5", "r.json"}));
            continue;
        }
        EXPECT_EQ(code, 5);
        std::string text = bytes(log);
        if (names == std::set<std::string>{"in.h5", "out.h5", "r.json"} &&
            contains(text, "; the output had been written"))
            continue;  // after both files had taken their names
        // Stopped while the files took their names: as after SIGKILL, the new output complete or
        // absent, and only named temporary files that the next run removes.
        EXPECT_TRUE(contains(
            text, "stopped while the output took its name: the output is complete or absent"))
            << text;
        for (const auto& name : names)
            EXPECT_TRUE(name == "in.h5" || name == "out.h5" || name == "r.json" ||
                        isTemporary(name))
                << name;
    }
    EXPECT_GT(stopped, 0);
}

TEST_F(Signals, SigkillAtAnyMomentLeavesTheOldOutputOrTheNewOneAndNamedTemporaries) {
    chain(in, 1024);
    const std::string input = bytes(in);
    // The complete new output, from a run left alone; its duration spreads the kills.
    auto start = Clock::now();
    ASSERT_EQ(Child(run(1), log).finish(120), 3);
    double whole = std::chrono::duration<double>(Clock::now() - start).count();
    const std::string fresh = bytes(out);
    const std::string old = "an older output";
    int killedMidway = 0;
    // Spread over the run, then aimed at the export: after its temporary file appeared.
    std::vector<std::pair<bool, double>> moments;
    for (double fraction : {0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.9, 0.97, 1.05})
        moments.emplace_back(false, whole * fraction);
    for (double delay : {0.0, 0.002, 0.01, 0.03}) moments.emplace_back(true, delay);
    for (auto [aimed, delay] : moments) {
        std::ofstream(out, std::ios::binary | std::ios::trunc) << old;
        std::filesystem::remove(report);
        Child child(run(1), log);
        pid_t pid = child.pid();
        if (aimed) waitForTemporary(child, dir, 60);
        sleepSeconds(delay);
        child.signal(SIGKILL);
        child.finish(10);
        EXPECT_EQ(bytes(in), input);
        std::string now = bytes(out);
        EXPECT_TRUE(now == old || now == fresh) << "killed at " << delay << " s";
        // Anything else is a temporary file named after the destination and the killed process.
        for (const auto& e : dir.entries()) {
            if (e == "in.h5" || e == "out.h5" || e == "r.json") continue;
            bool named = e.rfind(".out.h5.cle-tmp-" + std::to_string(pid) + "-", 0) == 0 ||
                         e.rfind(".r.json.cle-tmp-" + std::to_string(pid) + "-", 0) == 0;
            EXPECT_TRUE(named) << e;
            killedMidway += named;
        }
        // The next run to the same destination removes them and writes the complete output.
        ASSERT_EQ(Child(run(1), log).finish(120), 3);
        EXPECT_FALSE(hasTemporary(dir));
        EXPECT_EQ(bytes(out), fresh);
    }
    EXPECT_GT(killedMidway, 0);
}

TEST_F(Signals, TemporaryFilesOfRunningProcessesAndOtherNamesAreKept) {
    torchPair(in);
    // Our own process runs, another name is not ours: both stay.
    std::string mine = dir.file(".out.h5.cle-tmp-" + std::to_string(getpid()) + "-abcdef");
    std::string other = dir.file(".other.h5.cle-tmp-999999999-abcdef");
    std::string odd = dir.file(".out.h5.cle-tmp-12x-abcdef");
    for (const auto& f : {mine, other, odd}) std::ofstream(f) << "x";
    ASSERT_EQ(Child({"equalize", in, "-o", out, "--pairs", "fc1,fc2", "-q"}, log).finish(60), 0);
    for (const auto& f : {mine, other, odd}) EXPECT_TRUE(std::filesystem::exists(f)) << f;
}

TEST_F(Signals, ADamagedFileEndsWithOurWordsOnly) {
    // The bundled Keras sample with 32 bits flipped in its first 4 KB: one lookup in a damaged
    // group makes HDF5 1.10.8 lose memory of its own, and it used to print "HDF5: infinite loop
    // closing library" at exit. Its model_config is damaged: no layer graph, guessed pairs.
    std::string damaged = dataPath("damaged/flipped_keras.h5");
    ASSERT_EQ(Child({"inspect", damaged}, log).finish(60), 0);
    std::string text = bytes(log);
    EXPECT_TRUE(contains(text, "format: keras2")) << text;
    EXPECT_TRUE(contains(text, "conv0 ")) << text;
    EXPECT_FALSE(contains(text, "HDF5")) << text;
    std::filesystem::remove(log);
    ASSERT_EQ(Child({"equalize", damaged, "-o", out, "--auto"}, log).finish(60), 2);
    text = bytes(log);
    EXPECT_TRUE(contains(text, "has no layer graph")) << text;
    EXPECT_FALSE(contains(text, "HDF5")) << text;
    EXPECT_FALSE(std::filesystem::exists(out));
}

TEST_F(Signals, AFaultOfHdf5EndsWithOneSentenceAndNothingWritten) {
    // HDF5 1.10.8 reads through a null pointer on these damaged files (a compact dataset, a
    // group's local heap): exit 5 and one sentence naming the file, never a core dump.
    for (std::string name :
         {"hdf5-compact-dataset-read-from-null.h5", "hdf5-local-heap-read-from-null.h5"}) {
        std::string damaged = dataPath("../fuzz/library-faults/weight_file/" + name);
        for (std::vector<std::string> args :
             {std::vector<std::string>{"check", damaged},
              {"equalize", damaged, "-o", out, "--report", report, "--auto", "--accept-guesses"}}) {
            std::filesystem::remove(log);
            ASSERT_EQ(Child(args, log).finish(60), 5) << name << " " << args[0];
            std::string text = bytes(log);
            EXPECT_TRUE(contains(text, "cle: '" + damaged +
                                           "' could not be processed: the process stopped on a "
                                           "segmentation fault"))
                << text;
            EXPECT_TRUE(contains(text, "; nothing was written")) << text;
            EXPECT_FALSE(std::filesystem::exists(out));
            EXPECT_FALSE(std::filesystem::exists(report));
            EXPECT_FALSE(hasTemporary(dir));
        }
    }
}

}  // namespace
