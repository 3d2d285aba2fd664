package io.tabguard.testkit.archfixture.ffm.internal;

import io.tabguard.testkit.archfixture.ffm.stubs.CycleBack;

/** With {@link CycleBack}: breaks "no cycles between packages" (ffm.internal -> ffm.stubs -> ffm.internal). */
public final class CycleStart {
    private CycleStart() {}

    public static int start() {
        return CycleBack.back() + 1;
    }

    public static int length() {
        return 2;
    }
}
