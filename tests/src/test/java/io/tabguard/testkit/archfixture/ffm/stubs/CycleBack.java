package io.tabguard.testkit.archfixture.ffm.stubs;

import io.tabguard.testkit.archfixture.ffm.internal.CycleStart;

public final class CycleBack {
    private CycleBack() {}

    public static int back() {
        return CycleStart.length();
    }
}
