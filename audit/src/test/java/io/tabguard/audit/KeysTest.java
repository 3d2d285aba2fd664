package io.tabguard.audit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tabguard.audit.VerificationReport.Reason;
import io.tabguard.audit.internal.Checkpoint;
import io.tabguard.audit.internal.KeyFiles;
import io.tabguard.audit.internal.LogFormat;
import io.tabguard.audit.internal.NoteKey;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KeysTest {
    @TempDir
    Path dir;

    @Test
    void logVerifiedWithAnotherLogsKeyIsRefused() throws Exception {
        Path a = Fixtures.writeLog(dir, "a.log", 40, 16);
        Path b = Fixtures.writeLog(dir, "b.log", 40, 16);
        assertTrue(AuditVerifier.verify(a).intact());
        VerificationReport r = AuditVerifier.verify(a, KeyFiles.pubPath(b));
        assertFalse(r.intact());
        assertEquals(Reason.BAD_CHECKPOINT_SIGNATURE, r.reason(), r.describe());
        assertEquals(16, r.firstBadSeq(), "the first checkpoint is the first thing the wrong key cannot verify");
    }

    @Test
    void checkpointResignedWithADifferentKeyIsRefused() throws Exception {
        Path log = Fixtures.writeLog(dir, "c.log", 40, 16);
        NoteKey pub = Fixtures.pub(log);
        List<String> lines = Fixtures.lines(log);
        int last = lines.size() - 1;
        String note = LogFormat.parse(lines.get(last)).checkpointNote();
        Checkpoint cp = Checkpoint.parseUnverified(note);
        SecureRandom rnd = new SecureRandom();

        // 1. another key under the same name (so another key id)
        NoteKey sameName = NoteKey.generate(pub.name(), rnd);
        // 2. another key and name
        NoteKey otherName = NoteKey.generate("attacker.example/log", rnd);
        List<String> forgedNotes = new ArrayList<>();
        forgedNotes.add(cp.sign(sameName));
        forgedNotes.add(cp.sign(otherName));
        // 3. the real key's name and id on a signature made by another key
        String wrongSig = cp.sign(sameName);
        int sp = wrongSig.lastIndexOf(' ');
        byte[] blob = Base64.getDecoder().decode(wrongSig.substring(sp + 1).strip());
        int id = pub.keyId();
        blob[0] = (byte) (id >>> 24);
        blob[1] = (byte) (id >>> 16);
        blob[2] = (byte) (id >>> 8);
        blob[3] = (byte) id;
        forgedNotes.add(wrongSig.substring(0, sp + 1) + Base64.getEncoder().encodeToString(blob) + "\n");
        // 4. the genuine signature kept, but the size changed in the text
        forgedNotes.add(note.replaceFirst("\n" + cp.treeSize() + "\n", "\n" + (cp.treeSize() + 1) + "\n"));

        for (String forged : forgedNotes) {
            List<String> v = new ArrayList<>(lines);
            v.set(last, LogFormat.checkpointLine(forged));
            VerificationReport r = Fixtures.verify(v, pub);
            assertFalse(r.intact(), forged);
            assertEquals(Reason.BAD_CHECKPOINT_SIGNATURE, r.reason(), r.describe());
            assertEquals(cp.treeSize(), r.firstBadSeq());
            assertEquals(last + 1, r.firstBadLine());
        }
        // An extra signature alongside the genuine one: a general C2SP verifier would ignore it, but a
        // Tabguard checkpoint has exactly one signer, and any added byte is an edit of the log.
        String extra = otherName.signNote(note.substring(0, note.lastIndexOf("\n\n") + 1));
        String both = note + extra.substring(extra.lastIndexOf("\n\n") + 2);
        List<String> v = new ArrayList<>(lines);
        v.set(last, LogFormat.checkpointLine(both));
        VerificationReport withExtra = Fixtures.verify(v, pub);
        assertFalse(withExtra.intact());
        assertEquals(last + 1, withExtra.firstBadLine(), withExtra.describe());
    }

    @Test
    void keyIdFollowsTheSignedNoteSpec() throws Exception {
        // key ID = SHA-256(name || 0x0A || 0x01 || 32-byte public key)[:4]
        NoteKey k = NoteKey.generate("example.com/test", new SecureRandom());
        var d = java.security.MessageDigest.getInstance("SHA-256");
        d.update("example.com/test".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        d.update((byte) 0x0A);
        d.update((byte) 0x01);
        d.update(k.publicKey());
        byte[] h = d.digest();
        assertEquals(java.nio.ByteBuffer.wrap(h, 0, 4).getInt(), k.keyId());
        NoteKey parsed = NoteKey.parseVerifier(k.verifierText());
        assertEquals(k.keyId(), parsed.keyId());
        assertFalse(parsed.canSign());
        NoteKey signer = NoteKey.parseSigner(k.signerText());
        assertEquals(k.verifierText(), signer.verifierText());
        assertFalse(k.toString().contains("PRIVATE"), "toString must not show the private key");
        // a verifier key whose id does not match its name and key is refused
        String bad = k.verifierText().replaceFirst("\\+[0-9a-f]{8}\\+", "+00000000+");
        assertThrows(IllegalArgumentException.class, () -> NoteKey.parseVerifier(bad));
    }

    @Test
    void openRefusesALogWithoutItsKeyAndAMismatchedPub() throws Exception {
        Path log = Fixtures.writeLog(dir, "d.log", 5, 16);
        Path key = KeyFiles.keyPath(log);
        Path saved = dir.resolve("saved.key");
        Files.move(key, saved);
        IOException e = assertThrows(IOException.class, () -> AuditLog.open(log));
        assertTrue(e.getMessage().contains("missing"), e.getMessage());
        Files.move(saved, key);

        Path pub = KeyFiles.pubPath(log);
        String realPub = Files.readString(pub);
        Path other = Fixtures.writeLog(dir, "e.log", 1, 16);
        Files.copy(KeyFiles.pubPath(other), pub, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        assertThrows(IOException.class, () -> AuditLog.open(log));
        Files.writeString(pub, realPub);
        AuditLog.open(log).close();
        assertTrue(AuditVerifier.verify(log).intact());
    }

    @Test
    void aLogCannotBeOpenedTwice() throws Exception {
        Path log = dir.resolve("twice.log");
        AuditLog a = AuditLog.open(log);
        try {
            assertThrows(IOException.class, () -> AuditLog.open(log));
        } finally {
            a.close();
        }
        assertTrue(AuditVerifier.verify(log).intact());
    }

    @Test
    void malformedKeyFileIsAnIoError() throws Exception {
        Path log = Fixtures.writeLog(dir, "m.log", 1, 16);
        Path badPub = dir.resolve("bad.pub");
        Files.writeString(badPub, "not a key\n");
        assertThrows(IOException.class, () -> AuditVerifier.verify(log, badPub));
    }
}
