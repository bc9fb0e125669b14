// Private to CVectorKernels: the eight-lane vector types of the kernel bodies (GCC/Clang vector
// extensions) and the pragmas every kernel file compiles under. See VectorLevels.inc.
#ifndef DIFFPHYS_VECTOR_TYPES_H
#define DIFFPHYS_VECTOR_TYPES_H
#include <string.h>

#pragma STDC FP_CONTRACT ON
// The helpers pass eight-double vectors by value; all are static and inlined, so no ABI is crossed.
#pragma clang diagnostic ignored "-Wpsabi"

typedef double v8d __attribute__((vector_size(64)));
typedef long long v8l __attribute__((vector_size(64)));
typedef unsigned long long v8u __attribute__((vector_size(64)));
typedef float v8f __attribute__((vector_size(32)));
#endif
