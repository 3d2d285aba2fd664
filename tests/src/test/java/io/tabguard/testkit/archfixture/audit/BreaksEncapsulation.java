package io.tabguard.testkit.archfixture.audit;

import java.lang.reflect.Field;

/** Breaks "no setAccessible". */
public final class BreaksEncapsulation {
    private BreaksEncapsulation() {}

    public static Object read(Field f, Object target) throws IllegalAccessException {
        f.setAccessible(true);
        return f.get(target);
    }
}
