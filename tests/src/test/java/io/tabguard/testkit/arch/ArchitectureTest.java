package io.tabguard.testkit.arch;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchRule;
import io.tabguard.testkit.arch.ArchitectureRules.Layout;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.List;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Every architecture rule holds for Tabguard's four library modules, and fails — for the class it is
 * about — on a miniature layout made to break it ({@code io.tabguard.testkit.archfixture}). The
 * failing examples are permanent: a rule that could no longer fail would fail this test.
 */
class ArchitectureTest {

    /** Each rule, and the fixture classes (simple names) whose violations it must report, and no others. */
    enum Rule {
        LINKER_ONLY_IN_NATIVE(ArchitectureRules::linkerOnlyInNative, List.of("RegistryTouchesNative"),
                List.of("NativeAccess", "SneakyReinterpret")),
        RESTRICTED_ONLY_IN_NATIVE(ArchitectureRules::restrictedOnlyInNative, List.of("RegistryTouchesNative.widen"),
                List.of("NativeAccess", "SneakyReinterpret", "RegistryTouchesNative.linker")),
        RESTRICTED_ONLY_IN_NATIVE_ACCESS(ArchitectureRules::restrictedOnlyInNativeAccess,
                List.of("SneakyReinterpret.widen", "RegistryTouchesNative.widen"), List.of("NativeAccess.")),
        GUARD_DEPENDS_ON_NOTHING_OF_OURS(ArchitectureRules::guardDependsOnNothingOfOurs, List.of("GuardUsesRegistry"),
                List.of("TableStamper", "TableVerifier", "LeakyMacCheck")),
        AUDIT_DEPENDS_ON_NOTHING_OF_OURS(ArchitectureRules::auditDependsOnNothingOfOurs, List.of("AuditUsesGuard"),
                List.of("ApiUsesInternal", "InternalUsesApi", "CommandLine")),
        NATIVE_NOT_ON_REGISTRY(ArchitectureRules::nativeDoesNotDependOnRegistry, List.of("NativeUsesRegistry"),
                List.of("NativeAccess", "SneakyReinterpret")),
        NO_CYCLES_BETWEEN_MODULES(ArchitectureRules::noCyclesBetweenModules, List.of("GuardUsesRegistry"),
                List.of("CycleBack")),
        NO_CYCLES_BETWEEN_PACKAGES(ArchitectureRules::noCyclesBetweenPackages, List.of("CycleStart", "CycleBack"),
                List.of("ApiUsesInternal", "InternalUsesApi")),
        TABLE_IMPL_CONSTRUCTED_ONLY_BY_SEAL(ArchitectureRules::tableImplConstructedOnlyBySeal, List.of("ForgesTables.forge"),
                List.of("Registry.seal", "ForgesTables.restamp")),
        SEAL_CALLED_ONLY_BY_THE_BUILDER(ArchitectureRules::sealCalledOnlyByTheBuilder, List.of("BypassesTheBuilder.seal"),
                List.of("TableBuilder.build")),
        STAMP_ONLY_BY_BUILDER_AND_ROTATION(ArchitectureRules::stampOnlyByBuilderAndRotation, List.of("ForgesTables.restamp"),
                List.of("Registry.seal", "TableImpl.resign", "ForgesTables.forge")),
        MAC_COMPUTED_ONLY_BY_THE_VERIFIER(ArchitectureRules::macComputedOnlyByTheVerifier, List.of("LeakyMacCheck.macsOnItsOwn"),
                List.of("TableVerifier.signature")),
        NO_VARIABLE_TIME_BYTE_COMPARE_IN_GUARD(ArchitectureRules::noVariableTimeByteCompareInGuard, List.of("LeakyMacCheck.earlyExit"),
                List.of("MacComparison", "bypassesTheHelper")),
        CONSTANT_TIME_COMPARE_ONLY_IN_HELPER(ArchitectureRules::constantTimeCompareOnlyInHelper,
                List.of("LeakyMacCheck.bypassesTheHelper"), List.of("MacComparison.equal", "earlyExit")),
        NO_STANDARD_STREAMS(ArchitectureRules::noStandardStreams, List.of("PrintsToStdout.debug", "PrintsStackTrace.swallow"),
                List.of("CommandLine")),
        NO_UNSAFE(ArchitectureRules::noUnsafe, List.of("UsesUnsafe"), List.of("BreaksEncapsulation")),
        NO_SET_ACCESSIBLE(ArchitectureRules::noSetAccessible, List.of("BreaksEncapsulation.read"), List.of("UsesUnsafe"));

        final Function<Layout, ArchRule> rule;
        final List<String> violators;
        final List<String> innocents;

        Rule(Function<Layout, ArchRule> rule, List<String> violators, List<String> innocents) {
            this.rule = rule;
            this.violators = violators;
            this.innocents = innocents;
        }
    }

    private static JavaClasses real;
    private static JavaClasses fixture;

    @BeforeAll
    static void importClasses() {
        real = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("io.tabguard.guard", "io.tabguard.audit", "io.tabguard.ffm", "io.tabguard.registry");
        fixture = new ClassFileImporter().importPackages("io.tabguard.testkit.archfixture");
    }

    @Test
    void theRealImportHoldsEveryModuleAndTheClassesTheRulesName() {
        Layout l = ArchitectureRules.REAL;
        for (String pkg : List.of(l.guard(), l.audit(), l.ffm(), l.registry())) {
            long count = real.stream().filter(c -> c.getPackageName().startsWith(pkg)).count();
            assertTrue(count >= 3, "only " + count + " classes imported from " + pkg + ": the rules would pass vacuously");
        }
        for (String name : List.of(l.nativeAccess(), l.tableImpl(), l.registryClass(), l.tableBuilder(), l.stamper(),
                l.verifier(), l.macComparison(), l.signingKey(), "io.tabguard.audit.AuditVerifier",
                "io.tabguard.audit.AuditCommand", "io.tabguard.ffm.internal.DispatchGate")) {
            assertTrue(real.contain(name), name + " was not imported");
        }
        assertTrue(real.stream().noneMatch(c -> c.getPackageName().startsWith("io.tabguard.testkit")),
                "the test kit is not part of the library");
        assertTrue(fixture.contain(ArchitectureRules.FIXTURE.tableImpl()));
        assertTrue(fixture.size() >= 20, "fixture classes: " + fixture.size());
    }

    @ParameterizedTest
    @EnumSource(Rule.class)
    void holdsForTabguard(Rule rule) {
        rule.rule.apply(ArchitectureRules.REAL).check(real);
    }

    @ParameterizedTest
    @EnumSource(Rule.class)
    void failsOnItsFixtureForTheViolatorOnly(Rule rule) {
        AssertionError failure = assertThrows(AssertionError.class,
                () -> rule.rule.apply(ArchitectureRules.FIXTURE).check(fixture), rule + " did not fail on its fixture");
        // the rule's own description (first line) names the allowed code units; judge the violations only
        String message = failure.getMessage();
        String report = message.substring(message.indexOf("was violated"));
        for (String violator : rule.violators) {
            assertTrue(report.contains(violator), rule + " does not name " + violator + ":\n" + report);
        }
        for (String innocent : rule.innocents) {
            assertFalse(report.contains(innocent), rule + " wrongly names " + innocent + ":\n" + report);
        }
    }

    /**
     * The positive rule: the verifier compares MACs through the helper (so the two "never compare
     * otherwise" rules cannot pass by the verifier comparing nothing). Its failing example is a class
     * that compares MACs without the helper, checked as if it were the verifier.
     */
    @Test
    void theVerifierComparesMacsThroughTheHelper() {
        Layout l = ArchitectureRules.REAL;
        ArchitectureRules.verifierUsesTheHelper(l.verifier(), l.macComparison()).check(real);
        Layout f = ArchitectureRules.FIXTURE;
        ArchitectureRules.verifierUsesTheHelper(f.verifier(), f.macComparison()).check(fixture);
        AssertionError failure = assertThrows(AssertionError.class, () -> ArchitectureRules.verifierUsesTheHelper(
                f.root() + ".guard.internal.LeakyMacCheck", f.macComparison()).check(fixture));
        assertTrue(failure.getMessage().contains("LeakyMacCheck"), failure.getMessage());
    }
}
