/* A stand-in for libcuda.so.1 with host memory behind "device" pointers, so the allocator, program and device
 * code (every ctypes prototype and argument) runs without a GPU. Built by test_cuda_fake_driver.py.
 *
 * Kernels: a function named "fill" takes (float* out, int base) and writes out[i] = base + i for every launched
 * thread i (blocks x threads, x-major); any other name does nothing. An image starting with "BAD" fails to load
 * with a JIT log; a function named "missing" is not found. Counters are exported for the tests to read. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int CUresult;
int fake_device_count = 2;
size_t fake_alloc_limit = 0; /* allocations larger than this fail with out of memory (0: no limit) */
int fake_live_allocs = 0, fake_launches = 0, fake_htod_calls = 0, fake_dtoh_calls = 0, fake_peer_copies = 0;
int fake_modules_loaded = 0, fake_modules_unloaded = 0;
unsigned int fake_last_dims[6];
void *fake_current_ctx = 0;

CUresult cuInit(unsigned int flags) { return flags == 0 ? 0 : 1; }
CUresult cuDriverGetVersion(int *v) { *v = 13000; return 0; }

static const char *err_name(int e) {
  switch (e) {
    case 1: return "CUDA_ERROR_INVALID_VALUE";
    case 2: return "CUDA_ERROR_OUT_OF_MEMORY";
    case 101: return "CUDA_ERROR_INVALID_DEVICE";
    case 218: return "CUDA_ERROR_INVALID_PTX";
    case 500: return "CUDA_ERROR_NOT_FOUND";
    default: return 0;
  }
}
CUresult cuGetErrorName(int e, const char **s) { *s = err_name(e); return *s ? 0 : 1; }
CUresult cuGetErrorString(int e, const char **s) { *s = err_name(e) ? "fake driver error" : 0; return *s ? 0 : 1; }

CUresult cuDeviceGetCount(int *n) { *n = fake_device_count; return 0; }
CUresult cuDeviceGet(int *d, int ordinal) {
  if (ordinal < 0 || ordinal >= fake_device_count) return 101;
  *d = ordinal;
  return 0;
}
CUresult cuDeviceGetName(char *name, int len, int dev) { snprintf(name, len, "Fake GPU %d", dev); return 0; }
CUresult cuDeviceGetAttribute(int *v, int attr, int dev) {
  *v = attr == 75 ? 9 : attr == 76 ? 0 : attr == 16 ? 132 : attr == 1 ? 1024 : 0;
  return 0;
}
CUresult cuDeviceTotalMem_v2(size_t *bytes, int dev) { *bytes = (size_t)80 << 30; return 0; }
CUresult cuDeviceCanAccessPeer(int *can, int a, int b) { *can = 1; return 0; }
CUresult cuDevicePrimaryCtxRetain(void **ctx, int dev) { *ctx = (void *)(uintptr_t)(0x1000 + dev); return 0; }
CUresult cuCtxSetCurrent(void *ctx) { fake_current_ctx = ctx; return 0; }
CUresult cuCtxEnablePeerAccess(void *ctx, unsigned int flags) { return 0; }
CUresult cuStreamCreate(void **s, unsigned int flags) { *s = malloc(1); return 0; }
CUresult cuStreamSynchronize(void *s) { return s ? 0 : 1; }

CUresult cuMemAlloc_v2(uint64_t *p, size_t n) {
  if (n == 0) return 1;
  if (fake_alloc_limit && n > fake_alloc_limit) return 2;
  *p = (uint64_t)(uintptr_t)malloc(n);
  fake_live_allocs++;
  return 0;
}
CUresult cuMemFree_v2(uint64_t p) { free((void *)(uintptr_t)p); fake_live_allocs--; return 0; }
CUresult cuMemGetInfo_v2(size_t *free_b, size_t *total) { *free_b = *total = (size_t)80 << 30; return 0; }
CUresult cuMemHostAlloc(void **p, size_t n, unsigned int flags) { *p = malloc(n); return 0; }
CUresult cuMemFreeHost(void *p) { free(p); return 0; }
CUresult cuMemcpyHtoDAsync_v2(uint64_t d, const void *s, size_t n, void *st) {
  memcpy((void *)(uintptr_t)d, s, n); fake_htod_calls++; return 0;
}
CUresult cuMemcpyDtoHAsync_v2(void *d, uint64_t s, size_t n, void *st) {
  memcpy(d, (void *)(uintptr_t)s, n); fake_dtoh_calls++; return 0;
}
CUresult cuMemcpyDtoDAsync_v2(uint64_t d, uint64_t s, size_t n, void *st) {
  memcpy((void *)(uintptr_t)d, (void *)(uintptr_t)s, n); return 0;
}
CUresult cuMemcpyPeerAsync(uint64_t d, void *dctx, uint64_t s, void *sctx, size_t n, void *st) {
  if (dctx == sctx) return 1;
  memcpy((void *)(uintptr_t)d, (void *)(uintptr_t)s, n); fake_peer_copies++; return 0;
}

CUresult cuModuleLoadDataEx(void **m, const void *image, unsigned int n, int *opts, void **vals) {
  if (memcmp(image, "BAD", 3) == 0) {
    for (unsigned int i = 0; i < n; i++)
      if (opts[i] == 5) snprintf((char *)vals[i], 64, "ptxas fatal: fake JIT error");
    return 218;
  }
  *m = malloc(1);
  fake_modules_loaded++;
  return 0;
}
CUresult cuModuleGetFunction(void **f, void *m, const char *name) {
  if (strcmp(name, "missing") == 0) return 500;
  *f = strdup(name);
  return 0;
}
CUresult cuModuleUnload(void *m) { free(m); fake_modules_unloaded++; return 0; }
CUresult cuLaunchKernel(void *f, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx, unsigned int by,
                        unsigned int bz, unsigned int shared, void *stream, void **params, void **extra) {
  unsigned int dims[6] = {gx, gy, gz, bx, by, bz};
  memcpy(fake_last_dims, dims, sizeof(dims));
  fake_launches++;
  if (strcmp((const char *)f, "fill") == 0) {
    float *out = *(float **)params[0];
    int base = *(int *)params[1];
    long long n = (long long)gx * gy * gz * bx * by * bz;
    for (long long i = 0; i < n; i++) out[i] = (float)(base + i);
  }
  return 0;
}

CUresult cuEventCreate(void **e, unsigned int flags) { *e = malloc(1); return 0; }
CUresult cuEventRecord(void *e, void *s) { return e && s ? 0 : 1; }
CUresult cuEventSynchronize(void *e) { return 0; }
CUresult cuEventElapsedTime(float *ms, void *a, void *b) { *ms = 1.5f; return 0; }
CUresult cuEventDestroy_v2(void *e) { free(e); return 0; }
