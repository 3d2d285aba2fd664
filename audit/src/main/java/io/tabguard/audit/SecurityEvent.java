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
 * <p>Refuses: a {@code null} {@code type} or {@code time} ({@link NullPointerException}).
 *
 * @param type        what happened
 * @param time        when it happened
 * @param tableSerial the table's serial number, or 0 when the event concerns no table
 * @param schemaName  the schema's name, or {@code null}
 * @param schemaId    the schema's 64-bit id, or 0
 * @param violation   the name of a guard violation, or {@code null}
 * @param offset      the byte offset the violation was found at, or -1
 * @param detail      free text for operators, or {@code null}; never key material
 */
public record SecurityEvent(EventType type, Instant time, long tableSerial, String schemaName, long schemaId,
                            String violation, long offset, String detail) {

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
