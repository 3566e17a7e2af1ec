# A CUDA kernel source as C++ for the CPU emulation (cuda_emu.h): every launch
#   k<<<grid, block, smem, stream>>>(args)
# becomes
#   emu_launcher([](auto &&...emu_a) { k(emu_a...); }, emu_cfg(grid, block, smem, stream))(args)
# k is the identifier (with template arguments) before <<<, possibly on the line above.
{ src = src $0 "\n" }
END {
    out = ""
    while ((i = index(src, "<<<")) > 0) {
        pre = substr(src, 1, i - 1)
        j = length(pre)
        while (j > 0 && substr(pre, j, 1) ~ /[ \t\n]/)
            j--
        last = j
        if (substr(pre, j, 1) == ">") {
            depth = 0
            do {
                c = substr(pre, j, 1)
                if (c == ">")
                    depth++
                else if (c == "<")
                    depth--
                j--
            } while (depth > 0 && j > 0)
        }
        while (j > 0 && substr(pre, j, 1) ~ /[A-Za-z0-9_:]/)
            j--
        name = substr(pre, j + 1, last - j)
        rest = substr(src, i + 3)
        k = index(rest, ">>>(")
        if (name == "" || k == 0) {
            print "cu2cc.awk: cannot parse a launch near: " substr(pre, j - 40, 80) > "/dev/stderr"
            exit 1
        }
        out = out substr(pre, 1, j) "emu_launcher([](auto &&...emu_a) { " name "(emu_a...); }, emu_cfg(" substr(rest, 1, k - 1) "))("
        src = substr(rest, k + 4)
    }
    printf "%s", out src
}
