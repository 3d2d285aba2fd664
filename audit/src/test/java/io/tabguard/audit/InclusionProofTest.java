package io.tabguard.audit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tabguard.audit.internal.CanonicalEncoding;
import io.tabguard.audit.internal.Checkpoint;
import io.tabguard.audit.internal.KeyFiles;
import io.tabguard.audit.internal.Merkle;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InclusionProofTest {
    @TempDir
    Path dir;

    @Test
    void proofsForSeveralRecordsVerifyAndTamperedOnesFail() throws Exception {
        Path log = Fixtures.writeLog(dir, "p.log", 100, 16);
        Path pub = KeyFiles.pubPath(log);
        List<String> lines = Fixtures.lines(log);
        for (long seq : new long[] {0, 1, 7, 16, 50, 63, 64, 100, 101}) {
            InclusionProof p = AuditVerifier.inclusionProof(log, seq, pub);
            assertEquals(seq, p.leafIndex());
            assertEquals(102, p.treeSize(), "against the final checkpoint");
            // the proven hash is the hash written in record seq's line
            String line = lines.stream().filter(l -> l.startsWith("{\"seq\":" + seq + ",")).findFirst().orElseThrow();
            assertEquals(TamperTest.rawField(line, "hash").replace("\"", ""), HexFormat.of().formatHex(p.recordHash()));
            assertTrue(AuditVerifier.verifyInclusion(p, pub), "proof for " + seq);
            assertTrue(AuditVerifier.verifyInclusion(p, Checkpoint.parseUnverified(p.checkpoint()).root()));

            // tampered path element
            List<byte[]> path = p.path();
            byte[] first = path.getFirst();
            first[0] ^= 1;
            InclusionProof badPath = new InclusionProof(seq, p.treeSize(), p.recordHash(), path, p.checkpoint());
            assertFalse(AuditVerifier.verifyInclusion(badPath, pub), "tampered path for " + seq);
            // another record's hash
            byte[] h = p.recordHash();
            h[31] ^= 1;
            assertFalse(AuditVerifier.verifyInclusion(
                    new InclusionProof(seq, p.treeSize(), h, p.path(), p.checkpoint()), pub));
            // another index
            long other = seq == 0 ? 1 : seq - 1;
            assertFalse(AuditVerifier.verifyInclusion(
                    new InclusionProof(other, p.treeSize(), p.recordHash(), p.path(), p.checkpoint()), pub));
            // a path element dropped
            List<byte[]> shorter = new ArrayList<>(p.path());
            shorter.removeLast();
            assertFalse(AuditVerifier.verifyInclusion(
                    new InclusionProof(seq, p.treeSize(), p.recordHash(), shorter, p.checkpoint()), pub));
        }
        // A checkpoint of another log does not vouch for this proof
        Path otherLog = Fixtures.writeLog(dir, "q.log", 100, 16);
        InclusionProof p = AuditVerifier.inclusionProof(log, 5);
        assertFalse(AuditVerifier.verifyInclusion(p, KeyFiles.pubPath(otherLog)));
        assertThrows(IllegalArgumentException.class, () -> AuditVerifier.inclusionProof(log, -1));
        assertThrows(IOException.class, () -> AuditVerifier.inclusionProof(log, 102));
    }

    @Test
    void merkleMatchesTheRfcDefinitionForEverySizeAndIndex() {
        List<byte[]> data = new ArrayList<>();
        List<byte[]> leaves = new ArrayList<>();
        Merkle.Frontier f = new Merkle.Frontier();
        for (int n = 1; n <= 40; n++) {
            byte[] d = CanonicalEncoding.sha256().digest(new byte[] {(byte) n});
            data.add(d);
            leaves.add(Merkle.leafHash(d));
            f.append(d);
            byte[] root = mth(data);
            assertArrayEquals(root, f.root(), "frontier root, size " + n);
            assertArrayEquals(root, Merkle.root(leaves, 0, n), "recursive root, size " + n);
            for (int m = 0; m < n; m++) {
                List<byte[]> path = Merkle.inclusionPath(leaves, m, n);
                assertTrue(Merkle.verifyInclusion(m, n, data.get(m), path, root), m + " in " + n);
                if (n > 1) {
                    assertFalse(Merkle.verifyInclusion(m, n, data.get((m + 1) % n), path, root));
                }
            }
        }
    }

    /** RFC 9162 §2.1.1, written directly from the definition. */
    private static byte[] mth(List<byte[]> d) {
        int n = d.size();
        if (n == 1) {
            var md = CanonicalEncoding.sha256();
            md.update((byte) 0);
            md.update(d.getFirst());
            return md.digest();
        }
        int k = 1;
        while (k * 2 < n) {
            k *= 2;
        }
        var md = CanonicalEncoding.sha256();
        md.update((byte) 1);
        md.update(mth(d.subList(0, k)));
        md.update(mth(d.subList(k, n)));
        return md.digest();
    }

    @Test
    void emptyTreeRootIsHashOfNothing() throws Exception {
        assertArrayEquals(java.security.MessageDigest.getInstance("SHA-256").digest(new byte[0]),
                new Merkle.Frontier().root());
        assertTrue(Files.notExists(dir.resolve("nothing")));
    }
}
