package io.tabguard.guard;

import java.lang.foreign.AddressLayout;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.PaddingLayout;
import java.lang.foreign.SequenceLayout;
import java.lang.foreign.StructLayout;
import java.lang.foreign.UnionLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * The payload of a table: a C struct whose {@linkplain Slot slots} are function pointers, whose
 * {@linkplain Data data members} are plain values (such as SQLite's {@code iVersion}) and whose
 * {@linkplain Aggregate aggregate members} are arrays or nested structs held by value (such as
 * {@code char name[16]}).
 *
 * <p><b>Versions.</b> A schema has a major version and a minor version. Members are laid out in
 * declaration order at their natural C alignment; each belongs to the minor that introduced it, and a
 * minor only appends. The payload of a table of minor {@code m} is exactly the struct made of the
 * members of minors {@code 0..m} — never "at least" that size.
 *
 * <p><b>Identity.</b> {@link #id()} is a 64-bit hash (the first 8 bytes of SHA-256, little-endian) of
 * {@link #canonicalDescription()}: the name, the major, and every minor-0 member's name, offset and C
 * signature. It is deliberately independent of the minor: a caller must be able to recognise a table of
 * a newer minor of its own schema (to apply the zero rule), which it could not if the id hashed members
 * it has never seen. What the id leaves out, {@link #layoutId(int)} binds: the hash of
 * {@link #layoutDescription(int)}: every member of minors {@code 0..m} (name, offset, minor, C signature)
 * and the payload size.
 * The stamper writes it into the header's {@code layout_id}, covered by checksum and signature, and a
 * caller of minor {@code c} accepts a table of minor {@code t <= c} only if it equals its own
 * {@code layoutId(t)} ({@link Violation#LAYOUT_MISMATCH}): two schemas that share an id because they
 * share name, major and minor-0 members cannot pass for each other at a later minor. (A table newer
 * than the caller carries a layout id the caller cannot compute; there the registry, which signed it,
 * compares the schema it built the table with up to the caller's minor.)
 *
 * <p><b>C signatures and target layouts.</b> A member's C signature names each scalar by kind and width
 * ({@code i32}, {@code f64}, {@code ptr}), a slot as {@code fn ret(args)}, an array as
 * {@code [n]element} and a struct or union with its (length-prefixed) name and members. A pointer with a
 * {@linkplain AddressLayout#withTargetLayout target layout} is {@code ptr>target}: the target is part
 * of the signature, so of {@link #id()} and {@link #layoutId(int)}, and two schemas that differ only in
 * a target layout (an {@code int *} against a {@code struct stat *}) have different ids. A plain
 * {@code ADDRESS} is {@code ptr}, exactly as before target layouts counted. jextract's {@code C_POINTER}
 * has a target layout (a byte sequence of {@code Long.MAX_VALUE} elements), so a schema made from jextract
 * layouts and one typed by hand with {@code ADDRESS} differ in id unless both use the same layouts.
 * ({@code withTargetLayout} is a restricted method: the code that makes such a layout needs native
 * access; reading one, as the schema does, does not.)
 *
 * <p><b>Structs by value.</b> A slot may pass and return structs by value (a {@link StructLayout} in its
 * descriptor, as FFM upcalls allow on x86-64 SysV): the signature spells the struct as an {@link Aggregate}
 * is spelled ({@code fn struct{1:x:i32,pad4,1:y:f64}(ptr)}), so slots of different structs differ in id.
 * The Java target receives each struct argument as a {@link MemorySegment} valid for the call and returns
 * a segment of at least the struct's size, which the trampoline copies before the call returns (a
 * segment too small or already freed is a throw: refused, never a crash). A refused call of a
 * struct-returning slot returns an all-zero struct unless a refusal value (a {@code byte[]} or
 * {@link MemorySegment} of exactly the struct's size, copied when given) says otherwise.
 *
 * <p><b>From an existing layout.</b> {@link #fromLayout} and {@link Builder#members} take a jextract-style
 * struct layout (named members, explicit padding) and the slots' {@link FunctionDescriptor}s:
 * each {@code ADDRESS} member named among the slots becomes a slot, every other member data (an array or
 * nested struct becomes an {@link Aggregate}); each member's offset must be the layout's offset exactly.
 *
 * <p>Instances are immutable and thread-safe. The builder refuses: names that are not C identifiers,
 * duplicate names, a minor that goes backwards, a slot whose descriptor passes or returns a union by
 * value, a default implementation whose type differs from the slot's descriptor, a refusal value of
 * the wrong type, a context argument that is not a pointer parameter, a pointed-to context offset that is
 * misaligned or above {@link #MAX_CONTEXT_OFFSET}, and an empty minor 0; a layout
 * import also refuses an unnamed member, a member whose offset the C rules do not reproduce, a slot that
 * is not an {@code ADDRESS} member, and a slot, option or minor boundary naming no member of the layout.
 */
public final class Schema {

    /** How a slot's context argument is bound; see {@link SlotOptions#contextArgument}. */
    public enum ContextBinding {
        /** No argument is checked. */
        NONE,
        /** The argument must equal the address of the table's payload (the struct native code was given). */
        PAYLOAD_ADDRESS,
        /** The argument must equal the context registered with the table when it was built. */
        REGISTERED_CONTEXT,
        /**
         * The argument must point to a struct whose pointer-sized member at {@link Slot#contextOffset()}
         * equals the address of the table's payload: {@code *(void **)(arg + k) == payload}, as SQLite's
         * {@code sqlite3_io_methods} receive a {@code sqlite3_file *} whose first member is the methods
         * table. Declared with {@link SlotOptions#contextArgumentPointsTo}. The word is read with a
         * fault-safe copy (one {@code process_vm_readv} system call per dispatch), never dereferenced
         * directly: a NULL, unmapped or misaligned argument is refused like any other mismatch.
         */
        POINTS_TO_PAYLOAD
    }

    /**
     * The largest {@link Slot#contextOffset()} a {@link ContextBinding#POINTS_TO_PAYLOAD} slot may name:
     * the read stays within a bounded distance of the argument.
     */
    public static final long MAX_CONTEXT_OFFSET = 4096 - Long.BYTES;

    /** A member of the payload struct. */
    public sealed interface Member permits Slot, Data, Aggregate {
        /**
         * The member's name, a C identifier unique within its schema.
         *
         * @return the name
         */
        String name();

        /**
         * Offset from the start of the payload.
         *
         * @return the offset in bytes
         */
        long offset();

        /**
         * The minor that introduced this member.
         *
         * @return the minor
         */
        int sinceMinor();

        /**
         * The member's layout: a value layout for slots and data, a sequence or group layout for aggregates.
         *
         * @return the layout
         */
        MemoryLayout layout();
    }

    /**
     * A function pointer. A required slot may never be null; an optional slot without a default
     * implementation is null when unbound. A call refused by the guard returns {@code refusalValue}
     * (absent for void slots, or when the table's builder must supply it; for a struct returned by value
     * always present: a read-only segment of the struct's size, all zero unless given).
     *
     * @param name                  the slot's name
     * @param offset                offset from the start of the payload
     * @param sinceMinor            the minor that introduced the slot
     * @param descriptor            the C function type of the pointer
     * @param required              whether the slot may never be null
     * @param defaultImplementation what an unbound optional slot dispatches to, if anything
     * @param refusalValue          what a refused call returns to native code, if the schema fixes it
     * @param contextArgument       the index of the context-bound argument, or -1
     * @param contextBinding        what that argument must equal
     * @param contextOffset         for {@link ContextBinding#POINTS_TO_PAYLOAD}, the offset in the pointed-to
     *                              struct of the word that must be the payload address; -1 for any other binding
     */
    public record Slot(String name, long offset, int sinceMinor, FunctionDescriptor descriptor, boolean required,
                       Optional<MethodHandle> defaultImplementation, Optional<Object> refusalValue,
                       int contextArgument, ContextBinding contextBinding, long contextOffset) implements Member {
        /**
         * Checks the components; the schema builder checks how they fit together.
         *
         * @throws NullPointerException     if a reference component is {@code null}
         * @throws IllegalArgumentException if {@code contextOffset} is not a multiple of 8 from 0 to
         *                                  {@link #MAX_CONTEXT_OFFSET} for {@link ContextBinding#POINTS_TO_PAYLOAD},
         *                                  or not -1 for any other binding
         */
        public Slot {
            Objects.requireNonNull(name);
            Objects.requireNonNull(descriptor);
            Objects.requireNonNull(defaultImplementation);
            Objects.requireNonNull(refusalValue);
            Objects.requireNonNull(contextBinding);
            if (contextBinding == ContextBinding.POINTS_TO_PAYLOAD
                    ? contextOffset < 0 || contextOffset > MAX_CONTEXT_OFFSET || contextOffset % Long.BYTES != 0
                    : contextOffset != -1) {
                throw new IllegalArgumentException("context offset " + contextOffset + " of slot " + name + " for " + contextBinding
                        + ": a multiple of 8 from 0 to " + MAX_CONTEXT_OFFSET + " for POINTS_TO_PAYLOAD, else -1");
            }
        }

        /**
         * A slot whose binding reads no pointed-to struct ({@code contextOffset} -1).
         *
         * @param name                  the slot's name
         * @param offset                offset from the start of the payload
         * @param sinceMinor            the minor that introduced the slot
         * @param descriptor            the C function type of the pointer
         * @param required              whether the slot may never be null
         * @param defaultImplementation what an unbound optional slot dispatches to, if anything
         * @param refusalValue          what a refused call returns to native code, if the schema fixes it
         * @param contextArgument       the index of the context-bound argument, or -1
         * @param contextBinding        what that argument must equal; not {@link ContextBinding#POINTS_TO_PAYLOAD}
         * @throws NullPointerException     if a reference component is {@code null}
         * @throws IllegalArgumentException if {@code contextBinding} is {@link ContextBinding#POINTS_TO_PAYLOAD}
         */
        public Slot(String name, long offset, int sinceMinor, FunctionDescriptor descriptor, boolean required,
                    Optional<MethodHandle> defaultImplementation, Optional<Object> refusalValue,
                    int contextArgument, ContextBinding contextBinding) {
            this(name, offset, sinceMinor, descriptor, required, defaultImplementation, refusalValue,
                    contextArgument, contextBinding, -1);
        }

        @Override
        public ValueLayout layout() {
            return ValueLayout.ADDRESS;
        }
    }

    /**
     * A plain value member, written by the table's builder and covered by checksum and signature; or,
     * if {@code consumerWritten}, a pointer-sized member the native consumer writes (such as
     * {@code sqlite3_vfs.pNext}): its 8 bytes count as zero in the checksum and signature, the per-call
     * compare leaves them out, and a table that has one lives in writable memory.
     *
     * @param name            the member's name
     * @param offset          offset from the start of the payload
     * @param sinceMinor      the minor that introduced the member
     * @param layout          its C scalar type, in native byte order at natural alignment
     * @param consumerWritten whether the native consumer, not the builder, writes it
     */
    public record Data(String name, long offset, int sinceMinor, ValueLayout layout, boolean consumerWritten) implements Member {
        /**
         * Checks the components.
         *
         * @throws NullPointerException     if {@code name} or {@code layout} is {@code null}
         * @throws IllegalArgumentException if a consumer-written member is not pointer-sized and pointer-aligned
         */
        public Data {
            Objects.requireNonNull(name);
            Objects.requireNonNull(layout);
            if (consumerWritten && (layout.byteSize() != Long.BYTES || offset % Long.BYTES != 0)) {
                throw new IllegalArgumentException("a consumer-written member is pointer-sized and pointer-aligned: " + name);
            }
        }

        /**
         * A data member the builder writes (not consumer-written).
         *
         * @param name       the member's name
         * @param offset     offset from the start of the payload
         * @param sinceMinor the minor that introduced the member
         * @param layout     its C scalar type
         */
        public Data(String name, long offset, int sinceMinor, ValueLayout layout) {
            this(name, offset, sinceMinor, layout, false);
        }
    }

    /**
     * An array or nested struct (or union) held by value, such as {@code char name[16]}: data written by
     * the table's builder (from a {@code byte[]} or {@code MemorySegment} of exactly its size) and covered
     * by checksum and signature. Its layout keeps its inner names but not its own (jextract names a nested
     * struct's layout after the member, which is the member's name already); it may contain pointers, which are data
     * like any other (never slots: a function pointer inside a nested struct is not minted or checked).
     *
     * @param name       the member's name
     * @param offset     offset from the start of the payload
     * @param sinceMinor the minor that introduced the member
     * @param layout     its sequence, struct or union layout
     */
    public record Aggregate(String name, long offset, int sinceMinor, MemoryLayout layout) implements Member {
        /**
         * Checks the components.
         *
         * @throws NullPointerException if {@code name} or {@code layout} is {@code null}
         */
        public Aggregate {
            Objects.requireNonNull(name);
            Objects.requireNonNull(layout);
        }
    }

    private static final Pattern C_IDENTIFIER = Pattern.compile("[A-Za-z_][A-Za-z0-9_]{0,127}");
    private static final Pattern SCHEMA_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_.:-]{0,127}");
    private static final int MAX_VERSION = 0xFFFF;

    private final String name;
    private final int major;
    private final int minor;
    private final List<Member> members;
    private final String canonicalDescription;
    private final long id;
    /** The minors at which members were added, ascending, and the layout id from each on. */
    private final int[] layoutMinors;
    private final long[] layoutIds;
    /** {@link #layoutDescription(int)} at {@link #minor}: what equality compares. */
    private final String ownLayout;
    /** The members and the slots from each of {@link #layoutMinors} on: every table of a minor shares one list. */
    private final List<List<Member>> membersFromLayoutMinor;
    private final List<List<Slot>> slotsFromLayoutMinor;
    /** Members by name: builders look each slot up by name, a million tables eight times each. */
    private final Map<String, Member> byName;

    private Schema(String name, int major, int minor, List<Member> members) {
        this.name = name;
        this.major = major;
        this.minor = minor;
        this.members = List.copyOf(members);
        this.canonicalDescription = describe(name, major, this.members);
        this.id = hash(canonicalDescription);
        this.layoutMinors = this.members.stream().mapToInt(Member::sinceMinor).distinct().sorted().toArray();
        this.membersFromLayoutMinor = memberLists();   // before the layout descriptions, which read members(minor)
        this.slotsFromLayoutMinor = slotLists();
        this.byName = byName(this.members);
        this.layoutIds = new long[layoutMinors.length];
        for (int i = 0; i < layoutMinors.length; i++) {
            layoutIds[i] = hash(layoutDescription(layoutMinors[i]));
        }
        this.ownLayout = layoutDescription(minor);
    }

    /** {@code from} at an older minor: its minor-0 members, so its id, and its layout ids up to {@code atMinor} are reused, not rehashed. */
    private Schema(Schema from, int atMinor) {
        this.name = from.name;
        this.major = from.major;
        this.minor = atMinor;
        this.members = from.members(atMinor);
        this.canonicalDescription = from.canonicalDescription;
        this.id = from.id;
        int known = 0;
        while (known < from.layoutMinors.length && from.layoutMinors[known] <= atMinor) {
            known++;
        }
        this.layoutMinors = java.util.Arrays.copyOf(from.layoutMinors, known);
        this.layoutIds = java.util.Arrays.copyOf(from.layoutIds, known);
        this.membersFromLayoutMinor = memberLists();
        this.slotsFromLayoutMinor = slotLists();
        this.byName = byName(this.members);
        this.ownLayout = layoutDescription(atMinor);
    }

    private List<List<Member>> memberLists() {
        List<List<Member>> lists = new java.util.ArrayList<>();
        for (int since : layoutMinors) {
            lists.add(members.stream().filter(m -> m.sinceMinor() <= since).toList());
        }
        return List.copyOf(lists);
    }

    private static Map<String, Member> byName(List<Member> members) {
        Map<String, Member> m = new java.util.HashMap<>();
        for (Member member : members) {
            m.putIfAbsent(member.name(), member);   // the first of a name, as the search it replaces found
        }
        return Map.copyOf(m);
    }

    /** The index into {@link #layoutMinors} of the last layout minor at or before {@code atMinor}, or -1. */
    private int layoutIndex(int atMinor) {
        for (int k = layoutMinors.length - 1; k >= 0; k--) {
            if (layoutMinors[k] <= atMinor) {
                return k;
            }
        }
        return -1;
    }

    private List<List<Slot>> slotLists() {
        List<List<Slot>> lists = new java.util.ArrayList<>();
        for (int since : layoutMinors) {
            lists.add(members.stream().filter(m -> m.sinceMinor() <= since)
                    .filter(Slot.class::isInstance).map(Slot.class::cast).toList());
        }
        return List.copyOf(lists);
    }

    /**
     * A schema whose members are those of a jextract-style {@code layout}, all of minor 0: each
     * {@code ADDRESS} member named in {@code slots} is a required slot of that descriptor, every other
     * member is data. For minors and slot options use {@link Builder#members(GroupLayout, Map, Consumer)}.
     *
     * @param name   the schema's name, as {@link #builder(String, int)}
     * @param major  the major version, 0 to 65535
     * @param layout a struct layout with named members at their C offsets
     * @param slots  the C function type of each member that is a slot, by member name
     * @return the schema, at minor 0
     * @throws IllegalArgumentException as {@link #builder(String, int)} and
     *                                  {@link Builder#members(GroupLayout, Map, Consumer)}
     * @throws IllegalStateException    as {@link Builder#build()}: the layout has no member, or the table
     *                                  would be too large
     */
    public static Schema fromLayout(String name, int major, GroupLayout layout, Map<String, FunctionDescriptor> slots) {
        return builder(name, major).members(layout, slots).build();
    }

    /**
     * Starts a schema. {@code name} is a C-like identifier (dots, colons and dashes allowed after the first character).
     *
     * @param name  the schema's name, 1 to 128 characters
     * @param major the major version, 0 to 65535
     * @return a builder at minor 0
     * @throws IllegalArgumentException if the name or the major is out of those bounds
     */
    public static Builder builder(String name, int major) {
        return new Builder(name, major);
    }

    /**
     * The schema's name, part of its {@link #id()}.
     *
     * @return the name
     */
    public String name() {
        return name;
    }

    /**
     * The major version: a table of another major is refused.
     *
     * @return the major
     */
    public int major() {
        return major;
    }

    /**
     * The newest minor this schema knows.
     *
     * @return the minor
     */
    public int minor() {
        return minor;
    }

    /**
     * The schema id stamped in every table's header: a hash of {@link #canonicalDescription()}.
     *
     * @return the 64-bit id
     */
    public long id() {
        return id;
    }

    /**
     * The text {@link #id()} hashes; documented so that other implementations can compute it.
     *
     * @return the canonical description
     */
    public String canonicalDescription() {
        return canonicalDescription;
    }

    /**
     * The hash of {@link #layoutDescription(int)}: what the header's {@code layout_id} of a table of
     * minor {@code atMinor} holds. Minors that add no member share the id of the one before.
     *
     * @param atMinor a minor from 0 to {@link #minor()}
     * @return the 64-bit layout id
     * @throws IllegalArgumentException if the schema has no such minor
     */
    public long layoutId(int atMinor) {
        checkMinor(atMinor);
        int i = layoutMinors.length - 1;
        while (layoutMinors[i] > atMinor) {
            i--;
        }
        return layoutIds[i];
    }

    /**
     * The text {@link #layoutId(int)} hashes: the name, the major, the payload size at {@code atMinor},
     * and every member of minors {@code 0..atMinor} with its offset, minor and C signature. It describes
     * the C struct only: whether a slot is required and how its context is bound are the builder's
     * policy, which a registry compares itself when it adopts a table for another schema object.
     *
     * @param atMinor a minor from 0 to {@link #minor()}
     * @return the layout description, one line per field
     * @throws IllegalArgumentException if the schema has no such minor
     */
    public String layoutDescription(int atMinor) {
        checkMinor(atMinor);
        StringBuilder sb = new StringBuilder("tabguard.layout.v1\n");
        sb.append("name=").append(name).append('\n');
        sb.append("major=").append(major).append('\n');
        sb.append("size=").append(payloadSize(atMinor)).append('\n');
        for (Member m : members(atMinor)) {
            sb.append("member=").append(m.name()).append('@').append(m.offset()).append(':').append(cSignature(m))
                    .append(consumerWrittenMark(m)).append(" since=").append(m.sinceMinor()).append('\n');
        }
        return sb.toString();
    }

    /**
     * Every member, in layout order.
     *
     * @return an immutable list
     */
    public List<Member> members() {
        return members;
    }

    /**
     * The members a table of the given minor has.
     *
     * @param atMinor a minor from 0 to {@link #minor()}
     * @return an immutable list, in layout order
     * @throws IllegalArgumentException if the schema has no such minor
     */
    public List<Member> members(int atMinor) {
        checkMinor(atMinor);
        int k = layoutIndex(atMinor);
        return k < 0 ? List.of() : membersFromLayoutMinor.get(k);
    }

    /**
     * Every slot (function pointer), in layout order.
     *
     * @return an immutable list
     */
    public List<Slot> slots() {
        return members.stream().filter(Slot.class::isInstance).map(Slot.class::cast).toList();
    }

    /**
     * The slots a table of the given minor has, in layout order: the same list on every call, so the
     * tables of a schema share it.
     *
     * @param atMinor a minor from 0 to {@link #minor()}
     * @return an immutable list
     * @throws IllegalArgumentException if the schema has no such minor
     */
    public List<Slot> slots(int atMinor) {
        checkMinor(atMinor);
        int k = layoutIndex(atMinor);
        return k < 0 ? List.of() : slotsFromLayoutMinor.get(k);
    }

    /**
     * The number of slots a table of the given minor has (its header's {@code slot_count}).
     *
     * @param atMinor a minor from 0 to {@link #minor()}
     * @return the slot count
     * @throws IllegalArgumentException if the schema has no such minor
     */
    public int slotCount(int atMinor) {
        return (int) members(atMinor).stream().filter(Slot.class::isInstance).count();
    }

    /**
     * The member of that name.
     *
     * @param memberName the member's name
     * @return the member, or empty if the schema has none of that name
     */
    public Optional<Member> member(String memberName) {
        return Optional.ofNullable(byName.get(memberName));
    }

    /**
     * The exact payload size of a table of the given minor: its members, padded to C's struct rules.
     *
     * @param atMinor a minor from 0 to {@link #minor()}
     * @return the size in bytes
     * @throws IllegalArgumentException if the schema has no such minor
     */
    public long payloadSize(int atMinor) {
        return structSize(members(atMinor));
    }

    /**
     * The payload as an FFM layout at the given minor, with explicit padding, ready for a C consumer.
     *
     * @param atMinor a minor from 0 to {@link #minor()}
     * @return a struct layout named after the schema
     * @throws IllegalArgumentException if the schema has no such minor
     */
    public GroupLayout layout(int atMinor) {
        List<MemoryLayout> elements = new ArrayList<>();
        long position = 0;
        for (Member m : members(atMinor)) {
            if (m.offset() > position) {
                elements.add(MemoryLayout.paddingLayout(m.offset() - position));
            }
            elements.add(m.layout().withName(m.name()));
            position = m.offset() + m.layout().byteSize();
        }
        long size = payloadSize(atMinor);
        if (size > position) {
            elements.add(MemoryLayout.paddingLayout(size - position));
        }
        return MemoryLayout.structLayout(elements.toArray(MemoryLayout[]::new)).withName(name);
    }

    /**
     * The payload layout at {@link #minor()}.
     *
     * @return a struct layout named after the schema
     */
    public GroupLayout layout() {
        return layout(minor);
    }

    /**
     * This schema as a caller of an older minor sees it: the same name, major and id, with only the
     * members of minors {@code 0..atMinor}.
     *
     * @param atMinor a minor from 0 to {@link #minor()}
     * @return that view (this schema when {@code atMinor} is its minor)
     * @throws IllegalArgumentException if the schema has no such minor
     */
    public Schema atMinor(int atMinor) {
        checkMinor(atMinor);
        return atMinor == minor ? this : new Schema(this, atMinor);
    }

    private void checkMinor(int atMinor) {
        if (atMinor < 0 || atMinor > minor) {
            throw new IllegalArgumentException("schema " + name + " has minors 0.." + minor + ", not " + atMinor);
        }
    }

    /**
     * Two schemas are equal when name, major, minor and every member's name, offset, minor and C signature
     * are: when their {@link #layoutDescription(int)} at their minor is. Slot options (required, default,
     * refusal value, context binding) are not compared.
     */
    @Override
    public boolean equals(Object o) {
        return o instanceof Schema s && s.minor == minor && s.ownLayout.equals(ownLayout);
    }

    @Override
    public int hashCode() {
        return ownLayout.hashCode();
    }

    @Override
    public String toString() {
        return "Schema[" + name + " " + major + "." + minor + ", id=" + Long.toHexString(id) + ", " + members.size() + " members]";
    }

    /** Part of the identity only where present, so the ids of schemas without such members do not change. */
    private static String consumerWrittenMark(Member m) {
        return m instanceof Data d && d.consumerWritten() ? " consumer-written" : "";
    }

    /**
     * Payload offsets of the consumer-written members at {@code atMinor}, ascending: the bytes
     * {@code [offset, offset + 8)} that checksum, signature and per-call compare leave out.
     *
     * @param atMinor a minor of this schema
     * @return the offsets, empty for a schema without such members
     * @throws IllegalArgumentException if the schema has no such minor
     */
    public long[] consumerWrittenOffsets(int atMinor) {
        return members(atMinor).stream().filter(m -> m instanceof Data d && d.consumerWritten())
                .mapToLong(Member::offset).toArray();
    }

    private static String describe(String name, int major, List<Member> members) {
        StringBuilder sb = new StringBuilder("tabguard.schema.v1\n");
        sb.append("name=").append(name).append('\n');
        sb.append("major=").append(major).append('\n');
        for (Member m : members) {
            if (m.sinceMinor() == 0) {
                sb.append("member=").append(m.name()).append('@').append(m.offset()).append(':')
                        .append(cSignature(m)).append(consumerWrittenMark(m)).append('\n');
            }
        }
        return sb.toString();
    }

    /**
     * The C signature of a member: a data type such as {@code i32}, {@code [16]i8} or
     * {@code struct{...}}, or {@code fn i32(ptr,i64)} for a slot; a pointer with a target layout is
     * {@code ptr>target}.
     *
     * @param member a member of any schema
     * @return its signature, as {@link #canonicalDescription()} spells it
     * @throws IllegalArgumentException if the member's type is not a C scalar, pointer, array or struct of them
     */
    public static String cSignature(Member member) {
        if (member instanceof Slot slot) {
            FunctionDescriptor d = slot.descriptor();
            StringBuilder sb = new StringBuilder("fn ");
            sb.append(d.returnLayout().map(Schema::slotType).orElse("void")).append('(');
            for (int i = 0; i < d.argumentLayouts().size(); i++) {
                sb.append(i == 0 ? "" : ",").append(slotType(d.argumentLayouts().get(i)));
            }
            return sb.append(')').toString();
        }
        return typeOf(member.layout());
    }

    /**
     * What a slot may pass or return: a scalar or pointer, or a struct by value (spelled as an
     * {@link Aggregate}'s struct is, so two slots passing different structs differ in signature and id;
     * scalar and pointer spellings are unchanged, so are the ids of schemas without struct-by-value slots).
     */
    private static String slotType(MemoryLayout layout) {
        if (layout instanceof StructLayout struct) {
            return typeOf(struct);
        }
        if (layout instanceof GroupLayout) {
            throw new IllegalArgumentException("a slot passes or returns structs by value, not the union " + layout);
        }
        return cType(layout);
    }

    /** A scalar or pointer (what a {@link Data} member may hold). */
    private static String cType(MemoryLayout layout) {
        if (layout instanceof AddressLayout a) {
            return a.targetLayout().map(target -> "ptr>" + typeOf(target)).orElse("ptr");
        }
        if (layout instanceof ValueLayout v) {
            Class<?> c = v.carrier();
            if (c == byte.class) return "i8";
            if (c == short.class) return "i16";
            if (c == char.class) return "u16";
            if (c == int.class) return "i32";
            if (c == long.class) return "i64";
            if (c == float.class) return "f32";
            if (c == double.class) return "f64";
            if (c == boolean.class) return "bool";
        }
        throw new IllegalArgumentException("only scalar and pointer values cross a Tabguard table, not " + layout);
    }

    /**
     * Any layout a member holds or a pointer targets. Names are length-prefixed ({@code 4:next}) so that no
     * name, whatever its characters, can make two layouts describe alike; padding is {@code pad<n>}, so
     * every offset follows from the text.
     */
    private static String typeOf(MemoryLayout layout) {
        return switch (layout) {
            case ValueLayout v -> cType(v);
            case PaddingLayout p -> "pad" + p.byteSize();
            case SequenceLayout q -> "[" + q.elementCount() + "]" + typeOf(q.elementLayout());
            case StructLayout g -> group("struct", g);
            case UnionLayout g -> group("union", g);
            default -> throw new IllegalArgumentException("no C type for " + layout);
        };
    }

    private static String group(String kind, GroupLayout g) {
        StringBuilder sb = new StringBuilder(kind);
        g.name().ifPresent(n -> sb.append(' ').append(n.length()).append(':').append(n));
        sb.append('{');
        for (int i = 0; i < g.memberLayouts().size(); i++) {
            MemoryLayout m = g.memberLayouts().get(i);
            sb.append(i == 0 ? "" : ",");
            if (!(m instanceof PaddingLayout)) {
                String n = m.name().orElse("");
                sb.append(n.length()).append(':').append(n).append(':');
            }
            sb.append(typeOf(m));
        }
        sb.append('}');
        if (g.byteAlignment() != naturalAlignment(g)) {
            sb.append("align").append(g.byteAlignment());
        }
        return sb.toString();
    }

    /** The alignment C gives a struct or union of these members: the largest member alignment. */
    private static long naturalAlignment(GroupLayout g) {
        return g.memberLayouts().stream().mapToLong(MemoryLayout::byteAlignment).max().orElse(1);
    }

    private static long hash(String description) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(description.getBytes(StandardCharsets.UTF_8));
            return MemorySegment.ofArray(digest).get(AbiV1.LE_LONG, 0);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required of every Java platform", e);
        }
    }

    private static long structSize(List<Member> members) {
        long end = 0;
        long alignment = 1;
        for (Member m : members) {
            end = m.offset() + m.layout().byteSize();
            alignment = Math.max(alignment, m.layout().byteAlignment());
        }
        return alignUp(end, alignment);
    }

    private static long alignUp(long value, long alignment) {
        return (value + alignment - 1) & -alignment;
    }

    /** Options of one slot, given to {@link Builder#slot(String, FunctionDescriptor, Consumer)}. Not thread-safe. */
    public static final class SlotOptions {
        private boolean required = true;
        private MethodHandle defaultImplementation;
        private Object refusalValue;
        private int contextArgument = -1;
        private ContextBinding contextBinding = ContextBinding.NONE;
        private long contextOffset = -1;

        private SlotOptions() {}

        /**
         * The slot may be null; unbound, it stays null.
         *
         * @return these options
         */
        public SlotOptions optional() {
            required = false;
            return this;
        }

        /**
         * The slot may be left unbound; it then dispatches to {@code implementation}.
         *
         * @param implementation a handle of exactly the slot's type (checked by {@link Builder#slot(String, FunctionDescriptor, Consumer)})
         * @return these options
         */
        public SlotOptions optional(MethodHandle implementation) {
            required = false;
            defaultImplementation = Objects.requireNonNull(implementation, "implementation");
            return this;
        }

        /**
         * What a refused call returns to the native caller: boxed as the return type's carrier; for a struct
         * returned by value, a {@code byte[]} or {@code MemorySegment} of its size, copied (see {@link Schema#checkedRefusal}).
         *
         * @param value the value ({@code MemorySegment.NULL} for a pointer; no other pointer is allowed)
         * @return these options
         */
        public SlotOptions refusal(Object value) {
            refusalValue = Objects.requireNonNull(value, "refusal value (use MemorySegment.NULL for pointers)");
            return this;
        }

        /**
         * Argument {@code index} (a pointer) must equal what {@code binding} names, or the call is refused.
         *
         * @param index   the 0-based index of a pointer parameter
         * @param binding what the argument must equal; for {@link ContextBinding#POINTS_TO_PAYLOAD} use
         *                {@link #contextArgumentPointsTo}, which also names the offset
         * @return these options
         * @throws IllegalArgumentException if {@code binding} is {@link ContextBinding#POINTS_TO_PAYLOAD}
         */
        public SlotOptions contextArgument(int index, ContextBinding binding) {
            if (binding == ContextBinding.POINTS_TO_PAYLOAD) {
                throw new IllegalArgumentException("POINTS_TO_PAYLOAD needs an offset: use contextArgumentPointsTo");
            }
            contextArgument = index;
            contextBinding = Objects.requireNonNull(binding);
            contextOffset = -1;
            return this;
        }

        /**
         * Argument {@code index} (a pointer) must point to a struct whose pointer-sized member at
         * {@code offset} is this table's payload address ({@link ContextBinding#POINTS_TO_PAYLOAD}), or the
         * call is refused with {@code CONTEXT_MISMATCH}: for SQLite's {@code sqlite3_io_methods},
         * {@code contextArgumentPointsTo(0, 0)} checks {@code pFile->pMethods}. The word is read with a
         * fault-safe copy, costing one system call per dispatch; a NULL, unmapped or misaligned argument is
         * refused, never dereferenced. Like every binding, it is the builder's policy and not part of the
         * schema id or layout id.
         *
         * @param index  the 0-based index of a pointer parameter
         * @param offset the member's offset in the pointed-to struct: a multiple of 8 from 0 to
         *               {@link #MAX_CONTEXT_OFFSET}
         * @return these options
         * @throws IllegalArgumentException if {@code offset} is negative, misaligned or above {@link #MAX_CONTEXT_OFFSET}
         */
        public SlotOptions contextArgumentPointsTo(int index, long offset) {
            if (offset < 0 || offset > MAX_CONTEXT_OFFSET || offset % Long.BYTES != 0) {
                throw new IllegalArgumentException("context offset " + offset + ": a multiple of 8 from 0 to " + MAX_CONTEXT_OFFSET);
            }
            contextArgument = index;
            contextBinding = ContextBinding.POINTS_TO_PAYLOAD;
            contextOffset = offset;
            return this;
        }
    }

    /**
     * How {@link Builder#members(GroupLayout, Map, Consumer)} reads a layout: where minors begin, and
     * the options of individual slots. Not thread-safe.
     */
    public static final class LayoutImport {
        private final Map<String, Integer> boundaries = new HashMap<>();
        private final Map<String, Consumer<SlotOptions>> slotOptions = new LinkedHashMap<>();

        private LayoutImport() {}

        /**
         * {@code firstMember} and the members after it belong to {@code newMinor} (until the next boundary).
         *
         * @param newMinor    the minor of the members from {@code firstMember} on, up to 65535 and not below
         *                    the minor before it (checked when {@link Builder#members(GroupLayout, Map, Consumer)}
         *                    reaches the member)
         * @param firstMember the name of the layout member the minor begins at
         * @return this import
         * @throws IllegalArgumentException if a boundary was already set at {@code firstMember}
         */
        public LayoutImport minor(int newMinor, String firstMember) {
            Objects.requireNonNull(firstMember, "firstMember");
            if (boundaries.putIfAbsent(firstMember, newMinor) != null) {
                throw new IllegalArgumentException("two minor boundaries at member " + firstMember);
            }
            return this;
        }

        /**
         * Options of the slot {@code slotName}: optional, default, refusal value, context binding.
         *
         * @param slotName  the name of a member among the import's slots
         * @param configure sets the slot's options, as for {@link Builder#slot(String, FunctionDescriptor, Consumer)}
         * @return this import
         * @throws IllegalArgumentException if options for {@code slotName} were already given
         */
        public LayoutImport slot(String slotName, Consumer<SlotOptions> configure) {
            Objects.requireNonNull(slotName, "slotName");
            Objects.requireNonNull(configure, "configure");
            if (slotOptions.putIfAbsent(slotName, configure) != null) {
                throw new IllegalArgumentException("options for slot " + slotName + " given twice");
            }
            return this;
        }
    }

    /** Builds a {@link Schema}. Not thread-safe; {@link #build()} may be called once per builder state. */
    public static final class Builder {
        private final String name;
        private final int major;
        private int currentMinor;
        private long position;
        private final List<Member> members = new ArrayList<>();
        private final Set<String> names = new HashSet<>();

        private Builder(String name, int major) {
            Objects.requireNonNull(name, "name");
            if (!SCHEMA_NAME.matcher(name).matches()) {
                throw new IllegalArgumentException("schema name must be 1-128 characters of [A-Za-z0-9_.:-] starting with a letter or _: " + name);
            }
            if (major < 0 || major > MAX_VERSION) {
                throw new IllegalArgumentException("major must be 0.." + MAX_VERSION + ": " + major);
            }
            this.name = name;
            this.major = major;
        }

        /**
         * Members declared after this call belong to {@code newMinor}; minors never go backwards.
         *
         * @param newMinor the minor, from the current one to 65535
         * @return this builder
         * @throws IllegalArgumentException if the minor goes backwards or is out of range
         */
        public Builder minor(int newMinor) {
            if (newMinor < currentMinor || newMinor > MAX_VERSION) {
                throw new IllegalArgumentException("minor must be " + currentMinor + ".." + MAX_VERSION + ": " + newMinor);
            }
            currentMinor = newMinor;
            return this;
        }

        /**
         * A required slot with no refusal value of its own (the table's builder must give one if it returns a value).
         *
         * @param memberName the slot's name, a C identifier
         * @param descriptor the C function type: scalars, pointers and structs by value
         * @return this builder
         * @throws IllegalArgumentException as {@link #slot(String, FunctionDescriptor, Consumer)}
         */
        public Builder slot(String memberName, FunctionDescriptor descriptor) {
            return slot(memberName, descriptor, o -> {});
        }

        /**
         * A slot configured by {@code configure} (optional, default, refusal value, context argument).
         *
         * @param memberName the slot's name, a C identifier
         * @param descriptor the C function type: scalars, pointers and structs by value
         * @param configure  sets the slot's options
         * @return this builder
         * @throws IllegalArgumentException if the name is not a C identifier or is taken, the descriptor
         *                                  passes or returns a union by value, the default's type or the
         *                                  refusal value's type does not match, or the context argument is
         *                                  not a pointer parameter
         */
        public Builder slot(String memberName, FunctionDescriptor descriptor, Consumer<SlotOptions> configure) {
            Objects.requireNonNull(descriptor, "descriptor");
            SlotOptions o = new SlotOptions();
            configure.accept(o);
            descriptor.argumentLayouts().forEach(Schema::slotType);
            descriptor.returnLayout().ifPresent(Schema::slotType);
            if (o.defaultImplementation != null && !o.defaultImplementation.type().equals(descriptor.toMethodType())) {
                throw new IllegalArgumentException("default of slot " + memberName + " has type " + o.defaultImplementation.type()
                        + ", the slot needs " + descriptor.toMethodType());
            }
            Object refusal = o.refusalValue != null ? checkedRefusal(memberName, descriptor, o.refusalValue)
                    : descriptor.returnLayout().filter(GroupLayout.class::isInstance)
                            .map(struct -> (Object) MemorySegment.ofArray(new byte[(int) struct.byteSize()]).asReadOnly())
                            .orElse(null);
            if (o.contextBinding != ContextBinding.NONE) {
                if (o.contextArgument < 0 || o.contextArgument >= descriptor.argumentLayouts().size()
                        || !(descriptor.argumentLayouts().get(o.contextArgument) instanceof AddressLayout)) {
                    throw new IllegalArgumentException("context argument " + o.contextArgument + " of slot " + memberName
                            + " is not a pointer parameter of " + descriptor);
                }
            }
            long offset = place(memberName, ValueLayout.ADDRESS);
            members.add(new Slot(memberName, offset, currentMinor, descriptor, o.required,
                    Optional.ofNullable(o.defaultImplementation), Optional.ofNullable(refusal),
                    o.contextBinding == ContextBinding.NONE ? -1 : o.contextArgument, o.contextBinding, o.contextOffset));
            return this;
        }

        /**
         * A plain data member, such as a version field the C library reads.
         *
         * @param memberName the member's name, a C identifier
         * @param layout     a scalar or pointer layout; it is placed at its natural C alignment in native order
         * @return this builder
         * @throws IllegalArgumentException if the name is not a C identifier or is taken
         */
        public Builder data(String memberName, ValueLayout layout) {
            Objects.requireNonNull(layout, "layout");
            cType(layout);
            // The C type decides the place, not the Java spelling: an unaligned or foreign-order layout
            // (such as AbiV1.LE_INT) is the same C scalar, at its natural alignment, in native order.
            ValueLayout native_ = layout.withOrder(ByteOrder.nativeOrder()).withByteAlignment(layout.byteSize());
            long offset = place(memberName, native_);
            members.add(new Data(memberName, offset, currentMinor, native_));
            return this;
        }

        /**
         * An {@link Aggregate} data member: an array ({@code MemoryLayout.sequenceLayout(16, JAVA_BYTE)}
         * for {@code char name[16]}) or a nested struct or union, placed at the layout's own alignment. A
         * {@link ValueLayout} goes to {@link #data(String, ValueLayout)}.
         *
         * @param memberName the member's name, a C identifier
         * @param layout     a sequence, struct or union layout; its own name is dropped, its inner names kept
         * @return this builder
         * @throws IllegalArgumentException if the name is not a C identifier or is taken, or for an empty layout, a padding layout, or a scalar inside it that
         *                                  is not a C scalar or pointer
         */
        public Builder data(String memberName, MemoryLayout layout) {
            Objects.requireNonNull(layout, "layout");
            if (layout instanceof ValueLayout v) {
                return data(memberName, v);
            }
            if (layout instanceof PaddingLayout || layout.byteSize() == 0) {
                throw new IllegalArgumentException("member " + memberName + " must be an array or struct of some size, not " + layout);
            }
            typeOf(layout);
            MemoryLayout unnamed = layout.withoutName();
            long offset = place(memberName, unnamed);
            members.add(new Aggregate(memberName, offset, currentMinor, unnamed));
            return this;
        }

        /**
         * {@link #members(GroupLayout, Map, Consumer)} with every member of the current minor and default slot options.
         *
         * @param layout a jextract-style struct layout
         * @param slots  the C function type of each member that is a slot, by member name
         * @return this builder
         * @throws IllegalArgumentException as {@link #members(GroupLayout, Map, Consumer)}
         * @throws IllegalStateException    if members were declared before
         */
        public Builder members(GroupLayout layout, Map<String, FunctionDescriptor> slots) {
            return members(layout, slots, o -> {});
        }

        /**
         * Declares every member of a jextract-style struct {@code layout} (jextract's {@code layout()}
         * returns a {@link GroupLayout}; it must be a {@link StructLayout}), in its order: padding layouts
         * are skipped, each {@code ADDRESS} member named in {@code slots} becomes a slot of that descriptor
         * (required unless {@link LayoutImport#slot configured} otherwise), any other scalar or pointer a
         * {@link Data} member and any array or nested struct an {@link Aggregate}. Members belong to the
         * current minor until a {@link LayoutImport#minor} boundary. Must be the first members declared.
         *
         * @param layout    a jextract-style struct layout: named members at their C offsets, explicit padding
         * @param slots     the C function type of each member that is a slot, by member name
         * @param configure sets minor boundaries and slot options
         * @return this builder
         * @throws IllegalArgumentException naming the member: a member the C rules place elsewhere than the
         *         layout does (a packed struct), an unnamed member, a slot that is not an {@code ADDRESS}
         *         member, a slot, option or boundary naming no member of the layout, a boundary whose minor
         *         goes backwards, a struct whose size is not the C size of its members, or a union
         * @throws IllegalStateException if members were declared before
         */
        public Builder members(GroupLayout layout, Map<String, FunctionDescriptor> slots, Consumer<LayoutImport> configure) {
            Objects.requireNonNull(layout, "layout");
            Objects.requireNonNull(slots, "slots");
            if (!(layout instanceof StructLayout)) {
                throw new IllegalArgumentException("a payload is a struct, not the union " + layout);
            }
            if (!members.isEmpty()) {
                throw new IllegalStateException("members(layout, ...) must declare the first members of schema " + name);
            }
            LayoutImport options = new LayoutImport();
            configure.accept(options);
            Set<String> layoutNames = new HashSet<>();
            layout.memberLayouts().forEach(m -> m.name().ifPresent(layoutNames::add));
            for (String n : slots.keySet()) {
                requireIn(layoutNames, n, "slot");
            }
            for (String n : options.slotOptions.keySet()) {
                requireIn(layoutNames, n, "slot option");
                if (!slots.containsKey(n)) {
                    throw new IllegalArgumentException("slot options for " + n + ", which is not among the slots of layout " + layout);
                }
            }
            options.boundaries.keySet().forEach(n -> requireIn(layoutNames, n, "minor boundary"));
            long layoutOffset = 0;
            for (MemoryLayout m : layout.memberLayouts()) {
                long here = layoutOffset;
                layoutOffset += m.byteSize();
                if (m instanceof PaddingLayout) {
                    continue;
                }
                String memberName = m.name().orElseThrow(() -> new IllegalArgumentException(
                        "the member at offset " + here + " of layout " + layout + " has no name"));
                Integer boundary = options.boundaries.get(memberName);
                if (boundary != null) {
                    minor(boundary);
                }
                FunctionDescriptor descriptor = slots.get(memberName);
                if (descriptor != null) {
                    if (!(m instanceof AddressLayout)) {
                        throw new IllegalArgumentException("slot " + memberName + " is a " + m + " in the layout, not a pointer");
                    }
                    slot(memberName, descriptor, options.slotOptions.getOrDefault(memberName, o -> {}));
                } else {
                    data(memberName, m);
                }
                long placed = members.getLast().offset();
                if (placed != here) {
                    throw new IllegalArgumentException("member " + memberName + " is at offset " + here + " in the layout, but C's rules place it at "
                            + placed + " (a packed or hand-padded struct cannot be a Tabguard payload)");
                }
            }
            long size = structSize(members);
            if (size != layout.byteSize()) {
                throw new IllegalArgumentException("layout " + layout + " is " + layout.byteSize() + " bytes, C's rules make its members "
                        + size + " (tail padding differs)");
            }
            return this;
        }

        private static void requireIn(Set<String> layoutNames, String memberName, String what) {
            if (!layoutNames.contains(memberName)) {
                throw new IllegalArgumentException(what + " " + memberName + " names no member of the layout");
            }
        }

        /**
         * A pointer-sized data member that the native consumer writes into the table it was given (as
         * {@code sqlite3_vfs_register} writes {@code pVfs->pNext}). The builder cannot set it (it starts
         * NULL); checksum, signature and the per-call compare leave its 8 bytes out; a table of a schema
         * with one is built in writable memory. A slot can never be declared so.
         *
         * @param memberName the member's name, a C identifier
         * @return this builder
         * @throws IllegalArgumentException if the name is not a C identifier or is taken
         */
        public Builder consumerWritten(String memberName) {
            long offset = place(memberName, ValueLayout.ADDRESS);
            members.add(new Data(memberName, offset, currentMinor, ValueLayout.ADDRESS, true));
            return this;
        }

        /**
         * The schema as declared so far.
         *
         * @return an immutable schema at the current minor
         * @throws IllegalStateException if minor 0 has no member, or the table would exceed
         *                               {@link AbiV1#MAX_TABLE_SIZE} (64 KiB, header included)
         */
        public Schema build() {
            if (members.stream().noneMatch(m -> m.sinceMinor() == 0)) {
                throw new IllegalStateException("schema " + name + " has no minor-0 member");
            }
            Schema schema = new Schema(name, major, currentMinor, members);
            if (schema.payloadSize(currentMinor) + AbiV1.HEADER_SIZE > AbiV1.MAX_TABLE_SIZE) {
                throw new IllegalStateException("schema " + name + " exceeds the maximum table size " + AbiV1.MAX_TABLE_SIZE);
            }
            return schema;
        }

        private long place(String memberName, MemoryLayout layout) {
            Objects.requireNonNull(memberName, "member name");
            if (!C_IDENTIFIER.matcher(memberName).matches()) {
                throw new IllegalArgumentException("member name must be a C identifier: " + memberName);
            }
            if (!names.add(memberName)) {
                throw new IllegalArgumentException("member " + memberName + " is declared twice in schema " + name);
            }
            long offset = alignUp(position, layout.byteAlignment());
            position = offset + layout.byteSize();
            return offset;
        }
    }

    /**
     * Checks a refusal value against a slot's return type and gives what a refused call returns: the value
     * itself for a scalar or pointer (boxed as the carrier; a pointer only {@code MemorySegment.NULL}); for
     * a struct returned by value, a {@code byte[]} or {@link MemorySegment} of exactly the struct's size,
     * returned as a read-only heap copy taken now (later writes to {@code value} change nothing).
     *
     * @param memberName the slot's name, for the message
     * @param descriptor the slot's C function type
     * @param value      the refusal value
     * @return the value a refused call returns
     * @throws IllegalArgumentException if the slot returns void, or the value's type or size does not fit
     */
    public static Object checkedRefusal(String memberName, FunctionDescriptor descriptor, Object value) {
        Objects.requireNonNull(value, "refusal value (use MemorySegment.NULL for pointers)");
        MemoryLayout ret = descriptor.returnLayout().orElseThrow(() ->
                new IllegalArgumentException("slot " + memberName + " returns void: it has no refusal value"));
        if (ret instanceof GroupLayout struct) {
            MemorySegment bytes = switch (value) {
                case byte[] b -> MemorySegment.ofArray(b);
                case MemorySegment m -> m;
                default -> throw new IllegalArgumentException("refusal value of struct slot " + memberName
                        + " must be a byte[] or MemorySegment of " + struct.byteSize() + " bytes, not " + value.getClass().getSimpleName());
            };
            if (bytes.byteSize() != struct.byteSize()) {
                throw new IllegalArgumentException("refusal value of struct slot " + memberName + " is " + bytes.byteSize()
                        + " bytes, the struct " + struct.byteSize());
            }
            return MemorySegment.ofArray(bytes.toArray(ValueLayout.JAVA_BYTE)).asReadOnly();
        }
        Class<?> carrier = ((ValueLayout) ret).carrier();
        Class<?> boxed = carrier.isPrimitive() ? java.lang.invoke.MethodType.methodType(carrier).wrap().returnType() : carrier;
        if (!boxed.isInstance(value)) {
            throw new IllegalArgumentException("refusal value of slot " + memberName + " must be a " + boxed.getSimpleName()
                    + ", not " + value.getClass().getSimpleName());
        }
        if (value instanceof MemorySegment pointer && pointer.address() != 0) {
            throw new IllegalArgumentException("a refused call may only return MemorySegment.NULL from pointer slot " + memberName);
        }
        return value;
    }
}
