package io.tabguard.registry;

import io.tabguard.guard.Schema;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.FunctionDescriptor;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class DefaultAuditLogTest {

    @Test
    void aRegistryWritesItsEventsToTheAuditLogItWasGiven(@TempDir Path dir) throws Exception {
        Path log = dir.resolve("events.jsonl");
        Schema schema = Schema.builder("tabguard.test.audited", 1).slot("f", FunctionDescriptor.ofVoid()).build();
        try (Registry registry = Registry.open(RegistryOptions.builder().auditLog(log).build())) {
            assertEquals(log, registry.auditLogPath().orElseThrow());
            CallbackTable table = registry.builder(schema).bind("f", MethodHandles.empty(MethodType.methodType(void.class))).build();
            registry.revoke(table);
        }
        List<String> lines = Files.readAllLines(log);
        String all = String.join("\n", lines);
        for (String type : List.of("REGISTRY_OPENED", "TABLE_BUILT", "TABLE_REVOKED", "REGISTRY_CLOSED")) {
            assertTrue(all.contains("\"" + type + "\""), type + " missing from\n" + all);
        }
        assertFalse(all.toLowerCase().contains("signingkey"), "no key material in the log");
    }
}
