package io.tabguard.audit.internal;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * The one canonical byte encoding of a log record, whose SHA-256 is the record's {@code hash}.
 * Stateless and thread-safe.
 *
 * <p>The encoding is the concatenation of, in this order (big-endian integers throughout):
 * <pre>
 *   "tabguard-audit-record-v1" 0x0A      the 25-byte domain separator (ASCII + newline)
 *   u64  seq
 *   str  time                            ISO-8601 instant exactly as written in the line
 *   str  type
 *   i64  serial
 *   ostr schema
 *   u64  schemaId
 *   ostr violation
 *   i64  offset                          -1 when none (two's complement)
 *   ostr detail
 *   u64  count
 *   ostr firstTime
 *   ostr lastTime
 *   32 bytes prev                        the previous record's hash, raw (zeros for seq 0)
 *
 *   str(s)  = u32 byte length of UTF-8(s) || UTF-8(s)
 *   ostr(s) = 0x00 when s is null, else 0x01 || str(s)
 * </pre>
 * The {@code hash} field itself is not encoded; the JSON field names are not encoded either (the
 * order above fixes each field's meaning). Strings must be well-formed UTF-16 (no unpaired
 * surrogate), so that their UTF-8 encoding is lossless; the reader refuses any other.
 */
public final class CanonicalEncoding {
    /** The domain separator that starts every encoding. */
    public static final byte[] DOMAIN = "tabguard-audit-record-v1\n".getBytes(StandardCharsets.US_ASCII);

    private CanonicalEncoding() {
    }

    /** The canonical encoding of {@code r} (its {@code hash} field is ignored). */
    public static byte[] encode(LogRecord r) {
        return fill(r).toArray();
    }

    private static Buf fill(LogRecord r) {
        Buf b = new Buf();
        b.put(DOMAIN);
        b.putLong(r.seq());
        b.putStr(r.time());
        b.putStr(r.type());
        b.putLong(r.serial());
        b.putOptStr(r.schema());
        b.putLong(r.schemaId());
        b.putOptStr(r.violation());
        b.putLong(r.offset());
        b.putOptStr(r.detail());
        b.putLong(r.count());
        b.putOptStr(r.firstTime());
        b.putOptStr(r.lastTime());
        if (r.prev().length != 32) {
            throw new IllegalArgumentException("prev must be 32 bytes");
        }
        b.put(r.prev());
        return b;
    }

    /** SHA-256 of {@link #encode(LogRecord)}. */
    public static byte[] hash(LogRecord r) {
        Buf b = fill(r);
        MessageDigest d = sha256();
        d.update(b.a, 0, b.n); // no copy of the encoding: the verifier hashes every record
        return d.digest();
    }

    private static final MessageDigest SHA256_PROTOTYPE = newSha256();

    /** A fresh SHA-256 digest (a clone of a prototype: a provider look-up per hash costs more than the hash). */
    public static MessageDigest sha256() {
        try {
            return (MessageDigest) SHA256_PROTOTYPE.clone();
        } catch (CloneNotSupportedException e) {
            return newSha256();
        }
    }

    private static MessageDigest newSha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required by every Java platform", e);
        }
    }

    private static final class Buf {
        private byte[] a = new byte[512];
        private int n;

        void ensure(int more) {
            if (n + more > a.length) {
                a = java.util.Arrays.copyOf(a, Math.max(a.length * 2, n + more));
            }
        }

        void put(byte[] bytes) {
            ensure(bytes.length);
            System.arraycopy(bytes, 0, a, n, bytes.length);
            n += bytes.length;
        }

        void putByte(int v) {
            ensure(1);
            a[n++] = (byte) v;
        }

        void putInt(int v) {
            ensure(4);
            for (int i = 3; i >= 0; i--) {
                a[n++] = (byte) (v >>> (8 * i));
            }
        }

        void putLong(long v) {
            ensure(8);
            for (int i = 7; i >= 0; i--) {
                a[n++] = (byte) (v >>> (8 * i));
            }
        }

        void putStr(String s) {
            byte[] u = s.getBytes(StandardCharsets.UTF_8);
            putInt(u.length);
            put(u);
        }

        void putOptStr(String s) {
            if (s == null) {
                putByte(0);
            } else {
                putByte(1);
                putStr(s);
            }
        }

        byte[] toArray() {
            return java.util.Arrays.copyOf(a, n);
        }
    }
}
