package io.tabguard.examples;

/** The values the JIT samples compute, in Java, to check the JIT-compiled results against. */
public final class LlvmJitSamples {
    private LlvmJitSamples() {}

    /** The constant global table of the {@code lookup} sample: 16 primes. */
    public static final int[] PRIMES = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53};

    /** {@code arith(a, b)} as the IR computes it. */
    public static int arith(int a, int b) {
        return (a + b) * (a - b) + 42;
    }

    /** {@code sum(n)}: 1 + ... + n. */
    public static long sum(long n) {
        return n * (n + 1) / 2;
    }

    /** {@code lookup(i)}. */
    public static int lookup(int i) {
        return PRIMES[i & (PRIMES.length - 1)];
    }

    /** The k-th small function: {@code (x * k) ^ (x + k)}. */
    public static long small(int k, long x) {
        return (x * k) ^ (x + k);
    }
}
