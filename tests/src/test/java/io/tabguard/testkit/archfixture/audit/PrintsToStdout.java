package io.tabguard.testkit.archfixture.audit;

/** Breaks "no System.out in main code" (not a command-line main). */
public final class PrintsToStdout {
    private PrintsToStdout() {}

    public static void debug(String message) {
        System.out.println(message);
    }
}
