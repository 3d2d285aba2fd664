package io.tabguard.ffm.internal;

import io.tabguard.guard.TableRejectedException;
import io.tabguard.guard.Violation;

/**
 * What a {@link DispatchGate} needs from the table that owns it: the full checks and the audit trail.
 * Implementations never throw from these methods.
 */
public interface GateOwner {
    /** Runs every check on {@code liveBytes} (a private copy of the live table); {@code null} when it passes. */
    TableRejectedException fullCheck(byte[] liveBytes);

    /** The table's first call refused for {@code violation}, through slot {@code slot}; later ones are only counted. */
    void refused(int slot, Violation violation, long offset, String detail);

    /** The table was quarantined after a failed check. */
    void quarantined(Violation violation, long offset);

    /** The Java target of slot {@code slot} threw; the native caller got the refusal value. */
    void callbackThrew(int slot, Throwable thrown);

    /** The refusal handler of slot {@code slot} threw; the native caller got the constant refusal value. */
    void refusalHandlerThrew(int slot, Throwable thrown);

    /** Refusals or throws were counted that no record has reported yet: drain the gate's counts soon. */
    void countsPending();

    /** Fail-stop policy: called after a refusal has been audited; expected not to return. */
    void failStop(Violation violation);
}
