// Copyright (c) mmext contributors. All rights reserved.
// Shared by the CPU kernels of this folder.
#pragma once

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace mmext {

// exp for float that GCC vectorises (the libm call does not): Cephes' polynomial after range
// reduction by ln 2, relative error ~2 ulp. Underflow (including -inf, a masked logit) gives 0.
inline float vexp(float x) {
  const float lo = -87.3f;
  const bool under = x < lo;
  x = std::min(std::max(x, lo), 88.7f);
  const float n = std::floor(x * 1.44269504088896341f + 0.5f);
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return under ? 0.f : p * scale;
}
inline double vexp(double x) { return std::exp(x); }

// Reduction of x[0..n) with op in 16 lanes of a GCC / Clang vector. GCC vectorises a float
// reduction only when it may reorder it (-ffast-math), and did not turn an array of 16 scalar
// accumulators into one either; the vector type makes it one register, and the order (so the
// result) is still fixed. op is called on vectors and on scalars.
template <typename Op>
inline float lane_reduce(const float* x, int64_t n, float init, const Op& op) {
  typedef float Lanes __attribute__((vector_size(64)));
  constexpr int64_t L = sizeof(Lanes) / sizeof(float);
  Lanes acc = Lanes{} + init;
  int64_t j = 0;
  for (; j + L <= n; j += L) {
    Lanes v;
    std::memcpy(&v, x + j, sizeof(v));
    acc = op(acc, v);
  }
  float r = init;
  for (; j < n; ++j) r = op(r, x[j]);
  for (int64_t l = 0; l < L; ++l) r = op(r, acc[l]);
  return r;
}
inline float lane_max(const float* x, int64_t n) {
  return lane_reduce(x, n, -std::numeric_limits<float>::infinity(),
                     [](auto a, auto b) { return a > b ? a : b; });
}
inline float lane_min(const float* x, int64_t n) {
  return lane_reduce(x, n, std::numeric_limits<float>::infinity(),
                     [](auto a, auto b) { return a < b ? a : b; });
}
inline float lane_sum(const float* x, int64_t n) {
  return lane_reduce(x, n, 0.f, [](auto a, auto b) { return a + b; });
}

// Runs f(begin, end) over [0, n) in chunks of at least `grain` that the threads take from a
// shared counter. at::parallel_for alone gives each thread one fixed share, so on a machine
// whose cores are shared one descheduled thread holds up the whole pass; here the others take
// its remaining chunks.
template <typename F>
void parallel_chunks(int64_t n, int64_t grain, const F& f) {
  const int64_t threads = at::get_num_threads();
  if (threads <= 1 || n <= grain) {
    f(0, n);
    return;
  }
  const int64_t chunk = std::max(grain, n / (8 * threads));
  std::atomic<int64_t> next{0};
  at::parallel_for(0, threads, 1, [&](int64_t, int64_t) {
    for (int64_t begin = next.fetch_add(chunk); begin < n; begin = next.fetch_add(chunk))
      f(begin, std::min(n, begin + chunk));
  });
}

// Threads that at::parallel_for runs a region on at the current setting: 1 when the extension
// was built without OpenMP, where ATen's inlined parallel_for falls back to a serial loop.
inline int64_t parallel_width() {
  std::atomic<int64_t> n{0};
  at::parallel_for(0, at::get_num_threads(), 1, [&](int64_t, int64_t) { n.fetch_add(1); });
  return n.load();
}

}  // namespace mmext
