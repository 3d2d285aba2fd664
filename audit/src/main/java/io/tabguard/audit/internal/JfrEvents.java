package io.tabguard.audit.internal;

import io.tabguard.audit.SecurityEvent;
import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;

/**
 * The JFR events, one per {@link io.tabguard.audit.EventType}, all in category "Tabguard" and named
 * {@code tabguard.<Type>}. {@link #emit} fills and commits an event only when
 * {@link Event#shouldCommit()} says a recording wants it, so they cost next to nothing otherwise.
 * Thread-safe (each call uses its own event object).
 */
public final class JfrEvents {
    private JfrEvents() {
    }

    /** Emits the JFR event for {@code e}, if a recording has it enabled. Never throws. */
    public static void emit(SecurityEvent e) {
        try {
            Base ev = switch (e.type()) {
                case REGISTRY_OPENED -> new RegistryOpened();
                case REGISTRY_CLOSED -> new RegistryClosed();
                case TABLE_BUILT -> new TableBuilt();
                case TABLE_ACCEPTED -> new TableAccepted();
                case TABLE_REFUSED -> new TableRefused();
                case TABLE_QUARANTINED -> new TableQuarantined();
                case TABLE_REVOKED -> new TableRevoked();
                case TABLE_CLOSED -> new TableClosed();
                case KEY_ROTATED -> new KeyRotated();
                case CALLBACK_THREW -> new CallbackThrew();
                case TABLE_RELEASED -> new TableReleased();
            };
            if (ev.shouldCommit()) {
                ev.serial = e.tableSerial();
                ev.schema = e.schemaName();
                ev.schemaId = e.schemaId();
                ev.violation = e.violation();
                ev.offset = e.offset();
                ev.detail = e.detail();
                ev.count = e.count();
                ev.commit();
            }
        } catch (RuntimeException ignored) {
            // JFR must never break the caller; the audit log still has the event.
        }
    }

    /** The fields every Tabguard JFR event has. */
    @Category({"Tabguard"})
    abstract static class Base extends Event {
        @Label("Table Serial")
        @Description("The table's serial number, 0 when the event concerns no table")
        long serial;
        @Label("Schema")
        String schema;
        @Label("Schema Id")
        long schemaId;
        @Label("Violation")
        @Description("The guard violation, when a check failed")
        String violation;
        @Label("Offset")
        @Description("Byte offset of the violation, -1 when none")
        long offset;
        @Label("Detail")
        String detail;
        @Label("Count")
        @Description("Occurrences this event stands for: more than 1 for a summary of counted refusals")
        long count;
    }

    @Name("tabguard.RegistryOpened") @Label("Registry Opened") @Category({"Tabguard"})
    static final class RegistryOpened extends Base {
    }

    @Name("tabguard.RegistryClosed") @Label("Registry Closed") @Category({"Tabguard"})
    static final class RegistryClosed extends Base {
    }

    @Name("tabguard.TableBuilt") @Label("Table Built") @Category({"Tabguard"})
    static final class TableBuilt extends Base {
    }

    @Name("tabguard.TableAccepted") @Label("Table Accepted") @Category({"Tabguard"})
    static final class TableAccepted extends Base {
    }

    @Name("tabguard.TableRefused") @Label("Table Refused") @Category({"Tabguard"})
    static final class TableRefused extends Base {
    }

    @Name("tabguard.TableQuarantined") @Label("Table Quarantined") @Category({"Tabguard"})
    static final class TableQuarantined extends Base {
    }

    @Name("tabguard.TableRevoked") @Label("Table Revoked") @Category({"Tabguard"})
    static final class TableRevoked extends Base {
    }

    @Name("tabguard.TableClosed") @Label("Table Closed") @Category({"Tabguard"})
    static final class TableClosed extends Base {
    }

    @Name("tabguard.KeyRotated") @Label("Key Rotated") @Category({"Tabguard"})
    static final class KeyRotated extends Base {
    }

    @Name("tabguard.CallbackThrew") @Label("Callback Threw") @Category({"Tabguard"})
    static final class CallbackThrew extends Base {
    }

    @Name("tabguard.TableReleased") @Label("Table Released") @Category({"Tabguard"})
    static final class TableReleased extends Base {
    }
}
