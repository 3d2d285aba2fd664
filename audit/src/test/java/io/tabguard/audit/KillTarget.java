package io.tabguard.audit;

import java.nio.file.Path;

/** Main class of the JVM that {@link CrashRecoveryTest} kills: writes records until it is killed. */
public final class KillTarget {
    static final String READY = "KILL-TARGET-READY";
    static final int BEFORE_READY = 100;

    private KillTarget() {
    }

    public static void main(String[] args) throws Exception {
        AuditLog log = AuditLog.open(Path.of(args[0]), AuditLog.Options.defaults().withCheckpointEvery(8));
        int i = 0;
        while (true) {
            log.record(Fixtures.event(i++));
            if (i == BEFORE_READY) {
                System.out.println(READY);
                System.out.flush();
            }
        }
    }
}
