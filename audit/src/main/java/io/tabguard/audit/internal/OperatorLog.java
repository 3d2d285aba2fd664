package io.tabguard.audit.internal;

import io.tabguard.audit.EventType;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Messages for operators through {@link System.Logger} {@code io.tabguard.audit}, rate-limited so a
 * flood of refusals cannot flood the operator's log: at most {@value #MAX_PER_SECOND} messages a
 * second, then one message saying how many were suppressed. Quiet by default: a table's first refusal
 * for a violation (the refusal path audits only that one synchronously), a quarantine and a callback
 * that threw are logged at WARNING; summaries of counted refusals and throws ({@code count} above 1) at
 * DEBUG, since the first already warned; revocations and key rotations at INFO; lifecycle events
 * (registry and log opened or closed, a key created) and the rest at DEBUG. Never logs key material.
 * Thread-safe.
 */
public final class OperatorLog {
    /** The logger's name. */
    public static final String NAME = "io.tabguard.audit";
    static final int MAX_PER_SECOND = 20;
    private static final Logger LOGGER = System.getLogger(NAME);
    private static final AtomicLong WINDOW_START = new AtomicLong(System.nanoTime());
    private static final AtomicInteger IN_WINDOW = new AtomicInteger();
    private static final AtomicLong SUPPRESSED = new AtomicLong();

    private OperatorLog() {
    }

    /** The level a single event of this type is logged at. */
    public static Level levelOf(String type) {
        return levelOf(type, 1);
    }

    /** The level an event of this type standing for {@code count} occurrences is logged at. */
    public static Level levelOf(String type, long count) {
        if (type.equals(EventType.TABLE_REFUSED.name()) || type.equals(EventType.CALLBACK_THREW.name())) {
            return count == 1 ? Level.WARNING : Level.DEBUG;
        }
        if (type.equals(EventType.TABLE_QUARANTINED.name()) || type.equals(LogRecord.LOG_TORN_TAIL)) {
            return Level.WARNING;
        }
        if (type.equals(EventType.TABLE_REVOKED.name()) || type.equals(EventType.KEY_ROTATED.name())) {
            return Level.INFO;
        }
        return Level.DEBUG;
    }

    /** (type, table serial, schema, violation) already logged at WARNING; bounded, forgotten when full. */
    private static final java.util.Set<String> WARNED = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private static final int MAX_WARNED = 4096;

    /**
     * WARNING only the first time a table reports a violation (or a throw) of this type; DEBUG after
     * that: one warning per table and violation, whatever records follow.
     */
    private static Level once(Level level, String type, long serial, String schema, String violation) {
        if (level != Level.WARNING) {
            return level;
        }
        if (WARNED.size() >= MAX_WARNED) {
            WARNED.clear();
        }
        return WARNED.add(type + ' ' + serial + ' ' + schema + ' ' + violation) ? Level.WARNING : Level.DEBUG;
    }

    /** Logs one event (or one coalesced record of {@code count} events). */
    public static void event(String type, long serial, String schema, String violation, long offset, String detail,
                             long count) {
        Level level = once(levelOf(type, count), type, serial, schema, violation);
        if (!LOGGER.isLoggable(level) || !admit()) {
            return;
        }
        StringBuilder b = new StringBuilder(96).append(type).append(" serial=").append(serial);
        if (schema != null) {
            b.append(" schema=").append(schema);
        }
        if (violation != null) {
            b.append(" violation=").append(violation);
        }
        if (offset >= 0) {
            b.append(" offset=").append(offset);
        }
        if (count != 1) {
            b.append(" count=").append(count);
        }
        if (detail != null) {
            b.append(": ").append(detail);
        }
        LOGGER.log(level, b.toString());
    }

    /** Logs a problem with the log itself (rate-limited). */
    public static void warn(String message, Throwable cause) {
        if (!LOGGER.isLoggable(Level.WARNING) || !admit()) {
            return;
        }
        if (cause == null) {
            LOGGER.log(Level.WARNING, message);
        } else {
            LOGGER.log(Level.WARNING, message + ": " + cause);
        }
    }

    /**
     * Logs a lifecycle message about the log itself (opened, key created) at DEBUG: routine, not an
     * operator's concern (rate-limited).
     */
    public static void info(String message) {
        if (LOGGER.isLoggable(Level.DEBUG) && admit()) {
            LOGGER.log(Level.DEBUG, message);
        }
    }

    private static boolean admit() {
        long now = System.nanoTime();
        long start = WINDOW_START.get();
        if (now - start >= 1_000_000_000L && WINDOW_START.compareAndSet(start, now)) {
            IN_WINDOW.set(0);
            long dropped = SUPPRESSED.getAndSet(0);
            if (dropped > 0) {
                LOGGER.log(Level.WARNING, dropped + " audit messages were suppressed by the rate limit"
                        + " (the audit log and JFR still have every event)");
            }
        }
        if (IN_WINDOW.incrementAndGet() <= MAX_PER_SECOND) {
            return true;
        }
        SUPPRESSED.incrementAndGet();
        return false;
    }
}
