package io.tabguard.audit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JfrEventsTest {
    @TempDir
    Path dir;

    @Test
    void everyEventTypeIsEmittedWithItsFields() throws Exception {
        Path out = dir.resolve("rec.jfr");
        try (Recording rec = new Recording()) {
            for (EventType t : EventType.values()) {
                rec.enable(t.jfrEventName()).withoutStackTrace();
            }
            rec.start();
            try (AuditLog log = AuditLog.open(dir.resolve("j.log"))) {
                for (EventType t : EventType.values()) {
                    log.record(SecurityEvent.of(t, 77, "jfr-schema", 0x1234, t == EventType.TABLE_REFUSED
                            ? "SIGNATURE" : null, t == EventType.TABLE_REFUSED ? 24 : -1, "via log " + t));
                }
            }
            AuditSink jfrOnly = AuditSinks.jfrOnly();
            jfrOnly.record(SecurityEvent.of(EventType.TABLE_QUARANTINED, 88, "other", 5, "CHECKSUM", 9, "via jfrOnly"));
            jfrOnly.close();
            rec.stop();
            rec.dump(out);
        }
        List<RecordedEvent> events = RecordingFile.readAllEvents(out);
        Map<String, RecordedEvent> byDetail = new HashMap<>();
        for (RecordedEvent e : events) {
            if (e.getEventType().getName().startsWith("tabguard.")) {
                assertEquals(List.of("Tabguard"), e.getEventType().getCategoryNames());
                byDetail.put(e.getString("detail"), e);
            }
        }
        for (EventType t : EventType.values()) {
            RecordedEvent e = byDetail.get("via log " + t);
            assertNotNull(e, "no JFR event for " + t);
            assertEquals(t.jfrEventName(), e.getEventType().getName());
            assertEquals(t.label(), e.getEventType().getLabel());
            assertEquals(77, e.getLong("serial"));
            assertEquals("jfr-schema", e.getString("schema"));
            assertEquals(0x1234, e.getLong("schemaId"));
        }
        RecordedEvent refused = byDetail.get("via log TABLE_REFUSED");
        assertEquals("SIGNATURE", refused.getString("violation"));
        assertEquals(24, refused.getLong("offset"));
        RecordedEvent q = byDetail.get("via jfrOnly");
        assertNotNull(q, "jfrOnly emits JFR events");
        assertEquals("tabguard.TableQuarantined", q.getEventType().getName());
        assertEquals(88, q.getLong("serial"));
        assertEquals("CHECKSUM", q.getString("violation"));
        assertTrue(byDetail.size() >= EventType.values().length + 1);
    }
}
