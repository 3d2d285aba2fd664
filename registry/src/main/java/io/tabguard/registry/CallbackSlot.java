package io.tabguard.registry;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * A method of a {@link CallbackSchema} interface that is a slot of the table. Parameter and return
 * types map to C as {@code byte}→i8, {@code short}→i16, {@code int}→i32, {@code long}→i64,
 * {@code float}, {@code double}, {@code MemorySegment}→pointer; nothing else is accepted.
 *
 * <p>Annotations are immutable and thread-safe; {@link InterfaceSchemas} refuses the interface when a slot
 * breaks its rules.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.METHOD)
public @interface CallbackSlot {
    /**
     * Position of the slot in the struct, from 0; positions are unique and contiguous.
     *
     * @return the position
     */
    int order();

    /**
     * The minor that introduced the slot; never decreases with {@link #order()}.
     *
     * @return the minor, 0 unless given
     */
    int since() default 0;

    /**
     * What a refused call returns, as Java source would write it ({@code "-1"}, {@code "0.0"}); empty
     * means 0 for numbers and NULL for pointers. Ignored for void methods.
     *
     * @return the refusal value's source text
     */
    String refusal() default "";
}
