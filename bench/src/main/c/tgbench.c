/*
 * The minimal native caller of Tabguard's benchmarks: C code calling a function pointer it was given,
 * and a trivial C function for the Java -> native benchmark. Built by bench/pom.xml into
 * bench/target/native/libtgbench.so. Nothing here may be inlined into a caller in Java, and the
 * compiler cannot drop the calls: the pointer is opaque and each result feeds the next call.
 */
typedef int (*tg_binop)(int, int);

/* The trivial callee of benchmark 3 (Java -> native): bound into a table slot with bindNative. */
int add_ints(int a, int b) {
    return a + b;
}

/* One call through f: the unit of the latency (SampleTime) benchmarks. */
int call_ii(tg_binop f, int a, int b) {
    return f(a, b);
}

/* n calls through f in a loop, each depending on the last: the unit of the throughput benchmarks. */
int call_n(tg_binop f, int n) {
    int acc = 0;
    for (int i = 0; i < n; i++) {
        acc = f(acc, i);
    }
    return acc;
}
