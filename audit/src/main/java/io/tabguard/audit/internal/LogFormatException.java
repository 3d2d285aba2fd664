package io.tabguard.audit.internal;

/** A log line that is not in the exact form the writer produces. */
public final class LogFormatException extends Exception {
    private static final long serialVersionUID = 1L;

    public LogFormatException(String message) {
        super(message, null, false, false);
    }
}
