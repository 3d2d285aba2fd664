package io.tabguard.audit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Instant;
import org.junit.jupiter.api.Test;

class SecurityEventTest {
    @Test
    void stringsAreCleanedAndCapped() {
        SecurityEvent e = SecurityEvent.of(EventType.TABLE_REFUSED, 1, "a\u0000b\nc\u202ed", 2, "SIG\rNATURE", -7,
                "x".repeat(500));
        assertEquals("abcd", e.schemaName());
        assertEquals("SIGNATURE", e.violation());
        assertEquals(-1, e.offset());
        assertEquals(SecurityEvent.MAX_DETAIL, e.detail().length());
        assertNull(SecurityEvent.of(EventType.TABLE_BUILT, 1, null, 0, null, 5, null).detail());
        // a surrogate pair is never split by the cap, and a lone surrogate becomes U+FFFD
        String pairs = "\ud83d\ude00".repeat(150);
        String d = SecurityEvent.of(EventType.TABLE_BUILT, 1, null, 0, null, 0, pairs).detail();
        assertEquals(200, d.length());
        assertEquals("\ufffdz", SecurityEvent.of(EventType.TABLE_BUILT, 1, null, 0, null, 0, "\ud800z").detail());
        String split = SecurityEvent.of(EventType.TABLE_BUILT, 1, null, 0, null, 0, "y" + pairs).detail();
        assertEquals(199, split.length(), "the pair that would be cut is left out whole");
    }

    @Test
    void typeAndTimeAreRequired() {
        assertThrows(NullPointerException.class, () -> SecurityEvent.of(null, 1, null, 0, null, -1, null));
        assertThrows(NullPointerException.class,
                () -> new SecurityEvent(EventType.TABLE_BUILT, null, 1, null, 0, null, -1, null));
        Instant t = Instant.parse("2025-01-02T03:04:05Z");
        assertEquals(t, new SecurityEvent(EventType.TABLE_BUILT, t, 1, null, 0, null, -1, null).time());
    }

    @Test
    void optionsRefuseNonsense() {
        AuditLog.Options d = AuditLog.Options.defaults();
        assertEquals(256, d.checkpointEvery());
        assertThrows(IllegalArgumentException.class, () -> d.withCheckpointEvery(0));
        assertThrows(IllegalArgumentException.class, () -> d.withQueueCapacity(0));
        assertThrows(NullPointerException.class, () -> d.withFsync(null));
        assertThrows(IllegalArgumentException.class, () -> d.withSyncTimeout(java.time.Duration.ofSeconds(-1)));
    }
}
