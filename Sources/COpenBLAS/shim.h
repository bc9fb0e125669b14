// OpenBLAS's CBLAS interface (Debian libopenblas-dev; the cblas.h alternative points at it).
#include <cblas.h>
