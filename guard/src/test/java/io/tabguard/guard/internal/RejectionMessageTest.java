package io.tabguard.guard.internal;

import io.tabguard.guard.TableRejectedException;
import io.tabguard.guard.internal.RejectionCases.Case;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A refusal's message names the violation and offset, and leaks neither key nor signature. */
class RejectionMessageTest {

    static List<Case> cases() {
        return RejectionCases.all();
    }

    /** Hex (both cases) and Base64 of every test key the cases use, and hex of each key's 8-byte windows. */
    private static List<String> secrets() {
        return IntStream.rangeClosed(1, 3).boxed().flatMap(seed -> {
            byte[] key = TestTables.keyBytes(seed);
            String hex = HexFormat.of().formatHex(key);
            return java.util.stream.Stream.concat(
                    java.util.stream.Stream.of(hex, hex.toUpperCase(Locale.ROOT), Base64.getEncoder().encodeToString(key)),
                    IntStream.rangeClosed(0, key.length - 8).mapToObj(i -> hex.substring(2 * i, 2 * i + 16)));
        }).toList();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void messageNamesViolationAndOffsetAndNoSecret(Case c) {
        TableRejectedException e = assertThrows(TableRejectedException.class, () -> c.refused().verify());
        String message = e.getMessage();
        String lower = message.toLowerCase(Locale.ROOT);
        byte[] table = c.refused().table();
        String signatureHex = table.length >= io.tabguard.guard.AbiV1.HEADER_SIZE
                ? HexFormat.of().formatHex(table, io.tabguard.guard.AbiV1.OFFSET_SIGNATURE,
                        io.tabguard.guard.AbiV1.OFFSET_SIGNATURE + 8)
                : null;
        assertAll(
                () -> assertTrue(message.contains(e.violation().name()), message),
                () -> assertTrue(message.contains("offset " + e.offset()), message),
                () -> assertTrue(message.contains(e.violation().meaning()), message),
                () -> secrets().forEach(secret -> assertFalse(message.contains(secret) || lower.contains(secret),
                        "key material in: " + message)),
                () -> assertFalse(signatureHex != null && lower.contains(signatureHex), "signature bytes in: " + message));
    }
}
