package io.tabguard.ffm.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What an ELF64 little-endian object's file says about its addresses, read once from disk: the sections
 * (name, link-time range, flags) and the defined function symbols of {@code .dynsym}. The section headers
 * are not mapped at run time, which is why they are read from the file.
 *
 * <p>Every read is bounded by the file's size and by fixed ceilings ({@link #MAX_SECTIONS},
 * {@link #MAX_TABLE_BYTES}); a file that is not ELF64 little-endian, or whose headers point outside it,
 * is refused with an {@link IOException}. Immutable and thread-safe.
 */
final class ElfImage {
    static final int MAX_SECTIONS = 65_279;            // SHN_LORESERVE - 1: extended numbering is refused
    static final long MAX_TABLE_BYTES = 64L << 20;     // one section header table, string table or symbol table

    static final int SHF_ALLOC = 0x2;
    static final int SHF_EXECINSTR = 0x4;
    static final int SHF_TLS = 0x400;
    static final int SHT_DYNSYM = 11;
    static final int STT_FUNC = 2;

    /** Sections holding linker-made stubs and pointer slots: code there is a jump to somewhere else. */
    static final List<String> STUB_SECTIONS = List.of(".plt", ".plt.sec", ".plt.got", ".iplt", ".got", ".got.plt");

    record Section(String name, long address, long size, long flags) {
        boolean contains(long linkAddress) {
            return Long.compareUnsigned(linkAddress, address) >= 0 && Long.compareUnsigned(linkAddress - address, size) < 0;
        }

        boolean executable() {
            return (flags & (SHF_ALLOC | SHF_EXECINSTR)) == (SHF_ALLOC | SHF_EXECINSTR);
        }
    }

    /** A defined {@code STT_FUNC} symbol of {@code .dynsym}. */
    record Function(String name, int info, long value, long size) {}

    private final Path file;
    private final List<Section> sections;
    private final Function[] functions;        // sorted by value
    private final long[] furthestEndBefore;    // furthestEndBefore[i]: max(value + size) over functions[0..i]

    private ElfImage(Path file, List<Section> sections, List<Function> functions) {
        this.file = file;
        this.sections = List.copyOf(sections);
        this.functions = functions.toArray(Function[]::new);
        Arrays.sort(this.functions, (a, b) -> Long.compareUnsigned(a.value(), b.value()));
        this.furthestEndBefore = new long[this.functions.length];
        long furthest = 0;
        for (int i = 0; i < this.functions.length; i++) {
            long end = this.functions[i].value() + this.functions[i].size();
            furthest = Long.compareUnsigned(end, furthest) > 0 ? end : furthest;
            furthestEndBefore[i] = furthest;
        }
    }

    Path file() {
        return file;
    }

    /** The section whose link-time range holds {@code linkAddress}, if any (SHF_ALLOC, non-TLS sections only). */
    java.util.Optional<Section> sectionAt(long linkAddress) {
        // TLS sections (.tdata/.tbss) hold templates, and .tbss takes no address space: skip them.
        return sections.stream().filter(s -> (s.flags() & SHF_ALLOC) != 0 && (s.flags() & SHF_TLS) == 0 && s.size() > 0
                && s.contains(linkAddress)).findFirst();
    }

    /** Whether {@code .dynsym} has a defined function with exactly this value, size and {@code st_info}. */
    boolean hasFunction(long value, long size, int info) {
        int i = lastAtOrBelow(value);
        for (; i >= 0 && functions[i].value() == value; i--) {
            if (functions[i].size() == size && functions[i].info() == info) {
                return true;
            }
        }
        return false;
    }

    /** The first exported function that starts strictly below {@code linkAddress} and extends past it, if any. */
    java.util.Optional<Function> functionAround(long linkAddress) {
        int i = lastBelow(linkAddress);
        if (i < 0 || Long.compareUnsigned(furthestEndBefore[i], linkAddress) <= 0) {
            return java.util.Optional.empty();
        }
        for (int j = 0; j <= i; j++) {
            Function f = functions[j];
            if (Long.compareUnsigned(f.value() + f.size(), linkAddress) > 0) {
                return java.util.Optional.of(f);
            }
        }
        return java.util.Optional.empty();
    }

    private int lastAtOrBelow(long value) {
        int lo = 0, hi = functions.length - 1, found = -1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (Long.compareUnsigned(functions[mid].value(), value) <= 0) {
                found = mid;
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        return found;
    }

    private int lastBelow(long value) {
        int i = lastAtOrBelow(value);
        while (i >= 0 && functions[i].value() == value) {
            i--;
        }
        return i;
    }

    /** Reads the section headers, their names and {@code .dynsym} of {@code file}. */
    static ElfImage read(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long fileSize = ch.size();
            ByteBuffer eh = readAt(ch, fileSize, 0, 64);
            if (eh.getInt(0) != 0x464c457f || eh.get(4) != 2 || eh.get(5) != 1) {
                throw new IOException(file + " is not an ELF64 little-endian object");
            }
            long shoff = eh.getLong(0x28);
            int shentsize = Short.toUnsignedInt(eh.getShort(0x3A));
            int shnum = Short.toUnsignedInt(eh.getShort(0x3C));
            int shstrndx = Short.toUnsignedInt(eh.getShort(0x3E));
            if (shentsize != 64 || shnum == 0 || shnum > MAX_SECTIONS || shstrndx >= shnum) {
                throw new IOException(file + ": section header table not usable (" + shnum + " x " + shentsize + ", names in " + shstrndx + ")");
            }
            ByteBuffer sh = readAt(ch, fileSize, shoff, (long) shnum * 64);
            ByteBuffer names = readSection(ch, fileSize, sh, shstrndx);
            List<Section> sections = new ArrayList<>(shnum);
            List<Function> functions = new ArrayList<>();
            for (int i = 0; i < shnum; i++) {
                int base = i * 64;
                sections.add(new Section(string(names, Integer.toUnsignedLong(sh.getInt(base))),
                        sh.getLong(base + 16), sh.getLong(base + 32), sh.getLong(base + 8)));
            }
            for (int i = 0; i < shnum; i++) {
                int base = i * 64;
                if (sh.getInt(base + 4) != SHT_DYNSYM) {
                    continue;
                }
                if (sh.getLong(base + 56) != 24) {
                    throw new IOException(file + ": .dynsym entries are not 24 bytes");
                }
                int link = sh.getInt(base + 40);
                if (link <= 0 || link >= shnum) {
                    throw new IOException(file + ": .dynsym has no string table");
                }
                ByteBuffer symbols = readSection(ch, fileSize, sh, i);
                ByteBuffer strings = readSection(ch, fileSize, sh, link);
                for (int off = 24; off + 24 <= symbols.limit(); off += 24) {   // entry 0 is the null symbol
                    int info = Byte.toUnsignedInt(symbols.get(off + 4));
                    int shndx = Short.toUnsignedInt(symbols.getShort(off + 6));
                    if ((info & 0xf) == STT_FUNC && shndx != 0 && shndx < 0xff00) {
                        functions.add(new Function(string(strings, Integer.toUnsignedLong(symbols.getInt(off))), info,
                                symbols.getLong(off + 8), symbols.getLong(off + 16)));
                    }
                }
            }
            return new ElfImage(file, sections, functions);
        }
    }

    private static ByteBuffer readSection(FileChannel ch, long fileSize, ByteBuffer sh, int index) throws IOException {
        int base = index * 64;
        return readAt(ch, fileSize, sh.getLong(base + 24), sh.getLong(base + 32));
    }

    private static ByteBuffer readAt(FileChannel ch, long fileSize, long offset, long length) throws IOException {
        if (offset < 0 || length < 0 || length > MAX_TABLE_BYTES || offset > fileSize || length > fileSize - offset) {
            throw new IOException("ELF read of " + length + " bytes at " + offset + " is outside the file (" + fileSize + " bytes)");
        }
        ByteBuffer b = ByteBuffer.allocate((int) length).order(ByteOrder.LITTLE_ENDIAN);
        while (b.hasRemaining()) {
            if (ch.read(b, offset + b.position()) < 0) {
                throw new IOException("ELF file ended early");
            }
        }
        return b.flip();
    }

    /** A NUL-terminated name at {@code offset} of a string table; "" if it points outside. */
    private static String string(ByteBuffer table, long offset) {
        if (offset >= table.limit()) {
            return "";
        }
        int start = (int) offset;
        int end = start;
        while (end < table.limit() && table.get(end) != 0) {
            end++;
        }
        byte[] bytes = new byte[end - start];
        table.get(start, bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }
}
