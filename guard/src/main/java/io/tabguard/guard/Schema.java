package io.tabguard.guard;

import java.lang.foreign.AddressLayout;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * The payload of a table: a C struct whose {@linkplain Slot slots} are function pointers and whose
 * {@linkplain Data data members} are plain values (such as SQLite's {@code iVersion}).
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
 * it has never seen. Members added by later minors are bound by the size rule and the table's signature.
 *
 * <p>Instances are immutable and thread-safe. The builder refuses: names that are not C identifiers,
 * duplicate names, a minor that goes backwards, a slot whose descriptor passes or returns a struct by
 * value, a default implementation whose type differs from the slot's descriptor, a refusal value of
 * the wrong type, a context argument that is not a pointer parameter, and an empty minor 0.
 */
public final class Schema {

    /** How a slot's context argument is bound; see {@link SlotOptions#contextArgument}. */
    public enum ContextBinding {
        /** No argument is checked. */
        NONE,
        /** The argument must equal the address of the table's payload (the struct native code was given). */
        PAYLOAD_ADDRESS,
        /** The argument must equal the context registered with the table when it was built. */
        REGISTERED_CONTEXT
    }

    /** A member of the payload struct. */
    public sealed interface Member permits Slot, Data {
        String name();

        /** Offset from the start of the payload. */
        long offset();

        /** The minor that introduced this member. */
        int sinceMinor();

        ValueLayout layout();
    }

    /**
     * A function pointer. A required slot may never be null; an optional slot without a default
     * implementation is null when unbound. A call refused by the guard returns {@code refusalValue}
     * (absent for void slots, or when the table's builder must supply it).
     */
    public record Slot(String name, long offset, int sinceMinor, FunctionDescriptor descriptor, boolean required,
                       Optional<MethodHandle> defaultImplementation, Optional<Object> refusalValue,
                       int contextArgument, ContextBinding contextBinding) implements Member {
        public Slot {
            Objects.requireNonNull(name);
            Objects.requireNonNull(descriptor);
            Objects.requireNonNull(defaultImplementation);
            Objects.requireNonNull(refusalValue);
            Objects.requireNonNull(contextBinding);
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
     */
    public record Data(String name, long offset, int sinceMinor, ValueLayout layout, boolean consumerWritten) implements Member {
        public Data {
            Objects.requireNonNull(name);
            Objects.requireNonNull(layout);
            if (consumerWritten && (layout.byteSize() != Long.BYTES || offset % Long.BYTES != 0)) {
                throw new IllegalArgumentException("a consumer-written member is pointer-sized and pointer-aligned: " + name);
            }
        }

        public Data(String name, long offset, int sinceMinor, ValueLayout layout) {
            this(name, offset, sinceMinor, layout, false);
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

    private Schema(String name, int major, int minor, List<Member> members) {
        this.name = name;
        this.major = major;
        this.minor = minor;
        this.members = List.copyOf(members);
        this.canonicalDescription = describe(name, major, this.members);
        this.id = hash(canonicalDescription);
    }

    /** Starts a schema. {@code name} is a C-like identifier (dots, colons and dashes allowed after the first character). */
    public static Builder builder(String name, int major) {
        return new Builder(name, major);
    }

    public String name() {
        return name;
    }

    public int major() {
        return major;
    }

    /** The newest minor this schema knows. */
    public int minor() {
        return minor;
    }

    public long id() {
        return id;
    }

    /** The text {@link #id()} hashes; documented so that other implementations can compute it. */
    public String canonicalDescription() {
        return canonicalDescription;
    }

    /** Every member, in layout order. */
    public List<Member> members() {
        return members;
    }

    /** The members a table of the given minor has. */
    public List<Member> members(int atMinor) {
        checkMinor(atMinor);
        return members.stream().filter(m -> m.sinceMinor() <= atMinor).toList();
    }

    public List<Slot> slots() {
        return members.stream().filter(Slot.class::isInstance).map(Slot.class::cast).toList();
    }

    public int slotCount(int atMinor) {
        return (int) members(atMinor).stream().filter(Slot.class::isInstance).count();
    }

    public Optional<Member> member(String memberName) {
        return members.stream().filter(m -> m.name().equals(memberName)).findFirst();
    }

    /** The exact payload size of a table of the given minor: its members, padded to C's struct rules. */
    public long payloadSize(int atMinor) {
        return structSize(members(atMinor));
    }

    /** The payload as an FFM layout at the given minor, with explicit padding, ready for a C consumer. */
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

    /** The payload layout at {@link #minor()}. */
    public GroupLayout layout() {
        return layout(minor);
    }

    /**
     * This schema as a caller of an older minor sees it: the same name, major and id, with only the
     * members of minors {@code 0..atMinor}.
     */
    public Schema atMinor(int atMinor) {
        checkMinor(atMinor);
        return atMinor == minor ? this : new Schema(name, major, atMinor, members(atMinor));
    }

    private void checkMinor(int atMinor) {
        if (atMinor < 0 || atMinor > minor) {
            throw new IllegalArgumentException("schema " + name + " has minors 0.." + minor + ", not " + atMinor);
        }
    }

    /** Two schemas are equal when name, major, minor and every member's name, offset, minor and C signature are. */
    @Override
    public boolean equals(Object o) {
        return o instanceof Schema s && s.minor == minor && s.fullDescription().equals(fullDescription());
    }

    @Override
    public int hashCode() {
        return fullDescription().hashCode();
    }

    @Override
    public String toString() {
        return "Schema[" + name + " " + major + "." + minor + ", id=" + Long.toHexString(id) + ", " + members.size() + " members]";
    }

    private String fullDescription() {
        StringBuilder sb = new StringBuilder(canonicalDescription);
        for (Member m : members) {
            sb.append("since=").append(m.sinceMinor()).append(' ').append(m.name()).append('@').append(m.offset())
                    .append(':').append(cSignature(m)).append(consumerWrittenMark(m)).append('\n');
        }
        return sb.toString();
    }

    /** Part of the identity only where present, so the ids of schemas without such members do not change. */
    private static String consumerWrittenMark(Member m) {
        return m instanceof Data d && d.consumerWritten() ? " consumer-written" : "";
    }

    /**
     * Payload offsets of the consumer-written members at {@code atMinor}, ascending: the bytes
     * {@code [offset, offset + 8)} that checksum, signature and per-call compare leave out.
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

    /** The C signature of a member: a data type such as {@code i32}, or {@code fn i32(ptr,i64)} for a slot. */
    public static String cSignature(Member member) {
        if (member instanceof Slot slot) {
            FunctionDescriptor d = slot.descriptor();
            StringBuilder sb = new StringBuilder("fn ");
            sb.append(d.returnLayout().map(Schema::cType).orElse("void")).append('(');
            for (int i = 0; i < d.argumentLayouts().size(); i++) {
                sb.append(i == 0 ? "" : ",").append(cType(d.argumentLayouts().get(i)));
            }
            return sb.append(')').toString();
        }
        return cType(member.layout());
    }

    private static String cType(MemoryLayout layout) {
        if (layout instanceof AddressLayout) {
            return "ptr";
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

        private SlotOptions() {}

        /** The slot may be null; unbound, it stays null. */
        public SlotOptions optional() {
            required = false;
            return this;
        }

        /** The slot may be left unbound; it then dispatches to {@code implementation}. */
        public SlotOptions optional(MethodHandle implementation) {
            required = false;
            defaultImplementation = Objects.requireNonNull(implementation, "implementation");
            return this;
        }

        /** What a refused call returns to the native caller: boxed as the return type's carrier. */
        public SlotOptions refusal(Object value) {
            refusalValue = Objects.requireNonNull(value, "refusal value (use MemorySegment.NULL for pointers)");
            return this;
        }

        /** Argument {@code index} (a pointer) must equal what {@code binding} names, or the call is refused. */
        public SlotOptions contextArgument(int index, ContextBinding binding) {
            contextArgument = index;
            contextBinding = Objects.requireNonNull(binding);
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

        /** Members declared after this call belong to {@code newMinor}; minors never go backwards. */
        public Builder minor(int newMinor) {
            if (newMinor < currentMinor || newMinor > MAX_VERSION) {
                throw new IllegalArgumentException("minor must be " + currentMinor + ".." + MAX_VERSION + ": " + newMinor);
            }
            currentMinor = newMinor;
            return this;
        }

        /** A required slot with no refusal value of its own (the table's builder must give one if it returns a value). */
        public Builder slot(String memberName, FunctionDescriptor descriptor) {
            return slot(memberName, descriptor, o -> {});
        }

        public Builder slot(String memberName, FunctionDescriptor descriptor, Consumer<SlotOptions> configure) {
            Objects.requireNonNull(descriptor, "descriptor");
            SlotOptions o = new SlotOptions();
            configure.accept(o);
            descriptor.argumentLayouts().forEach(Schema::cType);
            descriptor.returnLayout().ifPresent(Schema::cType);
            if (o.defaultImplementation != null && !o.defaultImplementation.type().equals(descriptor.toMethodType())) {
                throw new IllegalArgumentException("default of slot " + memberName + " has type " + o.defaultImplementation.type()
                        + ", the slot needs " + descriptor.toMethodType());
            }
            if (o.refusalValue != null) {
                checkRefusal(memberName, descriptor, o.refusalValue);
            }
            if (o.contextBinding != ContextBinding.NONE) {
                if (o.contextArgument < 0 || o.contextArgument >= descriptor.argumentLayouts().size()
                        || !(descriptor.argumentLayouts().get(o.contextArgument) instanceof AddressLayout)) {
                    throw new IllegalArgumentException("context argument " + o.contextArgument + " of slot " + memberName
                            + " is not a pointer parameter of " + descriptor);
                }
            }
            long offset = place(memberName, ValueLayout.ADDRESS);
            members.add(new Slot(memberName, offset, currentMinor, descriptor, o.required,
                    Optional.ofNullable(o.defaultImplementation), Optional.ofNullable(o.refusalValue),
                    o.contextBinding == ContextBinding.NONE ? -1 : o.contextArgument, o.contextBinding));
            return this;
        }

        /** A plain data member, such as a version field the C library reads. */
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
         * A pointer-sized data member that the native consumer writes into the table it was given (as
         * {@code sqlite3_vfs_register} writes {@code pVfs->pNext}). The builder cannot set it (it starts
         * NULL); checksum, signature and the per-call compare leave its 8 bytes out; a table of a schema
         * with one is built in writable memory. A slot can never be declared so.
         */
        public Builder consumerWritten(String memberName) {
            long offset = place(memberName, ValueLayout.ADDRESS);
            members.add(new Data(memberName, offset, currentMinor, ValueLayout.ADDRESS, true));
            return this;
        }

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

        private long place(String memberName, ValueLayout layout) {
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

        private static void checkRefusal(String memberName, FunctionDescriptor descriptor, Object value) {
            MemoryLayout ret = descriptor.returnLayout().orElseThrow(() ->
                    new IllegalArgumentException("slot " + memberName + " returns void: it has no refusal value"));
            Class<?> carrier = ((ValueLayout) ret).carrier();
            Class<?> boxed = carrier.isPrimitive() ? java.lang.invoke.MethodType.methodType(carrier).wrap().returnType() : carrier;
            if (!boxed.isInstance(value)) {
                throw new IllegalArgumentException("refusal value of slot " + memberName + " must be a " + boxed.getSimpleName()
                        + ", not " + value.getClass().getSimpleName());
            }
            if (value instanceof MemorySegment pointer && pointer.address() != 0) {
                throw new IllegalArgumentException("a refused call may only return MemorySegment.NULL from pointer slot " + memberName);
            }
        }
    }
}
