/*
 * A library AllowListTest allow-lists: one honest function, one function of its dependency (libtgdep),
 * and exported symbols of this file that are not functions. Built with -fno-builtin so abs goes through the PLT.
 */
#include <stdlib.h>

int dep_twice(int a);

/* The valid twin: a defined, sized function of this very file. */
int helper_inc(int a) { return a + 1; }

int helper_uses_dependencies(int a) { return dep_twice(a) + abs(a); }

/* An exported data object. */
int helper_data[4] = {1, 2, 3, 4};

/* An exported label (no type, no size) in the middle of a function. */
int helper_labelled(int a) {
    __asm__ volatile(".globl helper_mid_label\nhelper_mid_label:");
    return a * 3;
}

/* A sized STT_FUNC symbol in the middle of another function. */
int helper_sized(int a) {
    __asm__ volatile(".globl helper_mid_function\n.type helper_mid_function, @function\n"
                     ".size helper_mid_function, 4\nhelper_mid_function:");
    return a * 5;
}

/* A sized STT_FUNC symbol in this file's own .plt: a stub that jumps to libc's abs. */
__asm__(".pushsection .plt,\"ax\",@progbits\n.globl helper_plt_abs\n.type helper_plt_abs, @function\n"
        "helper_plt_abs:\njmp *abs@GOTPCREL(%rip)\n.size helper_plt_abs, .-helper_plt_abs\n.popsection\n");
