package io.tabguard.ffm.internal;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;

/**
 * One loaded ELF file whose functions a table may point to (an allow-listed library, or a C plugin's own
 * file), and the rule that decides whether an address is one of them. An address is accepted only if
 * <ol>
 *   <li>it lies in this very object: the {@code struct link_map} {@code dladdr1} names for it is this
 *       object's ({@link Verdict#OTHER_OBJECT} otherwise: a dependency such as libc, another plugin);</li>
 *   <li>it is the exact start of the dynamic symbol that contains it ({@link Verdict#NOT_A_SYMBOL_START}:
 *       a gadget, the heap, the stack, an address in no symbol);</li>
 *   <li>that symbol is a defined {@code STT_FUNC} of non-zero size, the same entry is in the file's
 *       {@code .dynsym} on disk, it lies wholly inside an executable section that is not a stub section
 *       ({@code .plt}, {@code .plt.sec}, {@code .plt.got}, {@code .iplt}, {@code .got}, {@code .got.plt}),
 *       and no other exported function starts below it and extends past it
 *       ({@link Verdict#NOT_A_FUNCTION}: a data object, a label, a symbol in the middle of a function, a
 *       symbol placed on a PLT entry).</li>
 * </ol>
 * Nothing here dereferences the address. Immutable and thread-safe; valid while the caller keeps the object loaded.
 */
public final class AllowedObject {
    /** Why an address was or was not accepted. */
    public enum Verdict { FUNCTION, OTHER_OBJECT, NOT_A_SYMBOL_START, NOT_A_FUNCTION }

    /** The verdict on one address, what it is (for messages) and, if accepted, the symbol's name. */
    public record Check(Verdict verdict, String symbol, String detail) {
        public boolean accepted() {
            return verdict == Verdict.FUNCTION;
        }
    }

    private final NativeAccess.LoadedObject object;
    private final ElfImage image;

    private AllowedObject(NativeAccess.LoadedObject object, ElfImage image) {
        this.object = object;
        this.image = image;
    }

    /**
     * The object already loaded under {@code nameOrPath} (precondition: the caller loaded it and keeps it
     * loaded), with its file's sections and exported functions read from disk.
     *
     * @throws IllegalArgumentException if it is not loaded, has no file, or its file is not a readable ELF64 object
     */
    public static AllowedObject loaded(String nameOrPath) {
        NativeAccess.LoadedObject o = NativeAccess.loadedObject(nameOrPath)
                .orElseThrow(() -> new IllegalArgumentException(nameOrPath + " is not loaded"));
        if (o.path() == null || o.path().isEmpty()) {
            throw new IllegalArgumentException(nameOrPath + " has no file (the main program cannot be allow-listed)");
        }
        try {
            return new AllowedObject(o, ElfImage.read(Path.of(o.path())));
        } catch (IOException e) {
            throw new IllegalArgumentException(nameOrPath + " (" + o.path() + ") cannot be read as ELF: " + e.getMessage(), e);
        }
    }

    /** The file the dynamic linker loaded (its {@code l_name}). */
    public Path file() {
        return image.file();
    }

    /** The rule above, for one address. */
    public Check check(long address) {
        Optional<NativeAccess.DynamicSymbol> found = NativeAccess.dynamicSymbol(address);
        if (found.isEmpty()) {
            return new Check(Verdict.NOT_A_SYMBOL_START, null, "in no loaded object");
        }
        NativeAccess.DynamicSymbol s = found.get();
        if (s.linkMap() != object.linkMap()) {
            return new Check(Verdict.OTHER_OBJECT, s.symbolName(), (s.symbolName() == null ? "an address" : s.symbolName())
                    + " of " + s.fileName());
        }
        if (s.symbolName() == null) {
            return new Check(Verdict.NOT_A_SYMBOL_START, null, "in no symbol of " + file());
        }
        if (s.symbolAddress() != address) {
            return new Check(Verdict.NOT_A_SYMBOL_START, s.symbolName(), (address - s.symbolAddress()) + " bytes into " + s.symbolName());
        }
        if (s.type() != ElfImage.STT_FUNC || s.sectionIndex() == 0 || s.size() == 0) {
            return new Check(Verdict.NOT_A_FUNCTION, s.symbolName(), s.symbolName() + " is a " + typeName(s.type())
                    + " symbol of size " + s.size() + ", not a function");
        }
        long linkAddress = address - object.loadBias();
        if (linkAddress != s.value() || !image.hasFunction(s.value(), s.size(), s.info())) {
            return new Check(Verdict.NOT_A_FUNCTION, s.symbolName(), s.symbolName() + " is not in the .dynsym of " + file() + " as loaded");
        }
        Optional<ElfImage.Section> section = image.sectionAt(linkAddress);
        if (section.isEmpty() || ElfImage.STUB_SECTIONS.contains(section.get().name())) {
            return new Check(Verdict.NOT_A_FUNCTION, s.symbolName(), s.symbolName() + " lies in "
                    + section.map(ElfImage.Section::name).orElse("no section") + ", a stub or pointer section");
        }
        if (!section.get().executable() || !section.get().contains(linkAddress + s.size() - 1)) {
            return new Check(Verdict.NOT_A_FUNCTION, s.symbolName(), s.symbolName() + " is not wholly inside executable code ("
                    + section.get().name() + ")");
        }
        Optional<ElfImage.Function> around = image.functionAround(linkAddress);
        if (around.isPresent()) {
            return new Check(Verdict.NOT_A_FUNCTION, s.symbolName(), s.symbolName() + " lies "
                    + (linkAddress - around.get().value()) + " bytes into the function " + around.get().name());
        }
        return new Check(Verdict.FUNCTION, s.symbolName(), s.symbolName() + " of " + file());
    }

    private static String typeName(int type) {
        return switch (type) {
            case 0 -> "NOTYPE";
            case 1 -> "OBJECT";
            case 2 -> "FUNC";
            case 6 -> "TLS";
            case 10 -> "IFUNC";
            default -> "type-" + type;
        };
    }
}
