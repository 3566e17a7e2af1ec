#!/usr/bin/env python3
"""The erfcx fit of src/ops/vmath_math.h (vm_erfcx), reproducible.

erfc(z) = exp(-z^2) g(z) with g the scaled complementary error function. With
t = k / (k + z) (k = 2) on z in [0, 10.2] (erfc underflows f32 beyond), g(z) / t
is smooth in t on [t0, 1]; it is fitted by a Chebyshev least-squares polynomial
of degree 10 in u = affine(t) on [-1, 1], weighted for relative error, and
printed as monomial coefficients in u (Horner in f32). Also prints the relative
error of the fit in double and of an f32 Horner evaluation, in ulp.

    /usr/bin/python3 src/ops/vmath_fit.py [k] [degree]     (default 2 10)
Needs numpy and scipy (Debian python3-numpy, python3-scipy). Not run by the build.
"""
import sys

import numpy as np
import numpy.polynomial.chebyshev as C
from scipy.special import erfcx

k = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
deg = int(sys.argv[2]) if len(sys.argv) > 2 else 10
zmax = 10.2
t0 = k / (k + zmax)

# Chebyshev nodes in t, the fit in u = (t - mid) / half
th = np.cos(np.pi * (np.arange(4000) + 0.5) / 4000)
t = t0 + (1 - t0) * (th + 1) / 2
f = erfcx(k / t - k) / t
u = (t - (1 + t0) / 2) / ((1 - t0) / 2)
p = C.cheb2poly(C.chebfit(u, f, deg, w=1 / f))

tt = np.linspace(t0, 1, 200001)
ref = erfcx(k / tt - k) / tt
uu = (tt - (1 + t0) / 2) / ((1 - t0) / 2)
print("degree %d, k %g: relative error %.3g in double" % (deg, k, np.max(np.abs(np.polyval(p[::-1], uu) / ref - 1))))
u32 = uu.astype(np.float32)
acc = np.float32(p[-1])
for c in p[-2::-1]:
    acc = acc * u32 + np.float32(c)
print("f32 Horner: %.2f ulp" % (np.max(np.abs(acc.astype(np.float64) / ref - 1)) / 2.0**-24))
print("u = t * %.9ef + %.9ef" % (2 / (1 - t0), -(1 + t0) / (1 - t0)))
print("coefficients of u^0, u^1, ...:")
for c in p:
    print("%.9ef," % c)
