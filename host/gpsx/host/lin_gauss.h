// Linear-Gaussian controllers for M conditions and their initialisation (init_lqr,
// init_pd of the reference), batched over conditions.
#pragma once

#include <cstdint>
#include <vector>

#include "gpsx/host/buffer.h"
#include "gpsx/host/executor.h"
#include "gpsx/kernels/lin_gauss.h"

namespace gpsx {

// Controllers of M conditions in executor memory (shapes as ../shared/reference/README.md,
// condition first).
struct ControllerBatch {
  int M = 0, T = 0, dX = 0, dU = 0;
  Buffer<double> K;               // (M x T x dU x dX)
  Buffer<double> k;               // (M x T x dU)
  Buffer<double> pol_covar;       // (M x T x dU x dU)
  Buffer<double> chol_pol_covar;  // (M x T x dU x dU) upper: C^T C = pol_covar
  Buffer<double> inv_pol_covar;   // (M x T x dU x dU)

  ControllerBatch() = default;
  ControllerBatch(const Executor& ex, int M, int T, int dX, int dU);
  lingauss::Controller<double> condition(int m);  // pointers to condition m
};

// init_lqr for every condition (x0 differs per condition, settings and gains/acc are
// shared). Pointers are host memory. Returns per-condition StatusBits in `status` (M).
void init_lqr(const Executor& ex, const lingauss::LqrInitSettings<double>& settings,
              const double* x0,     // (M x dX)
              const double* gains,  // (dU) init_gains (reference default: ones)
              const double* acc,    // (dU) init_acc (reference default: zeros)
              ControllerBatch& out, std::uint32_t* status);

// init_pd for every condition; dQ = number of joint positions (the reference's dU >= dQ
// branch only).
void init_pd(const Executor& ex, const lingauss::PdInitSettings<double>& settings, int dQ,
             const double* x0,  // (M x dX) host
             ControllerBatch& out, std::uint32_t* status);

}  // namespace gpsx
