// The emulator's thread runtime: runs a kernel over a Metal grid on the CPU.
//
// One OS thread per GPU thread of a threadgroup; the threadgroups run one after another.
// The kernel's `threadgroup` variables live in a 32 KiB arena (Metal's limit) shared by the
// threads of the running group and filled with 0xFF bytes (NaN as float) before every group,
// as threadgroup memory starts undefined on a GPU. threadgroup_barrier is a real barrier over
// the group's threads, simdgroup_barrier and the simd_* functions one over the threads of a
// simdgroup. A barrier that not every thread reaches (divergent control flow) fails the
// dispatch with a message after a timeout instead of hanging.

#include "emulator_abi.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace {

constexpr uint32_t kSimdWidth = 32;
constexpr uint32_t kQuadWidth = 4;
constexpr uint32_t kMaxThreads = 1024;
constexpr size_t kThreadgroupMemory = 32768;
constexpr size_t kAlignment = 16;

struct Aborted {};  // unwinds a thread once the dispatch has failed

struct Dispatch {
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  std::string error;
  std::chrono::milliseconds timeout{10000};

  void fail(const std::string& message) {
    std::lock_guard<std::mutex> lock(error_mutex);
    if (!failed.exchange(true)) {
      error = message;
    }
  }
};

// A reusable barrier whose participant count is given at each use: all threads of one phase
// agree on it, and a barrier over every worker separates the threadgroups. The last thread
// to arrive runs `on_release` before it lets the others go. A thread that returns from the
// kernel departs; once every participant has either arrived or departed, the barrier can
// never complete and the dispatch fails at once. Other hangs fail after the timeout.
class Barrier {
 public:
  void wait(uint32_t participants, Dispatch& dispatch, const char* what,
            void (*on_release)(void*) = nullptr, void* argument = nullptr) {
    std::unique_lock<std::mutex> lock(mutex_);
    const uint64_t generation = generation_;
    if (++arrived_ == participants) {
      if (on_release != nullptr) {
        on_release(argument);
      }
      arrived_ = 0;
      ++generation_;
      released_.notify_all();
      return;
    }
    if (arrived_ + departed_ == participants) {
      fail_unreachable(participants, dispatch, what);
    }
    const auto deadline = std::chrono::steady_clock::now() + dispatch.timeout;
    while (generation_ == generation) {
      if (dispatch.failed) {
        throw Aborted{};
      }
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) {
        dispatch.fail(std::string(what) + ": only " + std::to_string(arrived_) + " of " +
                      std::to_string(participants) + " threads arrived within " +
                      std::to_string(dispatch.timeout.count()) + " ms");
        throw Aborted{};
      }
      released_.wait_until(lock, std::min(deadline, now + std::chrono::milliseconds(50)));
    }
  }

  void depart(uint32_t participants, Dispatch& dispatch, const char* what) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++departed_;
    if (arrived_ > 0 && arrived_ + departed_ == participants) {
      fail_unreachable(participants, dispatch, what);
    }
  }

  // Between threadgroups, when no thread is inside the kernel.
  void reset_departures() {
    departed_ = 0;
  }

 private:
  void fail_unreachable(uint32_t participants, Dispatch& dispatch, const char* what) {
    dispatch.fail(std::string(what) + ": reached by " + std::to_string(arrived_) + " of " +
                  std::to_string(participants) + " threads; the other " +
                  std::to_string(departed_) +
                  " returned without reaching it (a barrier in divergent control flow)");
    released_.notify_all();
    throw Aborted{};
  }

  std::mutex mutex_;
  std::condition_variable released_;
  uint32_t arrived_ = 0;
  uint32_t departed_ = 0;
  uint64_t generation_ = 0;
};

struct SimdGroup {
  Barrier barrier;
  alignas(16) unsigned char slots[kSimdWidth][16];
};

// The threadgroup variables of a kernel, placed by declaration id on first use.
struct ThreadgroupMemory {
  alignas(kAlignment) unsigned char bytes[kThreadgroupMemory];
  std::mutex mutex;
  std::vector<std::pair<uint32_t, size_t>> offsets;  // (declaration id, offset)
  size_t used = 0;

  void fill_with_garbage() {
    std::memset(bytes, 0xFF, kThreadgroupMemory);
  }
};

struct ThreadState {
  Dispatch* dispatch = nullptr;
  ThreadgroupMemory* threadgroup_memory = nullptr;
  Barrier* threadgroup_barrier = nullptr;
  uint32_t threadgroup_threads = 0;
  SimdGroup* simdgroup = nullptr;
  uint32_t lane = 0;
  uint32_t simd_lanes = 0;
};

thread_local ThreadState current;

uint32_t ceil_div(uint32_t a, uint32_t b) {
  return (a + b - 1) / b;
}

struct Launch {
  ember_emu_entry_fn entry;
  void** buffers;
  uint32_t grid[3];
  uint32_t group[3];   // the dispatched threadgroup size
  uint32_t groups[3];  // threadgroups per grid
  Dispatch dispatch;
  Barrier threadgroup_barrier;
  Barrier end_of_group;
  std::vector<SimdGroup> simdgroups;
  ThreadgroupMemory threadgroup_memory;

  // Run by the last thread to finish a threadgroup, before the next group starts.
  static void between_groups(void* self) {
    Launch& launch = *static_cast<Launch*>(self);
    launch.threadgroup_memory.fill_with_garbage();
    launch.threadgroup_barrier.reset_departures();
    for (auto& simdgroup : launch.simdgroups) {
      simdgroup.barrier.reset_departures();
    }
  }
};

void run_worker(Launch& launch, uint32_t worker) {
  const uint32_t* g = launch.group;
  const uint32_t local[3] = {worker % g[0], (worker / g[0]) % g[1], worker / (g[0] * g[1])};
  const uint32_t workers = g[0] * g[1] * g[2];
  Dispatch& dispatch = launch.dispatch;
  try {
    for (uint32_t gz = 0; gz < launch.groups[2]; ++gz) {
      for (uint32_t gy = 0; gy < launch.groups[1]; ++gy) {
        for (uint32_t gx = 0; gx < launch.groups[0]; ++gx) {
          const uint32_t origin[3] = {gx * g[0], gy * g[1], gz * g[2]};
          uint32_t size[3];  // this group's size: edge groups of a non-uniform grid are smaller
          for (int d = 0; d < 3; ++d) {
            size[d] = std::min(g[d], launch.grid[d] - origin[d]);
          }
          const bool active = local[0] < size[0] && local[1] < size[1] && local[2] < size[2];
          if (active) {
            ember_emu_thread_info info;
            std::memset(&info, 0, sizeof(info));
            const uint32_t group_position[3] = {gx, gy, gz};
            for (int d = 0; d < 3; ++d) {
              info.thread_position_in_grid[d] = origin[d] + local[d];
              info.thread_position_in_threadgroup[d] = local[d];
              info.threadgroup_position_in_grid[d] = group_position[d];
              info.threads_per_grid[d] = launch.grid[d];
              info.threads_per_threadgroup[d] = size[d];
              info.threadgroups_per_grid[d] = launch.groups[d];
              info.grid_size[d] = launch.grid[d];
              info.dispatch_threads_per_threadgroup[d] = g[d];
            }
            const uint32_t threads = size[0] * size[1] * size[2];
            const uint32_t index = local[0] + size[0] * (local[1] + size[1] * local[2]);
            const uint32_t simd_index = index / kSimdWidth;
            info.thread_index_in_threadgroup = index;
            info.thread_index_in_simdgroup = index % kSimdWidth;
            info.thread_index_in_quadgroup = index % kQuadWidth;
            info.simdgroup_index_in_threadgroup = simd_index;
            info.simdgroups_per_threadgroup = ceil_div(threads, kSimdWidth);
            info.quadgroup_index_in_threadgroup = index / kQuadWidth;
            info.quadgroups_per_threadgroup = ceil_div(threads, kQuadWidth);
            info.threads_per_simdgroup = kSimdWidth;
            info.thread_execution_width = kSimdWidth;
            info.dispatch_simdgroups_per_threadgroup = ceil_div(workers, kSimdWidth);
            info.dispatch_quadgroups_per_threadgroup = ceil_div(workers, kQuadWidth);

            current.dispatch = &dispatch;
            current.threadgroup_memory = &launch.threadgroup_memory;
            current.threadgroup_barrier = &launch.threadgroup_barrier;
            current.threadgroup_threads = threads;
            current.simdgroup = &launch.simdgroups[simd_index];
            current.lane = info.thread_index_in_simdgroup;
            current.simd_lanes = std::min(kSimdWidth, threads - simd_index * kSimdWidth);
            launch.entry(launch.buffers, &info);
            current.simdgroup->barrier.depart(current.simd_lanes, dispatch, "simdgroup barrier");
            launch.threadgroup_barrier.depart(threads, dispatch, "threadgroup_barrier");
          }
          launch.end_of_group.wait(workers, dispatch, "end of threadgroup", Launch::between_groups,
                                   &launch);
        }
      }
    }
  } catch (const Aborted&) {
  } catch (const std::exception& e) {
    dispatch.fail(std::string("kernel thread raised: ") + e.what());
  }
}

}  // namespace

extern "C" {

int ember_emu_dispatch(ember_emu_entry_fn entry, void** buffers, const uint32_t grid[3],
                       const uint32_t threadgroup[3], uint32_t barrier_timeout_ms, char* error,
                       size_t error_size) {
  auto launch = std::make_unique<Launch>();
  launch->entry = entry;
  launch->buffers = buffers;
  uint32_t workers = 1;
  for (int d = 0; d < 3; ++d) {
    launch->grid[d] = grid[d];
    launch->group[d] = std::max<uint32_t>(1, std::min(threadgroup[d], grid[d]));
    launch->groups[d] = ceil_div(grid[d], launch->group[d]);
    workers *= launch->group[d];
  }
  launch->dispatch.timeout = std::chrono::milliseconds(barrier_timeout_ms);
  if (workers > kMaxThreads) {
    std::snprintf(error, error_size, "threadgroup of %u threads exceeds %u", workers, kMaxThreads);
    return 1;
  }
  launch->simdgroups = std::vector<SimdGroup>(ceil_div(workers, kSimdWidth));
  launch->threadgroup_memory.fill_with_garbage();
  if (grid[0] == 0 || grid[1] == 0 || grid[2] == 0) {
    return 0;
  }

  std::vector<std::thread> threads;
  threads.reserve(workers);
  try {
    for (uint32_t w = 0; w < workers; ++w) {
      threads.emplace_back(run_worker, std::ref(*launch), w);
    }
  } catch (const std::system_error& e) {
    launch->dispatch.fail(std::string("could not start the threadgroup's threads: ") + e.what());
  }
  for (auto& t : threads) {
    t.join();
  }
  if (launch->dispatch.failed) {
    std::snprintf(error, error_size, "%s", launch->dispatch.error.c_str());
    return 1;
  }
  return 0;
}

void ember_emu_threadgroup_barrier(void) {
  current.threadgroup_barrier->wait(current.threadgroup_threads, *current.dispatch,
                                    "threadgroup_barrier");
}

void ember_emu_simdgroup_barrier(void) {
  current.simdgroup->barrier.wait(current.simd_lanes, *current.dispatch, "simdgroup barrier");
}

void* ember_emu_threadgroup_memory(uint32_t id, size_t bytes) {
  ThreadgroupMemory& memory = *current.threadgroup_memory;
  std::lock_guard<std::mutex> lock(memory.mutex);
  for (const auto& [known, offset] : memory.offsets) {
    if (known == id) {
      return memory.bytes + offset;
    }
  }
  const size_t offset = (memory.used + kAlignment - 1) / kAlignment * kAlignment;
  if (offset + bytes > kThreadgroupMemory) {
    current.dispatch->fail("threadgroup variables need more than the " +
                           std::to_string(kThreadgroupMemory) + " bytes Metal allows");
    throw Aborted{};
  }
  memory.offsets.emplace_back(id, offset);
  memory.used = offset + bytes;
  return memory.bytes + offset;
}

void* ember_emu_simd_slot(uint32_t lane) {
  return current.simdgroup->slots[lane];
}

uint32_t ember_emu_simd_lane(void) {
  return current.lane;
}

uint32_t ember_emu_simd_active_lanes(void) {
  return current.simd_lanes;
}

}  // extern "C"
