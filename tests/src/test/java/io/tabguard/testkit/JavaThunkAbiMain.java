package io.tabguard.testkit;

import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import io.tabguard.testkit.ThunkAbiTest.Shape;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Forked by {@link JavaThunkAbiTest}: binds {@link JavaThunkAbiTest#forkShapes()} (all carried by shared
 * thunks) to Java targets, calls each slot from C, closes the registry and calls the old pointers from C
 * again: each must come back with its shape's zero value (not the slot's -7 refusal, which only a live
 * gate returns) without running a target. Then a second registry builds the same table, so the released
 * record indices are taken again under a new generation (by slots of the same shapes): the old pointers
 * must still be refused without reaching the new targets, and the new table's slots answer. Prints one line per step and "survived"; a crash ends the output early.
 */
public final class JavaThunkAbiMain {
    private JavaThunkAbiMain() {}

    public static void main(String[] args) throws Throwable {
        List<Shape> shapes = JavaThunkAbiTest.forkShapes();
        SymbolLookup lib = SymbolLookup.libraryLookup(Path.of(args[0]), Arena.global());
        MethodHandle check = NativeTamper.callPointer(lib.find("check").orElseThrow(), FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
        MethodHandle through = NativeTamper.callPointer(lib.find("through").orElseThrow(), FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS));
        JavaThunkAbiTest.JavaTargets targets = new JavaThunkAbiTest.JavaTargets(ThunkAbiTest.shapes().size(),
                lib.find("stored").orElseThrow().reinterpret(8));
        int n = shapes.size();

        List<MemorySegment> old = new ArrayList<>();
        try (Registry first = Fixtures.open(new Fixtures.Audit())) {
            CallbackTable table = JavaThunkAbiTest.table(first, "tabguard.test.javaabi.fork", shapes, targets, Shape::index);
            for (Shape s : shapes) {
                old.add(table.function(s.name()));
            }
            System.out.println("open: " + answered(check, targets, shapes, old) + " of " + n + " answered as their C twins");
        }
        long runs = targets.totalRuns();
        System.out.println("closed: " + refusedWithZero(through, shapes, old) + " of " + n + " refused with zero, "
                + (targets.totalRuns() - runs) + " target runs");
        System.out.flush();

        try (Registry second = Fixtures.open(new Fixtures.Audit())) {
            // in reverse order: released indices are reused last-released first, so each old index is
            // taken again by a slot of its own shape, and only the generation tells the old thunk apart
            CallbackTable table = JavaThunkAbiTest.table(second, "tabguard.test.javaabi.fork", shapes.reversed(), targets, Shape::index);
            List<MemorySegment> fresh = new ArrayList<>();
            for (Shape s : shapes) {
                fresh.add(table.function(s.name()));
            }
            runs = targets.totalRuns();
            int oldRefused = refusedWithZero(through, shapes, old);
            long oldRuns = targets.totalRuns() - runs;
            System.out.println("reopened: " + oldRefused + " of " + n + " old refused with zero, " + oldRuns + " target runs; "
                    + answered(check, targets, shapes, fresh) + " of " + n + " new answered");
        }
        System.out.println("survived");
    }

    /** Slots whose call from C equals the C function's bit for bit, having run their own target (and no other) once. */
    private static int answered(MethodHandle check, JavaThunkAbiTest.JavaTargets targets, List<Shape> shapes,
                                List<MemorySegment> pointers) throws Throwable {
        int ok = 0;
        for (int i = 0; i < shapes.size(); i++) {
            Shape s = shapes.get(i);
            long own = targets.runs.get(s.index());
            long all = targets.totalRuns();
            if ((int) check.invokeExact(s.index(), pointers.get(i)) == 1
                    && targets.runs.get(s.index()) == own + 1 && targets.totalRuns() == all + 1) {
                ok++;
            }
        }
        return ok;
    }

    /** Slots whose call from C returns all-zero bits (void: stores nothing). */
    private static int refusedWithZero(MethodHandle through, List<Shape> shapes, List<MemorySegment> pointers) throws Throwable {
        int zero = 0;
        for (int i = 0; i < shapes.size(); i++) {
            if ((long) through.invokeExact(shapes.get(i).index(), pointers.get(i)) == 0L) {
                zero++;
            }
        }
        return zero;
    }
}
