// The part of the Metal Shading Language that ember_mlx kernels use, in plain C++17.
//
// The emulator compiles a kernel's generated source (header, signature and body, exactly as
// mx.fast.metal_kernel builds them) after this header. Address spaces mean nothing on the CPU;
// the emulator rewrites `threadgroup` variable declarations into references to the runtime's
// per-threadgroup memory (ember_emu_threadgroup_memory).
//
// Covered: scalar and vector types (uint2 ... float4: construction, .x/.y/.z/.w, [], arithmetic),
// metal:: math on scalars and vectors, select/clamp/min/max, as_type, mem_flags,
// threadgroup_barrier, simdgroup_barrier, simd_sum/product/max/min/prefix sums/all/any/
// broadcast/shuffle(_up/_down/_xor), atomic<T> with the *_explicit functions, elem_to_loc.
// Not covered: swizzles, half literals (1.0h), bfloat16, textures, simdgroup matrices.

#pragma once

#include <type_traits>

#include "emulator_abi.h"

#define device
#define constant
#define thread
#define threadgroup
#define METAL_FUNC inline

typedef unsigned int uint;
typedef unsigned short ushort;
typedef unsigned char uchar;
typedef _Float16 half;
typedef half float16_t;

namespace metal {

// ---------------------------------------------------------------- vectors

template <typename T, int N>
struct vec;

template <typename T>
struct vec<T, 2> {
  T x, y;
  vec() = default;
  constexpr vec(T s) : x(s), y(s) {}
  constexpr vec(T x_, T y_) : x(x_), y(y_) {}
  template <typename U>
  constexpr explicit vec(const vec<U, 2>& v) : x(T(v.x)), y(T(v.y)) {}
  T& operator[](int i) { return (&x)[i]; }
  const T& operator[](int i) const { return (&x)[i]; }
};

template <typename T>
struct vec<T, 3> {
  T x, y, z;
  vec() = default;
  constexpr vec(T s) : x(s), y(s), z(s) {}
  constexpr vec(T x_, T y_, T z_) : x(x_), y(y_), z(z_) {}
  template <typename U>
  constexpr explicit vec(const vec<U, 3>& v) : x(T(v.x)), y(T(v.y)), z(T(v.z)) {}
  T& operator[](int i) { return (&x)[i]; }
  const T& operator[](int i) const { return (&x)[i]; }
};

template <typename T>
struct vec<T, 4> {
  T x, y, z, w;
  vec() = default;
  constexpr vec(T s) : x(s), y(s), z(s), w(s) {}
  constexpr vec(T x_, T y_, T z_, T w_) : x(x_), y(y_), z(z_), w(w_) {}
  template <typename U>
  constexpr explicit vec(const vec<U, 4>& v) : x(T(v.x)), y(T(v.y)), z(T(v.z)), w(T(v.w)) {}
  T& operator[](int i) { return (&x)[i]; }
  const T& operator[](int i) const { return (&x)[i]; }
};

#define EMBER_VEC_BINARY(op)                                                  \
  template <typename T, int N>                                                \
  inline vec<T, N> operator op(vec<T, N> a, const vec<T, N>& b) {            \
    for (int i = 0; i < N; ++i) a[i] = a[i] op b[i];                          \
    return a;                                                                 \
  }                                                                           \
  template <typename T, int N>                                                \
  inline vec<T, N> operator op(vec<T, N> a, T b) {                            \
    for (int i = 0; i < N; ++i) a[i] = a[i] op b;                             \
    return a;                                                                 \
  }                                                                           \
  template <typename T, int N>                                                \
  inline vec<T, N> operator op(T a, vec<T, N> b) {                            \
    for (int i = 0; i < N; ++i) b[i] = a op b[i];                             \
    return b;                                                                 \
  }                                                                           \
  template <typename T, int N>                                                \
  inline vec<T, N>& operator op##=(vec<T, N>& a, const vec<T, N>& b) {       \
    return a = a op b;                                                        \
  }
EMBER_VEC_BINARY(+)
EMBER_VEC_BINARY(-)
EMBER_VEC_BINARY(*)
EMBER_VEC_BINARY(/)
EMBER_VEC_BINARY(%)
EMBER_VEC_BINARY(&)
EMBER_VEC_BINARY(|)
EMBER_VEC_BINARY(^)
EMBER_VEC_BINARY(<<)
EMBER_VEC_BINARY(>>)
#undef EMBER_VEC_BINARY

template <typename T, int N>
inline vec<T, N> operator-(vec<T, N> a) {
  for (int i = 0; i < N; ++i) a[i] = -a[i];
  return a;
}

#define EMBER_VEC_TYPES(T, name) \
  typedef vec<T, 2> name##2;     \
  typedef vec<T, 3> name##3;     \
  typedef vec<T, 4> name##4;
EMBER_VEC_TYPES(bool, bool)
EMBER_VEC_TYPES(char, char)
EMBER_VEC_TYPES(unsigned char, uchar)
EMBER_VEC_TYPES(short, short)
EMBER_VEC_TYPES(unsigned short, ushort)
EMBER_VEC_TYPES(int, int)
EMBER_VEC_TYPES(unsigned int, uint)
EMBER_VEC_TYPES(float, float)
EMBER_VEC_TYPES(half, half)
#undef EMBER_VEC_TYPES

// ---------------------------------------------------------------- math
// Computed in float through GCC builtins (no <cmath>, whose global overloads would clash with
// unqualified calls under `using namespace metal`).

#define EMBER_UNARY(name, builtin)                          \
  template <typename T>                                     \
  inline T name(T x) {                                      \
    return T(builtin(float(x)));                            \
  }                                                         \
  template <typename T, int N>                              \
  inline vec<T, N> name(vec<T, N> x) {                      \
    for (int i = 0; i < N; ++i) x[i] = name(x[i]);          \
    return x;                                               \
  }
EMBER_UNARY(exp, __builtin_expf)
EMBER_UNARY(exp2, __builtin_exp2f)
EMBER_UNARY(log, __builtin_logf)
EMBER_UNARY(log2, __builtin_log2f)
EMBER_UNARY(log10, __builtin_log10f)
EMBER_UNARY(log1p, __builtin_log1pf)
EMBER_UNARY(sqrt, __builtin_sqrtf)
EMBER_UNARY(sin, __builtin_sinf)
EMBER_UNARY(cos, __builtin_cosf)
EMBER_UNARY(tan, __builtin_tanf)
EMBER_UNARY(asin, __builtin_asinf)
EMBER_UNARY(acos, __builtin_acosf)
EMBER_UNARY(atan, __builtin_atanf)
EMBER_UNARY(sinh, __builtin_sinhf)
EMBER_UNARY(cosh, __builtin_coshf)
EMBER_UNARY(tanh, __builtin_tanhf)
EMBER_UNARY(erf, __builtin_erff)
EMBER_UNARY(floor, __builtin_floorf)
EMBER_UNARY(ceil, __builtin_ceilf)
EMBER_UNARY(round, __builtin_roundf)
EMBER_UNARY(rint, __builtin_rintf)
EMBER_UNARY(trunc, __builtin_truncf)
EMBER_UNARY(fabs, __builtin_fabsf)
#undef EMBER_UNARY

template <typename T>
inline T rsqrt(T x) {
  return T(1.0f / __builtin_sqrtf(float(x)));
}

template <typename T>
inline T abs(T x) {
  return x < T(0) ? T(-x) : x;
}

template <typename T, typename U>
inline T pow(T x, U y) {
  return T(__builtin_powf(float(x), float(y)));
}

template <typename T>
inline T atan2(T y, T x) {
  return T(__builtin_atan2f(float(y), float(x)));
}

template <typename T>
inline T fma(T a, T b, T c) {
  return T(__builtin_fmaf(float(a), float(b), float(c)));
}

template <typename T>
inline T copysign(T x, T y) {
  return T(__builtin_copysignf(float(x), float(y)));
}

// Metal's max/min return the other argument when one is NaN, like fmax/fmin.
template <typename T, typename U>
inline std::common_type_t<T, U> max(T a, U b) {
  using R = std::common_type_t<T, U>;
  if constexpr (std::is_floating_point_v<R>) {
    return R(__builtin_fmaxf(float(a), float(b)));
  } else {
    return R(a) > R(b) ? R(a) : R(b);
  }
}

template <typename T, typename U>
inline std::common_type_t<T, U> min(T a, U b) {
  using R = std::common_type_t<T, U>;
  if constexpr (std::is_floating_point_v<R>) {
    return R(__builtin_fminf(float(a), float(b)));
  } else {
    return R(a) < R(b) ? R(a) : R(b);
  }
}

template <typename T, typename U>
inline std::common_type_t<T, U> fmax(T a, U b) {
  return max(a, b);
}

template <typename T, typename U>
inline std::common_type_t<T, U> fmin(T a, U b) {
  return min(a, b);
}

template <typename T, typename L, typename H>
inline T clamp(T x, L lo, H hi) {
  return T(min(max(x, T(lo)), T(hi)));
}

template <typename T>
inline T select(T a, T b, bool c) {
  return c ? b : a;
}

template <typename T>
inline bool isnan(T x) {
  return __builtin_isnan(float(x));
}

template <typename T>
inline bool isinf(T x) {
  return __builtin_isinf(float(x));
}

template <typename T>
inline bool isfinite(T x) {
  return __builtin_isfinite(float(x));
}

template <typename To, typename From>
inline To as_type(From x) {
  static_assert(sizeof(To) == sizeof(From), "as_type needs types of one size");
  To out;
  __builtin_memcpy(&out, &x, sizeof(To));
  return out;
}

namespace precise {
using metal::cos;
using metal::exp;
using metal::log;
using metal::rsqrt;
using metal::sin;
using metal::sqrt;
using metal::tanh;
}  // namespace precise

namespace fast {
using metal::cos;
using metal::exp;
using metal::log;
using metal::rsqrt;
using metal::sin;
using metal::sqrt;
using metal::tanh;
}  // namespace fast

// ---------------------------------------------------------------- barriers

enum class mem_flags : unsigned { mem_none = 0, mem_device = 1, mem_threadgroup = 2, mem_texture = 4 };

inline mem_flags operator|(mem_flags a, mem_flags b) {
  return mem_flags(unsigned(a) | unsigned(b));
}

inline void threadgroup_barrier(mem_flags) {
  ember_emu_threadgroup_barrier();
}

inline void simdgroup_barrier(mem_flags) {
  ember_emu_simdgroup_barrier();
}

// ---------------------------------------------------------------- simdgroup functions
// Each thread publishes its value in its lane's slot, the simdgroup meets at a barrier, every
// thread reads the lanes it needs, and a second barrier frees the slots for the next call.
// Reductions add lanes in order 0, 1, ..., 31; Metal leaves the order open.

template <typename T>
inline void ember_simd_gather(T x, T* lanes) {
  static_assert(sizeof(T) <= 16, "simd functions take values of at most 16 bytes");
  __builtin_memcpy(ember_emu_simd_slot(ember_emu_simd_lane()), &x, sizeof(T));
  ember_emu_simdgroup_barrier();
  const uint n = ember_emu_simd_active_lanes();
  for (uint i = 0; i < n; ++i) {
    __builtin_memcpy(&lanes[i], ember_emu_simd_slot(i), sizeof(T));
  }
  ember_emu_simdgroup_barrier();
}

template <typename T>
inline T simd_sum(T x) {
  T lanes[32];
  ember_simd_gather(x, lanes);
  T acc = lanes[0];
  for (uint i = 1; i < ember_emu_simd_active_lanes(); ++i) acc += lanes[i];
  return acc;
}

template <typename T>
inline T simd_product(T x) {
  T lanes[32];
  ember_simd_gather(x, lanes);
  T acc = lanes[0];
  for (uint i = 1; i < ember_emu_simd_active_lanes(); ++i) acc *= lanes[i];
  return acc;
}

template <typename T>
inline T simd_max(T x) {
  T lanes[32];
  ember_simd_gather(x, lanes);
  T acc = lanes[0];
  for (uint i = 1; i < ember_emu_simd_active_lanes(); ++i) acc = max(acc, lanes[i]);
  return acc;
}

template <typename T>
inline T simd_min(T x) {
  T lanes[32];
  ember_simd_gather(x, lanes);
  T acc = lanes[0];
  for (uint i = 1; i < ember_emu_simd_active_lanes(); ++i) acc = min(acc, lanes[i]);
  return acc;
}

template <typename T>
inline T simd_prefix_exclusive_sum(T x) {
  T lanes[32];
  ember_simd_gather(x, lanes);
  T acc = T(0);
  for (uint i = 0; i < ember_emu_simd_lane(); ++i) acc += lanes[i];
  return acc;
}

template <typename T>
inline T simd_prefix_inclusive_sum(T x) {
  return simd_prefix_exclusive_sum(x) + x;
}

inline bool simd_all(bool x) {
  bool lanes[32];
  ember_simd_gather(x, lanes);
  for (uint i = 0; i < ember_emu_simd_active_lanes(); ++i) {
    if (!lanes[i]) return false;
  }
  return true;
}

inline bool simd_any(bool x) {
  bool lanes[32];
  ember_simd_gather(x, lanes);
  for (uint i = 0; i < ember_emu_simd_active_lanes(); ++i) {
    if (lanes[i]) return true;
  }
  return false;
}

// Lanes outside the simdgroup read their own value (Metal leaves them undefined).
template <typename T>
inline T simd_shuffle(T x, ushort lane) {
  T lanes[32];
  ember_simd_gather(x, lanes);
  return lane < ember_emu_simd_active_lanes() ? lanes[lane] : x;
}

template <typename T>
inline T simd_broadcast(T x, ushort lane) {
  return simd_shuffle(x, lane);
}

template <typename T>
inline T simd_broadcast_first(T x) {
  return simd_shuffle(x, 0);
}

template <typename T>
inline T simd_shuffle_down(T x, ushort delta) {
  return simd_shuffle(x, ushort(ember_emu_simd_lane() + delta));
}

template <typename T>
inline T simd_shuffle_up(T x, ushort delta) {
  const uint lane = ember_emu_simd_lane();
  return simd_shuffle(x, ushort(lane >= delta ? lane - delta : 32));
}

template <typename T>
inline T simd_shuffle_xor(T x, ushort mask) {
  return simd_shuffle(x, ushort(ember_emu_simd_lane() ^ mask));
}

// ---------------------------------------------------------------- atomics

enum memory_order { memory_order_relaxed, memory_order_seq_cst };

template <typename T>
struct atomic {
  T value;
};
typedef atomic<int> atomic_int;
typedef atomic<uint> atomic_uint;
typedef atomic<float> atomic_float;
typedef atomic<bool> atomic_bool;

template <typename T>
struct ember_identity {
  typedef T type;
};

// The generic __atomic builtins take any trivially copyable T (float included).
template <typename T>
inline T* ember_atomic_value(const volatile atomic<T>* object) {
  return const_cast<T*>(&object->value);
}

template <typename T>
inline T atomic_load_explicit(const volatile atomic<T>* object, memory_order) {
  T value;
  __atomic_load(ember_atomic_value(object), &value, __ATOMIC_SEQ_CST);
  return value;
}

template <typename T>
inline void atomic_store_explicit(volatile atomic<T>* object,
                                  typename ember_identity<T>::type value, memory_order) {
  __atomic_store(ember_atomic_value(object), &value, __ATOMIC_SEQ_CST);
}

template <typename T>
inline T atomic_exchange_explicit(volatile atomic<T>* object,
                                  typename ember_identity<T>::type value, memory_order) {
  T old;
  __atomic_exchange(ember_atomic_value(object), &value, &old, __ATOMIC_SEQ_CST);
  return old;
}

template <typename T>
inline bool atomic_compare_exchange_weak_explicit(volatile atomic<T>* object, thread T* expected,
                                                  typename ember_identity<T>::type desired,
                                                  memory_order, memory_order) {
  return __atomic_compare_exchange(ember_atomic_value(object), expected, &desired, true,
                                   __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

// Read-modify-write through compare-and-swap, which also covers float.
template <typename T, typename F>
inline T ember_atomic_update(volatile atomic<T>* object, F update) {
  T old = atomic_load_explicit(object, memory_order_relaxed);
  while (!atomic_compare_exchange_weak_explicit(object, &old, update(old), memory_order_relaxed,
                                                memory_order_relaxed)) {
  }
  return old;
}

#define EMBER_ATOMIC_RMW(name, expr)                                                        \
  template <typename T>                                                                     \
  inline T atomic_fetch_##name##_explicit(volatile atomic<T>* object,                      \
                                          typename ember_identity<T>::type operand, memory_order) { \
    return ember_atomic_update(object, [operand](T old) { return T(expr); });                     \
  }
EMBER_ATOMIC_RMW(add, old + operand)
EMBER_ATOMIC_RMW(sub, old - operand)
EMBER_ATOMIC_RMW(max, max(old, operand))
EMBER_ATOMIC_RMW(min, min(old, operand))
EMBER_ATOMIC_RMW(and, old & operand)
EMBER_ATOMIC_RMW(or, old | operand)
EMBER_ATOMIC_RMW(xor, old ^ operand)
#undef EMBER_ATOMIC_RMW

}  // namespace metal

using namespace metal;

// ---------------------------------------------------------------- MLX's prelude (utils.h)

template <typename IdxT = int64_t>
inline IdxT elem_to_loc(IdxT elem, constant const int* shape, constant const int64_t* strides,
                        int ndim) {
  IdxT loc = 0;
  for (int i = ndim - 1; i >= 0 && elem > 0; --i) {
    loc += (elem % shape[i]) * IdxT(strides[i]);
    elem /= shape[i];
  }
  return loc;
}

template <typename IdxT = int64_t>
inline IdxT elem_to_loc(uint3 elem, constant const int* shape, constant const int64_t* strides,
                        int ndim) {
  IdxT loc = elem.x * IdxT(strides[ndim - 1]) + elem.y * IdxT(strides[ndim - 2]);
  for (int d = ndim - 3; d >= 0; --d) {
    loc += (elem.z % shape[d]) * IdxT(strides[d]);
    elem.z /= shape[d];
  }
  return loc;
}
