package io.tabguard.testkit.arch;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.AccessTarget;
import com.tngtech.archunit.core.domain.JavaAccess;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaCodeUnit;
import com.tngtech.archunit.core.domain.JavaFieldAccess;
import com.tngtech.archunit.core.domain.JavaMethodCall;
import com.tngtech.archunit.core.domain.JavaModifier;
import com.tngtech.archunit.lang.ArchCondition;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.lang.ConditionEvents;
import com.tngtech.archunit.lang.SimpleConditionEvent;
import com.tngtech.archunit.library.dependencies.SliceRule;

import java.lang.foreign.AddressLayout;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.reflect.AccessibleObject;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAPackage;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.constructors;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.methods;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

/**
 * Tabguard's architecture, as ArchUnit rules over a {@link Layout}: the real one ({@code io.tabguard})
 * and a miniature one in this module's test sources ({@code io.tabguard.testkit.archfixture}) whose
 * classes break each rule on purpose. {@link ArchitectureTest} checks every rule against both: the
 * real code must pass, and each rule must fail on its fixture, naming the fixture's violating class.
 */
final class ArchitectureRules {
    private ArchitectureRules() {}

    /** Where the four library modules' packages and the classes the rules name live, under one root package. */
    record Layout(String root) {
        String guard() { return root + ".guard"; }
        String audit() { return root + ".audit"; }
        String ffm() { return root + ".ffm"; }
        String registry() { return root + ".registry"; }
        String nativeAccess() { return root + ".ffm.internal.NativeAccess"; }
        String tableImpl() { return root + ".registry.internal.TableImpl"; }
        String registryClass() { return root + ".registry.Registry"; }
        String tableBuilder() { return root + ".registry.TableBuilder"; }
        String stamper() { return root + ".guard.internal.TableStamper"; }
        String verifier() { return root + ".guard.internal.TableVerifier"; }
        String macComparison() { return root + ".guard.internal.MacComparison"; }
        String signingKey() { return root + ".guard.internal.SigningKey"; }

        /** The library's own packages (the test kit and the examples are consumers, with rules of their own). */
        String[] libraryPackages() {
            return new String[]{guard() + "..", audit() + "..", ffm() + "..", registry() + ".."};
        }
    }

    static final Layout REAL = new Layout("io.tabguard");
    static final Layout FIXTURE = new Layout("io.tabguard.testkit.archfixture");

    // ---- restricted FFM methods -------------------------------------------------------------------

    /**
     * The restricted methods of Java 25 (JEP 454 and JEP 472): the linker's downcalls and upcalls,
     * library lookups, {@code MemorySegment.reinterpret}, {@code AddressLayout.withTargetLayout},
     * JNI library loading, and granting native access at run time.
     */
    static final DescribedPredicate<JavaMethodCall> RESTRICTED_CALL = new DescribedPredicate<>("a restricted method") {
        @Override
        public boolean test(JavaMethodCall call) {
            AccessTarget.MethodCallTarget t = call.getTarget();
            JavaClass owner = t.getOwner();
            String name = t.getName();
            return owner.isAssignableTo(Linker.class) && Set.of("downcallHandle", "upcallStub").contains(name)
                    || owner.isAssignableTo(SymbolLookup.class) && name.equals("libraryLookup")
                    || owner.isAssignableTo(MemorySegment.class) && name.equals("reinterpret")
                    || owner.isAssignableTo(AddressLayout.class) && name.equals("withTargetLayout")
                    || (owner.isEquivalentTo(System.class) || owner.isEquivalentTo(Runtime.class))
                       && Set.of("load", "loadLibrary").contains(name)
                    || owner.isEquivalentTo(ModuleLayer.Controller.class) && name.equals("enableNativeAccess");
        }
    };

    /** Only the native module touches the linker and symbol lookups at all. */
    static ArchRule linkerOnlyInNative(Layout l) {
        return noClasses().that().resideInAnyPackage(l.libraryPackages()).and().resideOutsideOfPackage(l.ffm() + "..")
                .should().dependOnClassesThat().belongToAnyOf(Linker.class, SymbolLookup.class)
                .because("only " + l.ffm() + " is granted native access");
    }

    /** No restricted method is called outside the native module. */
    static ArchRule restrictedOnlyInNative(Layout l) {
        return noClasses().that().resideInAnyPackage(l.libraryPackages()).and().resideOutsideOfPackage(l.ffm() + "..")
                .should().callMethodWhere(RESTRICTED_CALL)
                .because("only " + l.ffm() + " is granted native access");
    }

    /** Within the native module, one class calls restricted methods, so that one class states the preconditions. */
    static ArchRule restrictedOnlyInNativeAccess(Layout l) {
        return noClasses().that().resideInAnyPackage(l.libraryPackages()).and().doNotHaveFullyQualifiedName(l.nativeAccess())
                .should().callMethodWhere(RESTRICTED_CALL)
                .because(l.nativeAccess() + " is the one class that calls restricted methods");
    }

    // ---- module dependencies ----------------------------------------------------------------------

    private static DescribedPredicate<JavaClass> oursBut(Layout l, String ownPackage) {
        return resideInAPackage(l.root() + "..").and(DescribedPredicate.not(resideInAPackage(ownPackage + "..")))
                .as("classes of " + l.root() + " outside " + ownPackage);
    }

    static ArchRule guardDependsOnNothingOfOurs(Layout l) {
        return noClasses().that().resideInAPackage(l.guard() + "..")
                .should().dependOnClassesThat(oursBut(l, l.guard()));
    }

    static ArchRule auditDependsOnNothingOfOurs(Layout l) {
        return noClasses().that().resideInAPackage(l.audit() + "..")
                .should().dependOnClassesThat(oursBut(l, l.audit()));
    }

    static ArchRule nativeDoesNotDependOnRegistry(Layout l) {
        return noClasses().that().resideInAPackage(l.ffm() + "..")
                .should().dependOnClassesThat().resideInAPackage(l.registry() + "..");
    }

    /** No cycle between the four modules (each slice is one top-level package under the root). */
    static ArchRule noCyclesBetweenModules(Layout l) {
        return slices().matching(l.root() + ".(*)..").should().beFreeOfCycles();
    }

    /**
     * No cycle between packages, each slice one package, with one allowance: a module's
     * {@code x.internal} package may depend back on its own API package {@code x} (the sealed
     * {@code CallbackTable} permits {@code internal.TableImpl}, which implements it; the audit log's
     * internal scanner returns the API's {@code VerificationReport}). Any other cycle fails.
     */
    static ArchRule noCyclesBetweenPackages(Layout l) {
        SliceRule rule = slices().matching(l.root() + ".(**)").should().beFreeOfCycles();
        for (String api : List.of(l.guard(), l.audit(), l.ffm(), l.registry())) {
            rule = rule.ignoreDependency(resideInAPackage(api + ".internal"), resideInAPackage(api));
        }
        return rule;
    }

    // ---- who may make and stamp tables ------------------------------------------------------------

    private static DescribedPredicate<JavaCodeUnit> codeUnit(String owner, String name) {
        return DescribedPredicate.describe(owner + "." + name,
                (JavaCodeUnit u) -> u.getOwner().getName().equals(owner) && u.getName().equals(name));
    }

    /**
     * The table implementation is constructed only in {@code Registry.seal}, the builder's back end, and
     * in {@code TableImpl.asTableOf}, which makes a view (another schema object's eyes) of a table seal made.
     */
    static ArchRule tableImplConstructedOnlyBySeal(Layout l) {
        return constructors().that().areDeclaredIn(l.tableImpl())
                .should().onlyBeCalled().byCodeUnitsThat(codeUnit(l.registryClass(), "seal").or(codeUnit(l.tableImpl(), "asTableOf")));
    }

    /** ... and {@code Registry.seal} is reached only from {@code TableBuilder.build}. */
    static ArchRule sealCalledOnlyByTheBuilder(Layout l) {
        return methods().that().areDeclaredIn(l.registryClass()).and().haveName("seal")
                .should().onlyBeCalled().byCodeUnitsThat(codeUnit(l.tableBuilder(), "build"));
    }

    /** Stamping happens in the builder's back end and in key rotation, nowhere else. */
    static ArchRule stampOnlyByBuilderAndRotation(Layout l) {
        return methods().that().areDeclaredIn(l.stamper()).and().arePublic()
                .should().onlyBeCalled().byCodeUnitsThat(
                        codeUnit(l.registryClass(), "seal").or(codeUnit(l.tableImpl(), "resign")));
    }

    /** Only the verifier (hence the stamper, through it) computes table MACs. */
    static ArchRule macComputedOnlyByTheVerifier(Layout l) {
        return methods().that().areDeclaredIn(l.signingKey()).and().haveName("mac")
                .should().onlyBeCalled().byClassesThat().haveFullyQualifiedName(l.verifier());
    }

    // ---- constant-time MAC comparison -------------------------------------------------------------

    private static final DescribedPredicate<JavaMethodCall> VARIABLE_TIME_BYTE_COMPARE =
            DescribedPredicate.describe("a variable-time byte[] comparison (Arrays.equals/mismatch/compare on byte[])",
                    (JavaMethodCall call) -> {
                        AccessTarget.MethodCallTarget t = call.getTarget();
                        return t.getOwner().isEquivalentTo(Arrays.class)
                                && Set.of("equals", "mismatch", "compare", "compareUnsigned").contains(t.getName())
                                && !t.getRawParameterTypes().isEmpty()
                                && t.getRawParameterTypes().getFirst().isEquivalentTo(byte[].class);
                    });

    /** No byte arrays compared in variable time anywhere in guard (where MACs live). */
    static ArchRule noVariableTimeByteCompareInGuard(Layout l) {
        return noClasses().that().resideInAPackage(l.guard() + "..")
                .should().callMethodWhere(VARIABLE_TIME_BYTE_COMPARE);
    }

    /** {@code MessageDigest.isEqual} is wrapped once, in the helper, in guard. */
    static ArchRule constantTimeCompareOnlyInHelper(Layout l) {
        return noClasses().that().resideInAPackage(l.guard() + "..").and().doNotHaveFullyQualifiedName(l.macComparison())
                .should().callMethod(MessageDigest.class, "isEqual", byte[].class, byte[].class);
    }

    /** And the verifier does go through the helper (so the two rules above are not satisfied by comparing nothing). */
    static ArchRule verifierUsesTheHelper(String verifier, String macComparison) {
        return classes().that().haveFullyQualifiedName(verifier)
                .should().callMethod(macComparison, "equal", byte[].class.getName(), byte[].class.getName());
    }

    // ---- hygiene ----------------------------------------------------------------------------------

    private static boolean isCommandLineMain(JavaCodeUnit u) {
        return u.getName().equals("main") && u.getModifiers().containsAll(Set.of(JavaModifier.PUBLIC, JavaModifier.STATIC))
                && u.getRawParameterTypes().size() == 1 && u.getRawParameterTypes().getFirst().isEquivalentTo(String[].class);
    }

    private static final ArchCondition<JavaClass> WRITE_TO_STANDARD_STREAMS =
            new ArchCondition<>("write to System.out/System.err or call printStackTrace() (outside a command-line main)") {
                @Override
                public void check(JavaClass c, ConditionEvents events) {
                    for (JavaAccess<?> access : c.getAccessesFromSelf()) {
                        boolean stream = access instanceof JavaFieldAccess f
                                && f.getTarget().getOwner().isEquivalentTo(System.class)
                                && Set.of("out", "err").contains(f.getTarget().getName())
                                && !isCommandLineMain(f.getOrigin());
                        boolean trace = access instanceof JavaMethodCall m
                                && m.getTarget().getOwner().isAssignableTo(Throwable.class)
                                && m.getTarget().getName().equals("printStackTrace");
                        if (stream || trace) {
                            events.add(SimpleConditionEvent.satisfied(access, access.getDescription()));
                        }
                    }
                }
            };

    /**
     * Main code logs through {@code System.Logger} and the audit trail, never to the standard streams.
     * The one exception is a command line's {@code public static void main(String[])} handing the
     * streams to the code that prints its report (the audit verifier's CLI).
     */
    static ArchRule noStandardStreams(Layout l) {
        return noClasses().that().resideInAnyPackage(l.libraryPackages()).should(WRITE_TO_STANDARD_STREAMS);
    }

    static ArchRule noUnsafe(Layout l) {
        return noClasses().that().resideInAnyPackage(l.libraryPackages())
                .should().dependOnClassesThat().haveFullyQualifiedName("sun.misc.Unsafe")
                .orShould().dependOnClassesThat().haveFullyQualifiedName("jdk.internal.misc.Unsafe");
    }

    static ArchRule noSetAccessible(Layout l) {
        return noClasses().that().resideInAnyPackage(l.libraryPackages())
                .should().callMethodWhere(DescribedPredicate.describe("setAccessible/trySetAccessible",
                        (JavaMethodCall call) -> call.getTarget().getOwner().isAssignableTo(AccessibleObject.class)
                                && Set.of("setAccessible", "trySetAccessible").contains(call.getTarget().getName())));
    }
}
