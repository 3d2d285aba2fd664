package io.tabguard.audit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FloodTest {
    @TempDir
    Path dir;

    private static final int THREADS = 2;
    private static final int PER_THREAD = 500_000;

    @Test
    void aMillionRefusalsAreAllCountedAndNoneBlocks() throws Exception {
        Path log = dir.resolve("flood.log");
        AuditLog.Options o = AuditLog.Options.defaults().withQueueCapacity(1024).withSynchronous(false)
                .withFsync(AuditLog.FsyncPolicy.NEVER);
        try (AuditLog a = AuditLog.open(log, o)) {
            CountDownLatch start = new CountDownLatch(1);
            Thread[] threads = new Thread[THREADS];
            for (int t = 0; t < THREADS; t++) {
                int id = t;
                threads[t] = new Thread(() -> {
                    try {
                        start.await();
                    } catch (InterruptedException e) {
                        return;
                    }
                    String[] violations = {"SIGNATURE", "CHECKSUM", "FOREIGN_SLOT"};
                    for (int i = 0; i < PER_THREAD; i++) {
                        a.record(SecurityEvent.of(EventType.TABLE_REFUSED, 1 + (i & 3), "flood", 42,
                                violations[(i + id) % 3], i, "thread " + id));
                    }
                }, "flood-" + t);
                threads[t].start();
            }
            start.countDown();
            for (Thread t : threads) {
                // a hang guard, far above the expected time: record() must never block indefinitely
                t.join(Duration.ofMinutes(2));
                assertFalse(t.isAlive(), "record() blocked");
            }
            a.flush();

            long total = 0;
            long records = 0;
            long coalescedRecords = 0;
            try (BufferedReader r = Files.newBufferedReader(log, StandardCharsets.US_ASCII)) {
                String line;
                while ((line = r.readLine()) != null) {
                    if (!Fixtures.isRecord(line) || !line.contains("\"type\":\"TABLE_REFUSED\"")) {
                        continue;
                    }
                    Map<String, Object> m = MiniJson.object(line);
                    long count = (Long) m.get("count");
                    total += count;
                    records++;
                    if (count > 1) {
                        coalescedRecords++;
                        assertFalse(java.time.Instant.parse((String) m.get("firstTime"))
                                .isAfter(java.time.Instant.parse((String) m.get("lastTime"))));
                    }
                }
            }
            assertEquals((long) THREADS * PER_THREAD, total, "every event is in the log, alone or counted");
            assertEquals(0, a.failures());
            assertTrue(coalescedRecords > 0, "the small queue overflowed into counted records");
            assertTrue(a.coalescedEvents() > 0);
            assertTrue(records < (long) THREADS * PER_THREAD, "coalescing kept the log smaller than the flood");
        }
        VerificationReport r = AuditVerifier.verify(log);
        assertTrue(r.intact(), r.describe());
    }
}
