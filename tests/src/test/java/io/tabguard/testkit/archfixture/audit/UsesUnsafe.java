package io.tabguard.testkit.archfixture.audit;

/** Breaks "no sun.misc.Unsafe" (compiled with jdk.unsupported read by the test sources only). */
public final class UsesUnsafe {
    private UsesUnsafe() {}

    public static Class<?> unsafe() {
        return sun.misc.Unsafe.class;
    }
}
