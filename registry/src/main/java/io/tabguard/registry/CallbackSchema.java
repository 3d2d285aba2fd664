package io.tabguard.registry;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Marks a public interface whose {@link CallbackSlot}-annotated methods define a table's schema; see
 * {@link InterfaceSchemas#schemaOf(Class)}.
 *
 * <p>Read once per interface by {@link InterfaceSchemas} (which caches the result); annotations are immutable
 * and thread-safe. What the interface may not do (and is refused for) is listed in {@link InterfaceSchemas}.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
public @interface CallbackSchema {
    /**
     * The schema's name (a C-like identifier; dots, colons and dashes allowed).
     *
     * @return the name
     */
    String name();

    /**
     * The schema's major version.
     *
     * @return the major, 1 unless given
     */
    int major() default 1;
}
