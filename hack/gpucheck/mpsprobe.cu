// mpsprobe: a CUDA client for hack/gpu-check.sh. It allocates the given
// MiB of device memory, then keeps the GPU busy for the given seconds.
// Exit status: 0 ran to the end, 2 CUDA would not start, 3 the allocation
// was refused (what an MPS client over its pinned memory limit must see),
// 4 a kernel failed.
//
//   mpsprobe <alloc-MiB> <seconds>
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

__global__ void busy(float *p, size_t n, int rounds) {
  size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
  if (i >= n) return;
  float v = p[i];
  for (int k = 0; k < rounds; k++) v = v * 0.999f + 1.0f;
  p[i] = v;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s <alloc-MiB> <seconds>\n", argv[0]);
    return 1;
  }
  size_t mib = strtoull(argv[1], NULL, 10);
  int seconds = atoi(argv[2]);
  size_t freeB = 0, totalB = 0;
  cudaError_t err = cudaMemGetInfo(&freeB, &totalB);
  if (err != cudaSuccess) {
    printf("start: FAILED: %s\n", cudaGetErrorString(err));
    return 2;
  }
  printf("device memory: total %zu MiB, free %zu MiB\n", totalB >> 20, freeB >> 20);
  float *p = NULL;
  err = cudaMalloc((void **)&p, mib << 20);
  if (err != cudaSuccess) {
    printf("alloc %zu MiB: REFUSED: %s\n", mib, cudaGetErrorString(err));
    return 3;
  }
  printf("alloc %zu MiB: ok\n", mib);
  size_t n = (mib << 20) / sizeof(float);
  cudaMemset(p, 0, n * sizeof(float));
  time_t end = time(NULL) + seconds;
  int launches = 0;
  while (time(NULL) < end) {
    busy<<<(unsigned)((n + 255) / 256), 256>>>(p, n, 64);
    err = cudaDeviceSynchronize();
    if (err != cudaSuccess) {
      printf("kernel: FAILED after %d launches: %s\n", launches, cudaGetErrorString(err));
      return 4;
    }
    launches++;
  }
  printf("ran %d s, %d launches: ok\n", seconds, launches);
  cudaFree(p);
  return 0;
}
