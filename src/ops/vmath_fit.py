import numpy as np
from scipy.special import erfcx
import numpy.polynomial.chebyshev as C
import sys
k=float(sys.argv[1]); deg=int(sys.argv[2])
zmax=10.2
t0=k/(k+zmax)
# nodes
th=np.cos(np.pi*(np.arange(4000)+0.5)/4000)
t=t0+(1-t0)*(th+1)/2
z=k/t-k
f=erfcx(z)/t
# weighted LS relative: fit f with weights 1/f
u=(t-(1+t0)/2)/((1-t0)/2)
c=C.chebfit(u,f,deg,w=1/f)
p=C.cheb2poly(c)
# monomial in u -> evaluate in float32 Horner
tt=np.linspace(t0,1,200001)
zz=k/tt-k; ref=erfcx(zz)/tt
uu=((tt-(1+t0)/2)/((1-t0)/2))
e64=np.polyval(p[::-1],uu)
print("deg",deg,"k",k,"relerr64",np.max(np.abs(e64/ref-1)), "maxcoef",np.max(np.abs(p)))
u32=uu.astype(np.float32); acc=np.float32(p[-1])
for cc in p[-2::-1]:
    acc=acc*u32+np.float32(cc)
print("relerr32 ulps", np.max(np.abs(acc.astype(np.float64)/ref-1))/2**-24)
a=2/(1-t0); b=-(1+t0)/(1-t0)
print("u = t * %.9ef + %.9ef" % (a,b))
for cc in p: print("%.9ef," % cc)
