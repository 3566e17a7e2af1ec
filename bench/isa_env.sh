# The environment a benchmark runs dltrain and PyTorch in, the same for both;
# sourced by bench/cpu_table.sh and bench/lm_bench.sh. DLT_BENCH_ISA picks it:
#
#   native (unset)  every library picks its kernels by this CPU's features;
#                   OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE (which some machines
#                   set) are unset
#   avx2            every library is held to AVX2+FMA code, as on an AVX2-only
#                   node: dltrain's vector math (DLT_CPU_ISA=avx2), oneDNN's
#                   kernels and sgemm in both (DNNL_/ONEDNN_MAX_CPU_ISA=AVX2),
#                   OpenBLAS's Haswell core (which dltrain's GEMM then runs, as
#                   it would there), PyTorch's own kernels
#                   (ATEN_CPU_CAPABILITY=avx2) and MKL (MKL_ENABLE_INSTRUCTIONS).
#                   The instructions are an AVX2 machine's; caches, memory and
#                   clock stay this machine's.
#
# isa_env CMD...  runs CMD in that environment
# isa_line        one line that says which it is and what each library reports
case ${DLT_BENCH_ISA:-native} in
native) isa_env() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$@"; } ;;
avx2)
    isa_env() {
        env -u OPENBLAS_L2_SIZE OPENBLAS_CORETYPE=Haswell DLT_CPU_ISA=avx2 DNNL_MAX_CPU_ISA=AVX2 \
            ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2 "$@"
    }
    ;;
*) echo "DLT_BENCH_ISA: expected native or avx2, got '$DLT_BENCH_ISA'" >&2; exit 2 ;;
esac
isa_line() {
    case ${DLT_BENCH_ISA:-native} in
    native) echo "ISA: native (OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE unset)" ;;
    avx2) echo "ISA: AVX2+FMA for both (DLT_BENCH_ISA=avx2: OPENBLAS_CORETYPE=Haswell DLT_CPU_ISA=avx2" \
        "DNNL/ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2)" ;;
    esac
}
