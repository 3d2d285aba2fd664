package io.tabguard.examples;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * LLVM's C API, found at run time: IR is built through it and JIT-compiled by MCJIT into memory given
 * by a memory manager of the caller's choosing (see {@link GuardedJitMemoryManager}).
 *
 * <p>The library is the newest {@code libLLVM} the dynamic loader finds ({@code libLLVM.so.N.1},
 * {@code libLLVM.so.N}, {@code libLLVM-N.so.1}, N from 30 down to 10), or the one named by the system property
 * {@code tabguard.llvm}. The X86 target is initialised (the per-target functions libLLVM exports:
 * {@code LLVMInitializeNativeTarget} is an inline of the header), so this runs on x86-64 only.
 *
 * <p>Thread-safety: {@link #load()} is thread-safe; a {@link Module} and an {@link Engine} are confined
 * to one thread at a time (each has its own {@code LLVMContext}).
 */
@SuppressWarnings("restricted")   // the application calls LLVM itself
public final class LlvmJit {
    /** {@code struct LLVMMCJITCompilerOptions} of LLVM 14-20: 24 bytes on x86-64. */
    public static final StructLayout OPTIONS = MemoryLayout.structLayout(
            JAVA_INT.withName("OptLevel"),
            JAVA_INT.withName("CodeModel"),
            JAVA_INT.withName("NoFramePointerElim"),
            JAVA_INT.withName("EnableFastISel"),
            ADDRESS.withName("MCJMM")).withName("LLVMMCJITCompilerOptions");
    private static final long MCJMM = OPTIONS.byteOffset(groupElement("MCJMM"));
    private static final long OPT_LEVEL = OPTIONS.byteOffset(groupElement("OptLevel"));
    private static final int INTERNAL_LINKAGE = 8, INT_SLE = 41, RETURN_STATUS_ACTION = 2;

    private static volatile LlvmJit loaded;

    private final String library;
    private final int major;
    private final SymbolLookup lookup;
    final MethodHandle contextCreate, contextDispose, moduleCreate, disposeModule, int32Type, int64Type, functionType,
            addFunction, getParam, appendBlock, createBuilder, disposeBuilder, positionAtEnd, buildAdd, buildSub, buildMul,
            buildXor, buildAnd, buildZExt, buildRet, buildBr, buildCondBr, buildICmp, buildPhi, addIncoming, constInt, constArray,
            arrayType, addGlobal, setInitializer, setGlobalConstant, setLinkage, buildInBoundsGep2, buildLoad2, verifyModule,
            disposeMessage, initOptions, createSimpleMM, disposeMM, createMcjit, getFunctionAddress, disposeEngine;

    private LlvmJit(String library, int major, SymbolLookup lookup) {
        this.library = library;
        this.major = major;
        this.lookup = lookup;
        contextCreate = fn("LLVMContextCreate", FunctionDescriptor.of(ADDRESS));
        contextDispose = fn("LLVMContextDispose", FunctionDescriptor.ofVoid(ADDRESS));
        moduleCreate = fn("LLVMModuleCreateWithNameInContext", FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS));
        disposeModule = fn("LLVMDisposeModule", FunctionDescriptor.ofVoid(ADDRESS));
        int32Type = fn("LLVMInt32TypeInContext", FunctionDescriptor.of(ADDRESS, ADDRESS));
        int64Type = fn("LLVMInt64TypeInContext", FunctionDescriptor.of(ADDRESS, ADDRESS));
        functionType = fn("LLVMFunctionType", FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT));
        addFunction = fn("LLVMAddFunction", FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, ADDRESS));
        getParam = fn("LLVMGetParam", FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT));
        appendBlock = fn("LLVMAppendBasicBlockInContext", FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, ADDRESS));
        createBuilder = fn("LLVMCreateBuilderInContext", FunctionDescriptor.of(ADDRESS, ADDRESS));
        disposeBuilder = fn("LLVMDisposeBuilder", FunctionDescriptor.ofVoid(ADDRESS));
        positionAtEnd = fn("LLVMPositionBuilderAtEnd", FunctionDescriptor.ofVoid(ADDRESS, ADDRESS));
        FunctionDescriptor binop = FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS);
        buildAdd = fn("LLVMBuildAdd", binop);
        buildSub = fn("LLVMBuildSub", binop);
        buildMul = fn("LLVMBuildMul", binop);
        buildXor = fn("LLVMBuildXor", binop);
        buildAnd = fn("LLVMBuildAnd", binop);
        buildZExt = fn("LLVMBuildZExt", binop);
        buildRet = fn("LLVMBuildRet", FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS));
        buildBr = fn("LLVMBuildBr", FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS));
        buildCondBr = fn("LLVMBuildCondBr", FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
        buildICmp = fn("LLVMBuildICmp", FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
        buildPhi = fn("LLVMBuildPhi", FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, ADDRESS));
        addIncoming = fn("LLVMAddIncoming", FunctionDescriptor.ofVoid(ADDRESS, ADDRESS, ADDRESS, JAVA_INT));
        constInt = fn("LLVMConstInt", FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT));
        constArray = fn("LLVMConstArray", FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, JAVA_INT));
        arrayType = fn("LLVMArrayType", FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT));
        addGlobal = fn("LLVMAddGlobal", FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, ADDRESS));
        setInitializer = fn("LLVMSetInitializer", FunctionDescriptor.ofVoid(ADDRESS, ADDRESS));
        setGlobalConstant = fn("LLVMSetGlobalConstant", FunctionDescriptor.ofVoid(ADDRESS, JAVA_INT));
        setLinkage = fn("LLVMSetLinkage", FunctionDescriptor.ofVoid(ADDRESS, JAVA_INT));
        buildInBoundsGep2 = fn("LLVMBuildInBoundsGEP2", FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS));
        buildLoad2 = fn("LLVMBuildLoad2", FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
        verifyModule = fn("LLVMVerifyModule", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS));
        disposeMessage = fn("LLVMDisposeMessage", FunctionDescriptor.ofVoid(ADDRESS));
        initOptions = fn("LLVMInitializeMCJITCompilerOptions", FunctionDescriptor.ofVoid(ADDRESS, JAVA_LONG));
        createSimpleMM = fn("LLVMCreateSimpleMCJITMemoryManager", FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
        disposeMM = fn("LLVMDisposeMCJITMemoryManager", FunctionDescriptor.ofVoid(ADDRESS));
        createMcjit = fn("LLVMCreateMCJITCompilerForModule", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS));
        getFunctionAddress = fn("LLVMGetFunctionAddress", FunctionDescriptor.of(JAVA_LONG, ADDRESS, ADDRESS));
        disposeEngine = fn("LLVMDisposeExecutionEngine", FunctionDescriptor.ofVoid(ADDRESS));
        try {
            for (String init : List.of("LLVMLinkInMCJIT", "LLVMInitializeX86TargetInfo", "LLVMInitializeX86Target",
                    "LLVMInitializeX86TargetMC", "LLVMInitializeX86AsmPrinter")) {
                fn(init, FunctionDescriptor.ofVoid()).invokeExact();
            }
        } catch (Throwable t) {
            throw new IllegalStateException("initialising LLVM's X86 target failed", t);
        }
    }

    /** The library names tried, newest LLVM first. */
    public static List<String> candidates() {
        List<String> names = new ArrayList<>();
        String configured = System.getProperty("tabguard.llvm");
        if (configured != null && !configured.isBlank()) {
            names.add(configured);
        }
        for (int n = 30; n >= 10; n--) {
            names.add("libLLVM.so." + n + ".1");
            names.add("libLLVM.so." + n);
            names.add("libLLVM-" + n + ".so.1");
        }
        return names;
    }

    /** The newest LLVM found, loaded and initialised once per process; empty when there is none. */
    public static Optional<LlvmJit> find() {
        LlvmJit l = loaded;
        if (l != null) {
            return Optional.of(l);
        }
        synchronized (LlvmJit.class) {
            if (loaded == null) {
                for (String name : candidates()) {
                    SymbolLookup lookup;
                    try {
                        lookup = SymbolLookup.libraryLookup(name, Arena.global());
                    } catch (IllegalArgumentException notFound) {
                        continue;
                    }
                    try {
                        loaded = new LlvmJit(name, majorOf(name), lookup);
                        break;
                    } catch (UnsatisfiedLinkError lacking) {
                        // a libLLVM without a function used here (too old, or built without it): try the next
                        System.getLogger(LlvmJit.class.getName()).log(System.Logger.Level.WARNING,
                                "skipping " + name + ": " + lacking.getMessage());
                    }
                }
            }
            return Optional.ofNullable(loaded);
        }
    }

    /** {@link #find()}, or an exception naming what was tried. */
    public static LlvmJit load() {
        return find().orElseThrow(() -> new IllegalStateException("no LLVM found (tried libLLVM.so.N.1, libLLVM.so.N and libLLVM-N.so.1, "
                + "N = 30..10; install libllvm15, or set -Dtabguard.llvm=/path/to/libLLVM.so)"));
    }

    private static int majorOf(String name) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("libLLVM[-.](?:so\\.)?(\\d+)").matcher(name);
        return m.find() ? Integer.parseInt(m.group(1)) : -1;
    }

    /** The library loaded, as it was named to the dynamic loader. */
    public String library() {
        return library;
    }

    /** LLVM's major version, from the library's name (-1 if the name does not say). */
    public int majorVersion() {
        return major;
    }

    private MethodHandle fn(String name, FunctionDescriptor d) {
        return Libc.LINKER.downcallHandle(lookup.find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError(library + " has no " + name)), d);
    }

    /** {@code LLVMCreateSimpleMCJITMemoryManager(Opaque, AllocateCodeSection, AllocateDataSection, FinalizeMemory, Destroy)}. */
    public MemorySegment createSimpleMemoryManager(MemorySegment opaque, MemorySegment allocateCode, MemorySegment allocateData,
                                                   MemorySegment finalizeMemory, MemorySegment destroy) {
        try {
            return (MemorySegment) createSimpleMM.invokeExact(opaque, allocateCode, allocateData, finalizeMemory, destroy);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code LLVMDisposeMCJITMemoryManager}: for a memory manager no engine took (it calls Destroy). */
    public void disposeMemoryManager(MemorySegment memoryManager) {
        try {
            disposeMM.invokeExact(memoryManager);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** A new, empty module in its own context. */
    public Module newModule(String name) {
        return new Module(name);
    }

    /**
     * JIT-compiles {@code module} with MCJIT and the given memory manager: options made the way LLVM asks,
     * {@code LLVMInitializeMCJITCompilerOptions(&o, sizeof o)}, then {@code MCJMM} set, then
     * {@code LLVMCreateMCJITCompilerForModule(&ee, m, &o, sizeof o, &err)}. The engine owns the module
     * and the memory manager from then on. Code is generated, into the memory manager, on the first
     * {@link Engine#address}.
     *
     * @throws IllegalStateException with LLVM's message when it refuses
     */
    public Engine compile(Module module, MemorySegment memoryManager) {
        CreateResult r = createEngine(module, memoryManager, OPTIONS.byteSize());
        if (r.engine() == null) {
            throw new IllegalStateException("LLVMCreateMCJITCompilerForModule: " + r.error());
        }
        return r.engine();
    }

    /** The outcome of {@code LLVMCreateMCJITCompilerForModule}: an engine, or LLVM's error and its return code. */
    public record CreateResult(Engine engine, int returnCode, String error) {}

    /**
     * {@code LLVMCreateMCJITCompilerForModule} with {@code sizeOfOptions} as {@code SizeOfOptions} (the
     * struct passed is always {@link #OPTIONS}-sized, zero-padded to {@code sizeOfOptions}). On success
     * the engine owns module and memory manager. When LLVM refuses a {@code sizeOfOptions} larger than
     * its own, the caller still owns both (that check runs before LLVM takes either); after any other
     * failure LLVM has freed the module and destroyed the memory manager. Close the module either way.
     */
    CreateResult createEngine(Module module, MemorySegment memoryManager, long sizeOfOptions) {
        module.checkOpen();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment options = a.allocate(Math.max(OPTIONS.byteSize(), sizeOfOptions), 8);
            initOptions.invokeExact(options, OPTIONS.byteSize());
            options.set(JAVA_INT, OPT_LEVEL, 2);
            options.set(ADDRESS, MCJMM, memoryManager);
            MemorySegment out = a.allocate(ADDRESS);
            MemorySegment err = a.allocate(ADDRESS);
            int rc = (int) createMcjit.invokeExact(out, module.module, options, sizeOfOptions, err);
            if (rc != 0) {
                // LLVM's size check runs before it takes the module; any later failure has freed the
                // module (and destroyed the memory manager): only the context is still ours then.
                module.consumed = sizeOfOptions <= OPTIONS.byteSize();
                return new CreateResult(null, rc, takeMessage(err.get(ADDRESS, 0)));
            }
            Engine engine = new Engine(out.get(ADDRESS, 0), module.context);
            module.consumed = true;
            module.contextOwnedByEngine = true;
            return new CreateResult(engine, 0, null);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private String takeMessage(MemorySegment message) throws Throwable {
        if (message.equals(MemorySegment.NULL)) {
            return "";
        }
        String s = message.reinterpret(4096).getString(0);
        disposeMessage.invokeExact(message);
        return s;
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException(t);
    }

    /** An LLVM module being built, in its own context. Confined to one thread. */
    public final class Module implements AutoCloseable {
        final MemorySegment context;
        final MemorySegment module;
        private final Arena names = Arena.ofConfined();
        private final MemorySegment i32, i64;
        private boolean consumed;               // LLVM took the module (an engine, or a failed creation freed it)
        private boolean contextOwnedByEngine;   // an engine disposes the context
        private boolean closed;

        private Module(String name) {
            try {
                context = (MemorySegment) contextCreate.invokeExact();
                module = (MemorySegment) moduleCreate.invokeExact(names.allocateFrom(name), context);
                i32 = (MemorySegment) int32Type.invokeExact(context);
                i64 = (MemorySegment) int64Type.invokeExact(context);
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }

        /** {@code i32 name(i32 a, i32 b) = (a + b) * (a - b) + 42}. */
        public Module addArithmetic(String name) {
            return body(name, i32, new MemorySegment[] {i32, i32}, (b, f) -> {
                MemorySegment x = param(f, 0), y = param(f, 1);
                MemorySegment sum = (MemorySegment) buildAdd.invokeExact(b, x, y, str("sum"));
                MemorySegment diff = (MemorySegment) buildSub.invokeExact(b, x, y, str("diff"));
                MemorySegment prod = (MemorySegment) buildMul.invokeExact(b, sum, diff, str("prod"));
                MemorySegment r = (MemorySegment) buildAdd.invokeExact(b, prod, c(i32, 42), str("r"));
                MemorySegment ignored = (MemorySegment) buildRet.invokeExact(b, r);
            });
        }

        /** {@code i64 name(i64 n)}: 1 + 2 + ... + n by a loop (phi nodes), for n >= 1. */
        public Module addLoop(String name) {
            return body(name, i64, new MemorySegment[] {i64}, (b, f) -> {
                MemorySegment n = param(f, 0);
                MemorySegment entry = (MemorySegment) appendBlock.invokeExact(context, f, str("entry"));
                MemorySegment loop = (MemorySegment) appendBlock.invokeExact(context, f, str("loop"));
                MemorySegment exit = (MemorySegment) appendBlock.invokeExact(context, f, str("exit"));
                positionAtEnd.invokeExact(b, entry);
                MemorySegment ignored = (MemorySegment) buildBr.invokeExact(b, loop);
                positionAtEnd.invokeExact(b, loop);
                MemorySegment i = (MemorySegment) buildPhi.invokeExact(b, i64, str("i"));
                MemorySegment acc = (MemorySegment) buildPhi.invokeExact(b, i64, str("acc"));
                MemorySegment accNext = (MemorySegment) buildAdd.invokeExact(b, acc, i, str("acc.next"));
                MemorySegment iNext = (MemorySegment) buildAdd.invokeExact(b, i, c(i64, 1), str("i.next"));
                MemorySegment more = (MemorySegment) buildICmp.invokeExact(b, INT_SLE, iNext, n, str("more"));
                ignored = (MemorySegment) buildCondBr.invokeExact(b, more, loop, exit);
                incoming(i, new MemorySegment[] {c(i64, 1), iNext}, new MemorySegment[] {entry, loop});
                incoming(acc, new MemorySegment[] {c(i64, 0), accNext}, new MemorySegment[] {entry, loop});
                positionAtEnd.invokeExact(b, exit);
                ignored = (MemorySegment) buildRet.invokeExact(b, accNext);
            }, false);
        }

        /** {@code i32 name(i32 i) = table[i & (n-1)]}, {@code table} a constant global {@code [n x i32]} (n a power of two). */
        public Module addTableLookup(String name, int[] values) {
            if (Integer.bitCount(values.length) != 1) {
                throw new IllegalArgumentException("the table's length must be a power of two");
            }
            try {
                MemorySegment arrayTy = (MemorySegment) arrayType.invokeExact(i32, values.length);
                MemorySegment elements = names.allocate(ADDRESS, values.length);
                for (int k = 0; k < values.length; k++) {
                    elements.setAtIndex(ADDRESS, k, c(i32, values[k]));
                }
                MemorySegment init = (MemorySegment) constArray.invokeExact(i32, elements, values.length);
                MemorySegment global = (MemorySegment) addGlobal.invokeExact(module, arrayTy, str(name + ".table"));
                setInitializer.invokeExact(global, init);
                setGlobalConstant.invokeExact(global, 1);
                setLinkage.invokeExact(global, INTERNAL_LINKAGE);
                return body(name, i32, new MemorySegment[] {i32}, (b, f) -> {
                    MemorySegment masked = (MemorySegment) buildAnd.invokeExact(b, param(f, 0), c(i32, values.length - 1), str("idx"));
                    MemorySegment wide = (MemorySegment) buildZExt.invokeExact(b, masked, i64, str("idx64"));
                    MemorySegment indices = names.allocate(ADDRESS, 2);
                    indices.setAtIndex(ADDRESS, 0, c(i64, 0));
                    indices.setAtIndex(ADDRESS, 1, wide);
                    MemorySegment p = (MemorySegment) buildInBoundsGep2.invokeExact(b, arrayTy, global, indices, 2, str("p"));
                    MemorySegment v = (MemorySegment) buildLoad2.invokeExact(b, i32, p, str("v"));
                    MemorySegment ignored = (MemorySegment) buildRet.invokeExact(b, v);
                });
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }

        /** {@code count} small functions {@code i64 name<k>(i64 x) = (x * k) ^ (x + k)}. */
        public Module addSmallFunctions(String prefix, int count) {
            for (int k = 0; k < count; k++) {
                long kk = k;
                body(prefix + k, i64, new MemorySegment[] {i64}, (b, f) -> {
                    MemorySegment x = param(f, 0);
                    MemorySegment m = (MemorySegment) buildMul.invokeExact(b, x, c(i64, kk), str("m"));
                    MemorySegment s = (MemorySegment) buildAdd.invokeExact(b, x, c(i64, kk), str("s"));
                    MemorySegment r = (MemorySegment) buildXor.invokeExact(b, m, s, str("r"));
                    MemorySegment ignored = (MemorySegment) buildRet.invokeExact(b, r);
                });
            }
            return this;
        }

        /** {@code LLVMVerifyModule}; throws with LLVM's message when the IR is broken. */
        public Module verify() {
            checkOpen();
            try {
                MemorySegment msg = names.allocate(ADDRESS);
                int broken = (int) verifyModule.invokeExact(module, RETURN_STATUS_ACTION, msg);
                String text = takeMessage(msg.get(ADDRESS, 0));
                if (broken != 0) {
                    throw new IllegalStateException("LLVMVerifyModule: " + text);
                }
                return this;
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }

        /** Disposes the module (unless LLVM took it) and its context (unless an engine owns it). Always call it. */
        @Override
        public void close() {
            if (closed) {
                return;
            }
            closed = true;
            try {
                if (!consumed) {
                    disposeModule.invokeExact(module);
                }
                if (!contextOwnedByEngine) {
                    contextDispose.invokeExact(context);
                }
            } catch (Throwable t) {
                throw rethrow(t);
            } finally {
                names.close();
            }
        }

        void checkOpen() {
            if (closed || consumed) {
                throw new IllegalStateException("module closed or already compiled");
            }
        }

        private interface Body {
            void build(MemorySegment builder, MemorySegment function) throws Throwable;
        }

        private Module body(String name, MemorySegment ret, MemorySegment[] params, Body body) {
            return body(name, ret, params, body, true);
        }

        private Module body(String name, MemorySegment ret, MemorySegment[] params, Body body, boolean entryBlock) {
            checkOpen();
            try {
                MemorySegment paramArray = names.allocate(ADDRESS, params.length);
                for (int k = 0; k < params.length; k++) {
                    paramArray.setAtIndex(ADDRESS, k, params[k]);
                }
                MemorySegment fnTy = (MemorySegment) functionType.invokeExact(ret, paramArray, params.length, 0);
                MemorySegment f = (MemorySegment) addFunction.invokeExact(module, str(name), fnTy);
                MemorySegment b = (MemorySegment) createBuilder.invokeExact(context);
                try {
                    if (entryBlock) {
                        MemorySegment entry = (MemorySegment) appendBlock.invokeExact(context, f, str("entry"));
                        positionAtEnd.invokeExact(b, entry);
                    }
                    body.build(b, f);
                } finally {
                    disposeBuilder.invokeExact(b);
                }
                return this;
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }

        private void incoming(MemorySegment phi, MemorySegment[] values, MemorySegment[] blocks) throws Throwable {
            MemorySegment v = names.allocate(ADDRESS, values.length);
            MemorySegment bb = names.allocate(ADDRESS, blocks.length);
            for (int k = 0; k < values.length; k++) {
                v.setAtIndex(ADDRESS, k, values[k]);
                bb.setAtIndex(ADDRESS, k, blocks[k]);
            }
            addIncoming.invokeExact(phi, v, bb, values.length);
        }

        private MemorySegment param(MemorySegment f, int index) throws Throwable {
            return (MemorySegment) getParam.invokeExact(f, index);
        }

        private MemorySegment c(MemorySegment type, long value) throws Throwable {
            return (MemorySegment) constInt.invokeExact(type, value, 1);
        }

        private MemorySegment str(String s) {
            return names.allocateFrom(s);
        }
    }

    /** An MCJIT execution engine: owns its module, its context and its memory manager. Confined to one thread. */
    public final class Engine implements AutoCloseable {
        private final MemorySegment engine;
        private final MemorySegment context;
        private boolean closed;

        private Engine(MemorySegment engine, MemorySegment context) {
            this.engine = engine;
            this.context = context;
        }

        /**
         * {@code LLVMGetFunctionAddress}: the first call generates the module's code into the memory
         * manager and finalizes it (FinalizeMemory). 0 when there is no such function.
         */
        public long address(String function) {
            check();
            try (Arena a = Arena.ofConfined()) {
                return (long) getFunctionAddress.invokeExact(engine, a.allocateFrom(function));
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }

        /** A downcall handle of type {@code descriptor} on the JIT-compiled {@code function}. */
        public MethodHandle function(String function, FunctionDescriptor descriptor) {
            long address = address(function);
            if (address == 0) {
                throw new IllegalArgumentException("no function " + function);
            }
            return Libc.LINKER.downcallHandle(MemorySegment.ofAddress(address), descriptor);
        }

        /** {@code LLVMDisposeExecutionEngine} (which calls the memory manager's Destroy), then the context. */
        @Override
        public void close() {
            if (closed) {
                return;
            }
            closed = true;
            try {
                disposeEngine.invokeExact(engine);
                contextDispose.invokeExact(context);
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }

        private void check() {
            if (closed) {
                throw new IllegalStateException("engine closed");
            }
        }
    }
}
