package io.tabguard.testkit;

import io.tabguard.audit.AuditSink;
import io.tabguard.audit.SecurityEvent;
import io.tabguard.guard.AbiV1;
import io.tabguard.guard.TableRejectedException;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.RefusalPolicy;
import io.tabguard.registry.Registry;
import io.tabguard.registry.RegistryOptions;

import java.util.function.IntUnaryOperator;

/**
 * Run in a forked JVM by {@link FailStopForkTest}: builds a table under the given policy, makes one
 * honest call, tampers with the table (unless told not to), calls the slot again from native code or
 * from Java, and prints {@code after call <result>} if it is still alive. Every audit event and the
 * sink's close are printed as they happen.
 *
 * <p>Arguments: {@code <RefusalPolicy> native|java tamper|honest}.
 */
public final class FailStopMain {
    private FailStopMain() {}

    public static void main(String[] args) throws Throwable {
        RefusalPolicy policy = RefusalPolicy.valueOf(args[0]);
        boolean fromJava = args[1].equals("java");
        boolean tamper = args[2].equals("tamper");
        AuditSink printing = new AuditSink() {
            @Override
            public void record(SecurityEvent event) {
                print("audit " + event.type() + " " + event.violation());
            }

            @Override
            public void close() {
                print("audit closed");
            }
        };
        Registry registry = Registry.open(RegistryOptions.builder().refusalPolicy(policy).auditSink(printing).writableTables().build());
        CallbackTable table = registry.builder(Fixtures.CALC)
                .bind("inc", IntUnaryOperator.class, x -> {
                    print("target ran");
                    return x + 1;
                })
                .bind("dbl", IntUnaryOperator.class, x -> 2 * x)
                .build();
        print("honest " + Fixtures.callNative(table, "inc", 41));
        if (tamper) {
            NativeTamper.flipByte(table, AbiV1.OFFSET_SERIAL);
        }
        int result;
        if (fromJava) {
            try {
                result = (int) table.slotHandle("inc").invokeExact(41);
            } catch (TableRejectedException e) {
                print("rejected " + e.violation());
                result = Fixtures.REFUSED;
            }
        } else {
            result = Fixtures.callNative(table, "inc", 41);
        }
        print("after call " + result);
        registry.close();
        print("exiting");
        System.exit(0);
    }

    private static void print(String line) {
        System.out.println(line);
        System.out.flush();
    }
}
