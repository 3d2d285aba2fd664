package io.tabguard.guard;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.ValueLayout;
import java.util.random.RandomGenerator;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BOOLEAN;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_CHAR;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/** Random schema shapes for property tests: 1-12 members, slots and scalar data mixed, minors 0-3. */
public final class RandomSchemas {
    private RandomSchemas() {}

    /** Every scalar type a data member may have. */
    public static final ValueLayout[] DATA_TYPES = {
            JAVA_BYTE, JAVA_SHORT, JAVA_CHAR, JAVA_INT, JAVA_LONG, JAVA_FLOAT, JAVA_DOUBLE, JAVA_BOOLEAN, ADDRESS};
    /** Every type a slot may pass or return. */
    public static final ValueLayout[] ARGUMENT_TYPES = {
            JAVA_BYTE, JAVA_SHORT, JAVA_CHAR, JAVA_INT, JAVA_LONG, JAVA_FLOAT, JAVA_DOUBLE, ADDRESS};

    /**
     * A random schema. The first member is always minor 0; later members move to a later minor now and
     * then (sometimes skipping one); the newest minor is sometimes left empty.
     */
    public static Schema next(RandomGenerator random, String name) {
        int count = 1 + random.nextInt(12);
        int newestMinor = random.nextInt(4);
        Schema.Builder builder = Schema.builder(name, random.nextInt(4));
        int minor = 0;
        for (int i = 0; i < count; i++) {
            if (i > 0 && minor < newestMinor && random.nextInt(3) == 0) {
                minor += 1 + random.nextInt(newestMinor - minor);
                builder.minor(minor);
            }
            if (random.nextBoolean()) {
                builder.slot("m" + i, descriptor(random));
            } else {
                builder.data("m" + i, DATA_TYPES[random.nextInt(DATA_TYPES.length)]);
            }
        }
        if (minor < newestMinor && random.nextBoolean()) {
            builder.minor(newestMinor);
        }
        return builder.build();
    }

    public static FunctionDescriptor descriptor(RandomGenerator random) {
        MemoryLayout[] args = new MemoryLayout[random.nextInt(5)];
        for (int i = 0; i < args.length; i++) {
            args[i] = ARGUMENT_TYPES[random.nextInt(ARGUMENT_TYPES.length)];
        }
        return random.nextInt(4) == 0
                ? FunctionDescriptor.ofVoid(args)
                : FunctionDescriptor.of(ARGUMENT_TYPES[random.nextInt(ARGUMENT_TYPES.length)], args);
    }

    /** The C type that {@link Schema#cSignature} calls {@code cType}. */
    public static String cType(String schemaType) {
        return switch (schemaType) {
            case "i8" -> "int8_t";
            case "i16" -> "int16_t";
            case "u16" -> "uint16_t";
            case "i32" -> "int32_t";
            case "i64" -> "int64_t";
            case "f32" -> "float";
            case "f64" -> "double";
            case "bool" -> "_Bool";
            case "ptr" -> "void *";
            case "void" -> "void";
            default -> throw new IllegalArgumentException(schemaType);
        };
    }
}
