# Before cu2cc.awk: extern __shared__ T name[]; -> the emulated block's dynamic shared memory
s/extern __shared__ \([A-Za-z_][A-Za-z_0-9]*\) *\([A-Za-z_][A-Za-z_0-9]*\)\[\];/\1 *\2 = (\1 *)emu_dyn_smem;/
