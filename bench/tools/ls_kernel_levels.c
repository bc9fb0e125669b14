// The LS kernel outside Swift: runs lsk_ls_posterior at every instruction-set level on random
// 28x28 data (n images, radius r), prints the largest relative difference of each level's state
// from the AVX-512 one, and the CPU time of the LS step beside an in-place vk_exp of the same n·HW
// values (minimum over reps; a profiling target for perf record). Build from the package root:
//   /opt/swift/usr/bin/clang -O3 -g -ISources/CVectorKernels/include -ISources/CVectorKernels \
//     bench/tools/ls_kernel_levels.c Sources/CVectorKernels/VectorKernels.c Sources/CVectorKernels/cpu_features.c \
//     -lm -lpthread -o /tmp/ls_kernel_levels && /tmp/ls_kernel_levels 2000 7 30
// (x86-64 with AVX-512 only: it calls the _avx512 and _avx2 copies directly.)
#include "../../Sources/CVectorKernels/LocalScoreKernels.c"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(void){struct timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID,&t); return t.tv_sec+1e-9*t.tv_nsec;}
int main(int argc, char**argv){
  long H=28,W=28,C=1,n=argc>1?atol(argv[1]):2000,r=argc>2?atol(argv[2]):1; int reps=argc>3?atoi(argv[3]):20;
  long hw=H*W,d=hw*C;
  double *img=malloc(n*d*8),*x=malloc(d*8);
  srand(1); for(long k=0;k<n*d;k++) img[k]=rand()/(double)RAND_MAX; for(long k=0;k<d;k++) x[k]=0.74*img[k]+0.7*(rand()/(double)RAND_MAX-0.5);
  double *st[3][5]; for(int l=0;l<3;l++) for(int f=0;f<5;f++) st[l][f]=malloc(hw*C*8);
  double *scr=calloc(lsk_ls_scratch(H,W,C,r),8);
  double decay=exp(-0.3), inv2d=0.5/(-expm1(-0.6));
  double bl=1e9,be=1e9; for(int rep=0;rep<reps;rep++){
   double t0=now();
   lsk_ls_posterior_avx512(H,W,C,r,x,img,n,decay,inv2d,st[2][0],st[2][1],st[2][2],st[2][3],st[2][4],NULL,scr);
   double t1=now();
   double *e=malloc(n*hw*8); for(long k=0;k<n*hw;k++) e[k]=-0.5; double t2=now(); vk_exp(e,e,n*hw); double t3=now(); free(e);
   if(t1-t0<bl) bl=t1-t0; if(t3-t2<be) be=t3-t2;
  }
  printf("r=%ld min: ls %.3f ms  exp in place %.3f ms ratio %.2f\n",r,bl*1e3,be*1e3,bl/be);
  lsk_ls_posterior_avx2(H,W,C,r,x,img,n,decay,inv2d,st[1][0],st[1][1],st[1][2],st[1][3],st[1][4],NULL,scr);
  lsk_ls_posterior_base(H,W,C,r,x,img,n,decay,inv2d,st[0][0],st[0][1],st[0][2],st[0][3],st[0][4],NULL,scr);
  for(int l=0;l<2;l++){double md=0; for(int f=0;f<5;f++) for(long k=0;k<hw;k++){double a=st[l][f][k],b=st[2][f][k]; double dd=fabs(a-b)/(1+fabs(b)); if(dd>md) md=dd;} printf("level %d vs avx512: max rel diff %.2e\n",l,md);}
  free(img); free(x); free(scr);
  return 0;
}
