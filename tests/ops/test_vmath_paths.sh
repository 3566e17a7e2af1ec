#!/bin/sh
# The elementwise op tests (PyTorch goldens, naive references and gradient
# checks: test_unary_golden, test_unary_math), the losses (test_loss:
# cross-entropy rows use the path's softmax), the direct data-gradient
# convolution (test_conv_direct), the normalisations' block passes (test_norm,
# test_norm_act, test_norm_fused: naive loops, PyTorch goldens, finite
# differences, the relu and residual epilogues), dropout's fused draw
# (test_norm_dropout) and attention's rows with and without dropout
# (test_attention) once per CPU math path of
# src/ops/vmath.h, forced with DLT_CPU_ISA: libm (per-element double), baseline,
# avx2, avx512. A level this CPU lacks is reported as not checked (dltrain
# --version says which path a setting gives) and not counted as passed.
b=${top_builddir:-.}
for p in dltrain tests/ops/test_unary_golden tests/ops/test_unary_math tests/ops/test_loss tests/ops/test_conv_direct \
    tests/ops/test_norm tests/ops/test_norm_act tests/ops/test_norm_fused tests/ops/test_norm_dropout \
    tests/ops/test_attention; do
    [ -x "$b/$p" ] || { echo "FAIL: $b/$p is not built"; exit 1; }
done
checked=
for isa in libm baseline avx2 avx512; do
    line=$(DLT_CPU_ISA=$isa "$b/dltrain" --version | grep '^CPU elementwise math:')
    case $line in
    "CPU elementwise math: $isa "*) ;;
    *) echo "$isa: not checked ($line)"; continue ;;
    esac
    for t in test_unary_golden test_unary_math test_loss test_conv_direct test_norm test_norm_act test_norm_fused \
        test_norm_dropout test_attention; do
        DLT_CPU_ISA=$isa "$b/tests/ops/$t" >"$t.$isa.out" 2>&1 ||
            { cat "$t.$isa.out"; echo "FAIL: $t with DLT_CPU_ISA=$isa"; exit 1; }
        rm -f "$t.$isa.out"
    done
    echo "$isa: test_unary_golden, test_unary_math, test_loss, test_conv_direct, the test_norm* tests and test_attention pass"
    checked="$checked $isa"
done
[ -n "$checked" ] || { echo "FAIL: no path checked"; exit 1; }
echo "paths checked:$checked"
