package io.tabguard.testkit.archfixture.audit;

import java.io.IOException;

/** Breaks "no printStackTrace in main code". */
public final class PrintsStackTrace {
    private PrintsStackTrace() {}

    public static void swallow(IOException e) {
        e.printStackTrace();
    }
}
