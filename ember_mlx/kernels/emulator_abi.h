// The boundary between an emulated kernel and the emulator's thread runtime.
//
// Plain C, included by both sides: the kernel translation unit (which also includes
// emulator_shim.h and so cannot see <thread>) and emulator_runtime.cpp.

#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// The Metal attributes of one thread, named as in the Metal Shading Language.
typedef struct ember_emu_thread_info {
  uint32_t thread_position_in_grid[3];
  uint32_t thread_position_in_threadgroup[3];
  uint32_t threadgroup_position_in_grid[3];
  uint32_t threads_per_grid[3];
  uint32_t threads_per_threadgroup[3];
  uint32_t threadgroups_per_grid[3];
  uint32_t grid_size[3];
  uint32_t grid_origin[3];
  uint32_t dispatch_threads_per_threadgroup[3];
  uint32_t thread_index_in_threadgroup;
  uint32_t thread_index_in_simdgroup;
  uint32_t thread_index_in_quadgroup;
  uint32_t simdgroup_index_in_threadgroup;
  uint32_t simdgroups_per_threadgroup;
  uint32_t quadgroup_index_in_threadgroup;
  uint32_t quadgroups_per_threadgroup;
  uint32_t threads_per_simdgroup;
  uint32_t thread_execution_width;
  uint32_t dispatch_simdgroups_per_threadgroup;
  uint32_t dispatch_quadgroups_per_threadgroup;
} ember_emu_thread_info;

// Runs the kernel for one thread: buffers[i] is the i-th [[buffer(i)]] of the signature.
typedef void (*ember_emu_entry_fn)(void** buffers, const ember_emu_thread_info* info);

// Runs `entry` over `grid` threads in threadgroups of `threadgroup` threads: one OS thread per
// GPU thread of a threadgroup, one threadgroup after another. Returns 0, or 1 with a message
// in `error` (a barrier not reached by every thread within `barrier_timeout_ms`).
int ember_emu_dispatch(ember_emu_entry_fn entry, void** buffers, const uint32_t grid[3],
                       const uint32_t threadgroup[3], uint32_t barrier_timeout_ms, char* error,
                       size_t error_size);

// Called from kernel code through the shim.
void* ember_emu_threadgroup_memory(uint32_t id, size_t bytes);  // threadgroup variable `id`
void ember_emu_threadgroup_barrier(void);
void ember_emu_simdgroup_barrier(void);
void* ember_emu_simd_slot(uint32_t lane);  // 16 bytes of lane `lane` in this thread's simdgroup
uint32_t ember_emu_simd_lane(void);
uint32_t ember_emu_simd_active_lanes(void);

#ifdef __cplusplus
}
#endif
