package io.tabguard.audit;

import io.tabguard.audit.internal.Text;
import java.time.Instant;
import java.util.Objects;

/**
 * One security event. {@code violation} is the name of a guard {@code Violation} enum constant or
 * {@code null}; {@code offset} is -1 when none.
 *
 * <p>Immutable and thread-safe. The compact constructor cleans every string so that an event can be
 * written to a log or terminal as is: ASCII and C1 control characters and Unicode bidirectional
 * controls are removed, unpaired surrogates become U+FFFD, and the strings are cut to
 * {@value #MAX_NAME} ({@code schemaName}, {@code violation}) or {@value #MAX_DETAIL}
 * ({@code detail}) characters. Any negative {@code offset} becomes -1.
 *
 * <p>Refuses: a {@code null} {@code type} or {@code time} ({@link NullPointerException}); a {@code count}
 * below 1, or a summary ({@code count} above 1) without both times or with {@code firstTime} after
 * {@code lastTime} ({@link IllegalArgumentException}). A single event's times are dropped.
 *
 * @param type        what happened
 * @param time        when it happened
 * @param tableSerial the table's serial number, or 0 when the event concerns no table
 * @param schemaName  the schema's name, or {@code null}
 * @param schemaId    the schema's 64-bit id, or 0
 * @param violation   the name of a guard violation, or {@code null}
 * @param offset      the byte offset the violation was found at, or -1
 * @param detail      free text for operators, or {@code null}; never key material
 * @param count       how many occurrences this event stands for: 1 for a single event, more for a summary
 *                    of counted ones (their first and last times in {@code firstTime} and {@code lastTime})
 * @param firstTime   the first counted occurrence of a summary, or {@code null} when {@code count} is 1
 * @param lastTime    the last counted occurrence of a summary, or {@code null} when {@code count} is 1
 */
public record SecurityEvent(EventType type, Instant time, long tableSerial, String schemaName, long schemaId,
                            String violation, long offset, String detail, long count, Instant firstTime,
                            Instant lastTime) {

    /** The longest {@code detail} kept, in UTF-16 chars. */
    public static final int MAX_DETAIL = 200;
    /** The longest {@code schemaName} or {@code violation} kept, in UTF-16 chars. */
    public static final int MAX_NAME = 128;

    /** Validates and cleans the fields; see the class description. */
    public SecurityEvent {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(time, "time");
        schemaName = Text.clean(schemaName, MAX_NAME);
        violation = Text.clean(violation, MAX_NAME);
        detail = Text.clean(detail, MAX_DETAIL);
        if (offset < 0) {
            offset = -1;
        }
        if (count < 1) {
            throw new IllegalArgumentException("count must be at least 1");
        }
        if (count == 1) {
            firstTime = null;
            lastTime = null;
        } else if (firstTime == null || lastTime == null || firstTime.isAfter(lastTime)) {
            throw new IllegalArgumentException("a summary of " + count + " events needs firstTime <= lastTime");
        }
    }

    /**
     * A single event ({@code count} 1, no first and last times).
     *
     * @param type        what happened
     * @param time        when it happened
     * @param tableSerial the table's serial number, or 0 when the event concerns no table
     * @param schemaName  the schema's name, or {@code null}
     * @param schemaId    the schema's 64-bit id, or 0
     * @param violation   the name of a guard violation, or {@code null}
     * @param offset      the byte offset the violation was found at, or -1
     * @param detail      free text for operators, or {@code null}; never key material
     * @throws NullPointerException if {@code type} or {@code time} is {@code null}
     */
    public SecurityEvent(EventType type, Instant time, long tableSerial, String schemaName, long schemaId,
                         String violation, long offset, String detail) {
        this(type, time, tableSerial, schemaName, schemaId, violation, offset, detail, 1, null, null);
    }

    /**
     * One record standing for {@code count} occurrences between {@code firstTime} and {@code lastTime}
     * (its {@code time} is {@code lastTime}); a {@code count} of 1 is a single event at {@code lastTime}.
     *
     * @param type        what happened
     * @param tableSerial the table's serial number, or 0 when the events concern no table
     * @param schemaName  the schema's name, or {@code null}
     * @param schemaId    the schema's 64-bit id, or 0
     * @param violation   the name of a guard violation, or {@code null}
     * @param offset      the byte offset the violation was found at, or -1
     * @param detail      free text for operators, or {@code null}; never key material
     * @param count       how many occurrences the record stands for, at least 1
     * @param firstTime   the first occurrence (ignored when {@code count} is 1)
     * @param lastTime    the last occurrence, also the event's {@code time}
     * @return the summary event
     * @throws NullPointerException     if {@code type} or {@code lastTime} is {@code null}
     * @throws IllegalArgumentException if {@code count} is below 1, or above 1 without both times or with
     *                                  {@code firstTime} after {@code lastTime}
     */
    public static SecurityEvent summary(EventType type, long tableSerial, String schemaName, long schemaId,
                                        String violation, long offset, String detail, long count,
                                        Instant firstTime, Instant lastTime) {
        return new SecurityEvent(type, lastTime, tableSerial, schemaName, schemaId, violation, offset, detail, count,
                firstTime, lastTime);
    }

    /**
     * An event that happened now ({@link Instant#now()}).
     *
     * @throws NullPointerException if {@code type} is {@code null}
     * @param type        what happened
     * @param tableSerial the table's serial, or 0 for a registry event
     * @param schemaName  the schema's name, or {@code null}
     * @param schemaId    the schema's id, or 0
     * @param violation   the violation's name, or {@code null}
     * @param offset      the offset concerned, or -1
     * @param detail      a short text for people (cleaned and truncated), or {@code null}
     * @return the event
     */
    public static SecurityEvent of(EventType type, long tableSerial, String schemaName, long schemaId,
                                   String violation, long offset, String detail) {
        return new SecurityEvent(type, Instant.now(), tableSerial, schemaName, schemaId, violation, offset, detail);
    }
}
