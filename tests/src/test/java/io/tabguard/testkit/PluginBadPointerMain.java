package io.tabguard.testkit;

import io.tabguard.audit.EventType;
import io.tabguard.guard.TableRejectedException;
import io.tabguard.registry.Plugin;
import io.tabguard.registry.Registry;

import java.nio.file.Path;

/**
 * Run in a forked JVM by {@link PluginBadPointerForkTest}: loads C plugins (built by the test) that hand the
 * host's {@code table_init}/{@code table_seal} pointers that fault (a wild or NULL {@code out_table}, a buffer
 * whose tail page is protected, a read-only buffer, NULL, huge sizes), and the valid twin whose buffer and out
 * pointer end exactly where a protected page begins. Arguments: {@code VARIANT=path} pairs. Prints
 * {@code VARIANT refused VIOLATION audited|unaudited}, or {@code VARIANT sealed add=<result>}, and
 * {@code survived} at the end: a host that dereferenced a bad pointer would die with SIGSEGV first.
 */
public final class PluginBadPointerMain {
    private PluginBadPointerMain() {}

    public static void main(String[] args) throws Throwable {
        Fixtures.Audit audit = new Fixtures.Audit();
        try (Registry registry = Fixtures.open(audit)) {
            for (String arg : args) {
                String variant = arg.substring(0, arg.indexOf('='));
                Path library = Path.of(arg.substring(arg.indexOf('=') + 1));
                try (Plugin p = registry.loadPlugin(library, PluginTest.PLUGIN)) {
                    print(variant + " sealed add=" + (int) p.table().slotHandle("add").invokeExact(2, 3));
                } catch (TableRejectedException e) {
                    boolean audited = audit.of(EventType.TABLE_REFUSED).stream().anyMatch(ev -> e.violation().name().equals(ev.violation())
                            && ev.detail() != null && ev.detail().contains(library.getFileName().toString()));
                    print(variant + " refused " + e.violation() + (audited ? " audited" : " unaudited") + " (" + e.getMessage() + ")");
                }
            }
        }
        print("survived");
        System.exit(0);
    }

    private static void print(String line) {
        System.out.println(line);
        System.out.flush();
    }
}
