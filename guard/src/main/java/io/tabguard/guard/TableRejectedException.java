package io.tabguard.guard;

import java.util.Objects;

/**
 * A table was refused. Carries exactly one {@link Violation} and the offset, from the start of the
 * table's header, of the bytes concerned ({@code -1} when the violation is about no byte in
 * particular, such as a revoked table). The message never contains key material or table bytes.
 *
 * <p>This is the only exception Tabguard's checks throw for bad input, whatever the bytes. Instances
 * are immutable and thread-safe.
 */
public final class TableRejectedException extends SecurityException {
    private static final long serialVersionUID = 1L;

    /** The check that failed. */
    private final Violation violation;
    /** Offset from the start of the table's header, or {@code -1}. */
    private final long offset;

    /**
     * A refusal for {@code violation} at {@code offset}.
     *
     * @param violation the one violation
     * @param offset    offset from the start of the table's header, or {@code -1}
     */
    public TableRejectedException(Violation violation, long offset) {
        this(violation, offset, null);
    }

    /**
     * A refusal for {@code violation} at {@code offset}, with a detail for the message.
     *
     * @param violation the one violation
     * @param offset    offset from the start of the table's header, or {@code -1}
     * @param detail    what was found, for people; never key material or table bytes; may be {@code null}
     */
    public TableRejectedException(Violation violation, long offset, String detail) {
        super(message(violation, offset, detail));
        this.violation = Objects.requireNonNull(violation, "violation");
        this.offset = offset;
    }

    /**
     * The check that failed.
     *
     * @return the violation
     */
    public Violation violation() {
        return violation;
    }

    /**
     * Offset from the start of the table's header, or {@code -1}.
     *
     * @return the offset
     */
    public long offset() {
        return offset;
    }

    private static String message(Violation violation, long offset, String detail) {
        StringBuilder sb = new StringBuilder("table refused: ").append(violation.name());
        if (offset >= 0) {
            sb.append(" at offset ").append(offset);
        }
        sb.append(" (").append(violation.meaning()).append(')');
        if (detail != null && !detail.isEmpty()) {
            sb.append(": ").append(detail);
        }
        return sb.toString();
    }
}
