package io.tabguard.testkit;

import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import io.tabguard.registry.RegistryOptions;

import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Queue;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntUnaryOperator;

/**
 * Run in a forked JVM by {@link StressForkTest} (a crash must not take the test run with it): for a
 * bounded time, threads call slots from native code and from Java while others build tables, tamper
 * with them, revoke and close them, and rotate the key. Prints one {@code stress: ...} summary line and
 * exits 0 if nothing went wrong, or prints each {@code VIOLATION ...} and exits 1.
 *
 * <p>What is checked, per call:
 * <ul>
 *   <li>untouched tables (never tampered, revoked or closed): every call answers honestly — no false
 *       refusal, whatever rotations run meanwhile;</li>
 *   <li>victim tables: a call that started after {@code revoke}/{@code close} returned is refused, and no
 *       target runs after it returned; a call that started after a tamper was written, with no key
 *       rotation since (a rotation rewrites the live table from the verified snapshot, healing it), is
 *       refused — no false accept;</li>
 *   <li>every result is the honest one or the refusal value; no thread throws.</li>
 * </ul>
 * Arguments: {@code <seconds> [<maxSeconds>]}: it runs at least {@code seconds}, then on until every count
 * has reached its minimum ({@link #enoughOfEach()}) or {@code maxSeconds} have passed.
 */
public final class StressMain {
    private StressMain() {}

    static final AtomicBoolean STOP = new AtomicBoolean();
    static final Queue<String> VIOLATIONS = new ConcurrentLinkedQueue<>();
    static final AtomicLong ROTATIONS_STARTED = new AtomicLong();
    static final AtomicLong ROTATIONS_FINISHED = new AtomicLong();
    static final AtomicLong untouchedCalls = new AtomicLong();
    static final AtomicLong victimCalls = new AtomicLong();
    static final AtomicLong victimRefusals = new AtomicLong();
    static final AtomicLong decisiveTamperChecks = new AtomicLong();
    static final AtomicLong tampers = new AtomicLong();
    static final AtomicLong retirements = new AtomicLong();
    static final AtomicLong built = new AtomicLong();

    /** What a run must have done of each kind to mean something; StressForkTest asserts the same figures. */
    static final long MIN_UNTOUCHED_CALLS = 10_000, MIN_VICTIM_CALLS = 5_000, MIN_VICTIM_REFUSALS = 1_000,
            MIN_DECISIVE_TAMPER_CHECKS = 100, MIN_TAMPERS = 100, MIN_RETIREMENTS = 100, MIN_ROTATIONS = 100;

    static boolean enoughOfEach() {
        return untouchedCalls.get() >= MIN_UNTOUCHED_CALLS && victimCalls.get() >= MIN_VICTIM_CALLS
                && victimRefusals.get() >= MIN_VICTIM_REFUSALS && decisiveTamperChecks.get() >= MIN_DECISIVE_TAMPER_CHECKS
                && tampers.get() >= MIN_TAMPERS && retirements.get() >= MIN_RETIREMENTS
                && ROTATIONS_FINISHED.get() >= MIN_ROTATIONS;
    }

    static void violation(String what) {
        if (VIOLATIONS.size() < 50) {
            VIOLATIONS.add(what);
        }
    }

    /** A table the churner builds, then tampers with, revokes or closes while dispatchers call it. */
    static final class Victim {
        final CallbackTable table;
        final MethodHandle inc;
        volatile boolean retired;          // set once revoke()/close() has returned
        volatile long tamperMark = -1;      // rotations started when a tamper finished; -1: none, or ambiguous
        final AtomicLong lateRuns = new AtomicLong();

        Victim(Registry registry) {
            Victim self = this;
            this.table = registry.builder(Fixtures.CALC)
                    .bind("inc", IntUnaryOperator.class, x -> {
                        if (self.retired) {
                            self.lateRuns.incrementAndGet();
                        }
                        return x + 1;
                    })
                    .bind("dbl", IntUnaryOperator.class, x -> 2 * x)
                    .build();
            this.inc = Fixtures.nativeCaller(table, "inc");
        }
    }

    public static void main(String[] args) throws Exception {
        long seconds = Long.parseLong(args[0]);
        long maxSeconds = args.length > 1 ? Long.parseLong(args[1]) : seconds;
        long start = System.nanoTime();
        FuzzWorld.CountingSink audit = new FuzzWorld.CountingSink();
        Registry registry = Registry.open(RegistryOptions.builder().auditSink(audit).writableTables().build());
        Fixtures.Targets honestTargets = new Fixtures.Targets();
        List<CallbackTable> untouched = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            untouched.add(Fixtures.calcTable(registry, honestTargets));
        }
        List<Victim> victims = new CopyOnWriteArrayList<>();
        List<Thread> threads = new ArrayList<>();

        for (int i = 0; i < 2; i++) {                                   // untouched, native → Java
            MethodHandle h = Fixtures.nativeCaller(untouched.get(i), "inc");
            threads.add(loop("untouched-native-" + i, () -> {
                int r = (int) h.invokeExact(41);
                untouchedCalls.incrementAndGet();
                if (r != 42) {
                    violation("false refusal of an untouched table (native): " + r);
                }
            }));
        }
        MethodHandle javaSide = untouched.get(2).slotHandle("dbl");      // untouched, Java → native
        threads.add(loop("untouched-java", () -> {
            int r;
            try {
                r = (int) javaSide.invokeExact(21);
            } catch (io.tabguard.guard.TableRejectedException e) {
                r = -1000 - e.violation().code();
            }
            untouchedCalls.incrementAndGet();
            if (r != 42) {
                violation("false refusal of an untouched table (Java): " + r);
            }
        }));

        for (int i = 0; i < 2; i++) {                                   // victims, native → Java
            Random random = new Random(i);
            threads.add(loop("victim-native-" + i, () -> {
                // one snapshot: the churner removes victims meanwhile, so size() then get() could miss
                Victim[] now = victims.toArray(Victim[]::new);
                if (now.length == 0) {
                    Thread.onSpinWait();
                    return;
                }
                Victim v = now[random.nextInt(now.length)];
                boolean retiredBefore = v.retired;
                long mark = v.tamperMark;
                int r = (int) v.inc.invokeExact(41);
                victimCalls.incrementAndGet();
                if (r == Fixtures.REFUSED) {
                    victimRefusals.incrementAndGet();
                } else if (r != 42) {
                    violation("neither honest nor refused: " + r);
                } else if (retiredBefore) {
                    violation("answered after revoke/close returned: " + v.table);
                } else if (mark >= 0) {
                    if (ROTATIONS_STARTED.get() == mark) {
                        violation("false accept: answered after a tamper, no rotation since: " + v.table);
                    }
                }
                if (mark >= 0 && ROTATIONS_STARTED.get() == mark) {
                    decisiveTamperChecks.incrementAndGet();
                }
            }));
        }

        Random churn = new Random(42);
        threads.add(loop("churner", () -> {                  // build, tamper, revoke, close
            if (victims.size() < 12 && built.get() < 3_000) {
                victims.add(new Victim(registry));
                built.incrementAndGet();
            }
            if (victims.isEmpty()) {
                return;
            }
            Victim v = victims.get(churn.nextInt(victims.size()));
            switch (churn.nextInt(4)) {
                case 0 -> {
                    byte[] valid = v.table.verifiedBytes();
                    byte[] script = new byte[1 + churn.nextInt(12)];
                    churn.nextBytes(script);
                    byte[] mutated = TableMutator.mutate(Fixtures.CALC, valid, script, true);
                    if (!Arrays.equals(mutated, valid) && v.tamperMark < 0) {
                        long started = ROTATIONS_STARTED.get();
                        boolean quiet = ROTATIONS_FINISHED.get() == started;
                        NativeTamper.writeBytes(v.table, mutated);
                        if (quiet && ROTATIONS_STARTED.get() == started) {
                            v.tamperMark = started;
                        }
                        tampers.incrementAndGet();
                    }
                }
                case 1 -> {
                    registry.revoke(v.table);
                    v.retired = true;
                    retirements.incrementAndGet();
                }
                case 2 -> {
                    v.table.close();
                    v.retired = true;
                    retirements.incrementAndGet();
                }
                default -> {
                    if (victims.size() > 8) {
                        victims.remove(v);                              // keeps refusing, but nobody calls it any more
                    }
                }
            }
            Thread.sleep(0, 200_000);
        }));

        threads.add(loop("rotator", () -> {                  // key rotation under all of it
            ROTATIONS_STARTED.incrementAndGet();
            try {
                registry.rotateKey();
            } finally {
                ROTATIONS_FINISHED.incrementAndGet();
            }
            Thread.sleep(2);
        }));

        threads.forEach(Thread::start);
        // At least `seconds`; then on until every count reached its minimum (a loaded machine is slow) or `maxSeconds`.
        Thread.sleep(TimeUnit.SECONDS.toMillis(seconds));
        while (!STOP.get() && !enoughOfEach() && System.nanoTime() - start < TimeUnit.SECONDS.toNanos(maxSeconds)) {
            Thread.sleep(100);
        }
        STOP.set(true);
        for (Thread t : threads) {
            t.join(TimeUnit.SECONDS.toMillis(30));
            if (t.isAlive()) {
                violation(t.getName() + " did not stop");
                STOP.set(true);
            }
        }
        for (Victim v : victims) {
            if (v.lateRuns.get() != 0) {
                violation(v.lateRuns.get() + " target runs after revoke/close returned: " + v.table);
            }
        }
        registry.close();   // every dispatcher has stopped: native code may no longer hold slot pointers

        System.out.println("stress: untouched=" + untouchedCalls + " victimCalls=" + victimCalls + " victimRefusals="
                + victimRefusals + " decisiveTamperChecks=" + decisiveTamperChecks + " tampers=" + tampers
                + " retirements=" + retirements + " built=" + built + " rotations=" + ROTATIONS_FINISHED
                + " auditEvents=" + audit.events + " violations=" + VIOLATIONS.size());
        VIOLATIONS.forEach(v -> System.out.println("VIOLATION " + v));
        System.out.flush();
        System.exit(VIOLATIONS.isEmpty() ? 0 : 1);
    }

    @FunctionalInterface
    interface Step {
        void run() throws Throwable;
    }

    private static Thread loop(String name, Step step) {
        Thread t = new Thread(() -> {
            try {
                while (!STOP.get()) {
                    step.run();
                }
            } catch (Throwable e) {
                violation(name + " threw " + e);
                STOP.set(true);
            }
        }, name);
        t.setDaemon(true);
        return t;
    }
}
