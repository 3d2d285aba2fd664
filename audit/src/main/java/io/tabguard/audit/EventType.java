package io.tabguard.audit;

/**
 * The kinds of security event Tabguard records. Each constant has its own JFR event,
 * {@code tabguard.<CamelCaseName>} (for example {@code tabguard.TableRefused}).
 *
 * <p>The names are stable: they appear in audit logs and JFR recordings, so constants may be added but
 * never renamed or removed. Immutable and thread-safe, as every enum.
 */
public enum EventType {
    /** A registry was opened. */
    REGISTRY_OPENED("RegistryOpened", "Registry Opened"),
    /** A registry was closed. */
    REGISTRY_CLOSED("RegistryClosed", "Registry Closed"),
    /** A table was built and stamped by the registry. */
    TABLE_BUILT("TableBuilt", "Table Built"),
    /** A table passed verification and was accepted. */
    TABLE_ACCEPTED("TableAccepted", "Table Accepted"),
    /** A table was refused; the event names the violation. */
    TABLE_REFUSED("TableRefused", "Table Refused"),
    /** A table was quarantined after a failed check. */
    TABLE_QUARANTINED("TableQuarantined", "Table Quarantined"),
    /** A table was revoked. */
    TABLE_REVOKED("TableRevoked", "Table Revoked"),
    /** A table was closed. */
    TABLE_CLOSED("TableClosed", "Table Closed"),
    /** A signing key was rotated. */
    KEY_ROTATED("KeyRotated", "Key Rotated"),
    /** A callback threw an exception that was contained. */
    CALLBACK_THREW("CallbackThrew", "Callback Threw"),
    /** A closed or revoked table's thunks and slot records were given back ({@code Registry.release}). */
    TABLE_RELEASED("TableReleased", "Table Released");

    private final String jfrSimpleName;
    private final String label;

    EventType(String jfrSimpleName, String label) {
        this.jfrSimpleName = jfrSimpleName;
        this.label = label;
    }

    /**
     * The JFR event name for this type, for example {@code tabguard.TableRefused}.
     *
     * @return the event name
     */
    public String jfrEventName() {
        return "tabguard." + jfrSimpleName;
    }

    /**
     * A short human-readable label, for example {@code Table Refused}.
     *
     * @return the label
     */
    public String label() {
        return label;
    }
}
