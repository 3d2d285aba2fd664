package io.tabguard.registry;

import io.tabguard.audit.AuditSink;
import io.tabguard.audit.SecurityEvent;
import io.tabguard.guard.Schema;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;

import static org.junit.jupiter.api.Assertions.*;

class RegisteredContextBuildTest {
    private static final Schema SCHEMA = Schema.builder("tabguard.test.context", 1)
            .slot("f", FunctionDescriptor.ofVoid(ValueLayout.ADDRESS),
                    s -> s.contextArgument(0, Schema.ContextBinding.REGISTERED_CONTEXT))
            .build();

    private static Registry open() {
        return Registry.open(RegistryOptions.builder().auditSink(new AuditSink() {
            @Override
            public void record(SecurityEvent event) {
            }

            @Override
            public void close() {
            }
        }).build());
    }

    @Test
    void aSlotBoundToARegisteredContextIsRefusedWithoutOne() {
        try (Registry registry = open()) {
            TableBuilder b = registry.builder(SCHEMA).bind("f",
                    MethodHandles.empty(MethodType.methodType(void.class, MemorySegment.class)));
            // without this refusal a counterfeit caller passing NULL would match the unset (NULL) context
            IllegalStateException e = assertThrows(IllegalStateException.class, b::build);
            assertTrue(e.getMessage().contains("context"), e.getMessage());
        }
    }

    @Test
    void theSameSlotBuildsOnceAContextIsGiven() {
        try (Registry registry = open(); Arena arena = Arena.ofConfined()) {
            CallbackTable t = registry.builder(SCHEMA).bind("f",
                    MethodHandles.empty(MethodType.methodType(void.class, MemorySegment.class)))
                    .context(arena.allocate(8)).build();
            assertEquals(TableStatus.OPEN, t.status());
        }
    }
}
