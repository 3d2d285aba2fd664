package io.tabguard.audit;

import io.tabguard.audit.internal.NoteKey;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** The text of a checkpoint's signature line admits exactly one spelling: any other byte is an edit. */
class CheckpointSignatureTextTest {
    private static final String BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    @Test
    void everyOtherLastBase64CharacterOfTheSignatureIsRefused(@TempDir Path dir) throws Exception {
        Path log = Fixtures.writeLog(dir, "a.jsonl", 20, 8);
        NoteKey key = Fixtures.pub(log);
        List<String> lines = Fixtures.lines(log);
        assertTrue(Fixtures.verify(lines, key).intact(), "the valid twin verifies");
        int last = lines.size() - 1;
        String checkpoint = lines.get(last);
        assertTrue(Fixtures.isCheckpoint(checkpoint));
        int pad = checkpoint.lastIndexOf("=\\n\"}");
        assertTrue(pad > 0, "a 68-byte signature ends with one '=' of padding: " + checkpoint);
        char original = checkpoint.charAt(pad - 1);
        int refused = 0;
        for (char c : BASE64.toCharArray()) {
            if (c == original) {
                continue;
            }
            List<String> edited = new ArrayList<>(lines);
            edited.set(last, checkpoint.substring(0, pad - 1) + c + checkpoint.substring(pad));
            VerificationReport report = Fixtures.verify(edited, key);
            assertFalse(report.intact(), "signature character " + original + " -> " + c + " verified: " + report.describe());
            refused++;
        }
        // three of these only change bits the base64 decoder ignores: they were the malleable ones
        assertEquals(BASE64.length() - 1, refused);
    }

    @Test
    void aSecondSignatureLineFromAnUnknownKeyIsRefused(@TempDir Path dir) throws Exception {
        Path log = Fixtures.writeLog(dir, "b.jsonl", 20, 8);
        NoteKey key = Fixtures.pub(log);
        List<String> lines = Fixtures.lines(log);
        int last = lines.size() - 1;
        String checkpoint = lines.get(last);
        assertTrue(checkpoint.endsWith("\\n\"}"), checkpoint);
        List<String> edited = new ArrayList<>(lines);
        edited.set(last, checkpoint.substring(0, checkpoint.length() - 2)
                + "\\u2014 evil.example/k AAAAAAAAAAAAAAAAAAAA\\n\"}");
        VerificationReport report = Fixtures.verify(edited, key);
        assertFalse(report.intact(), report.describe());
        assertEquals(lines.size(), report.firstBadLine(), report.describe());
    }
}
