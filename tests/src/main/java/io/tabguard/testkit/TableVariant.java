package io.tabguard.testkit;

import io.tabguard.registry.CallbackTable;

import java.util.Arrays;
import java.util.Objects;

/**
 * One malformed twin of a valid table: its bytes (header and payload, as {@link CallbackTable#verifiedBytes()}
 * gives them), the attack class, and a name saying exactly what was done. Immutable and thread-safe; {@link #bytes()}
 * returns a copy.
 *
 * @param name   what was changed, e.g. {@code "serial + 1, checksum rewritten"}; the same edit of another table
 *               of the schema has the same name
 * @param attack the class of malformation
 */
public record TableVariant(String name, Attack attack, byte[] bytes) {
    public TableVariant {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(attack, "attack");
        bytes = bytes.clone();
    }

    @Override
    public byte[] bytes() {
        return bytes.clone();
    }

    public int length() {
        return bytes.length;
    }

    /** True if the variant is as long as {@code table}, so {@link #writeTo} can plant it in the live table. */
    public boolean fitsLiveTable(CallbackTable table) {
        return bytes.length == NativeTamper.tableSize(table);
    }

    /**
     * Overwrites {@code table}'s live native memory with this variant, as a native attacker would. Variants
     * of another length (truncated, extended, other minors) do not fit: check {@link #fitsLiveTable} first.
     * The table must have been built writable (a read-only table's write faults and stops the process).
     */
    public void writeTo(CallbackTable table) {
        NativeTamper.writeBytes(table, bytes);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TableVariant v && v.name.equals(name) && v.attack == attack && Arrays.equals(v.bytes, bytes);
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, attack, Arrays.hashCode(bytes));
    }

    @Override
    public String toString() {
        return attack + ": " + name;
    }
}
