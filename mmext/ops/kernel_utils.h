// Copyright (c) mmext contributors. All rights reserved.
// Shared by the CPU kernels of this folder.
#pragma once

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>

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

}  // namespace mmext
