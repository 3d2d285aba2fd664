package io.tabguard.audit.internal;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import org.bouncycastle.crypto.params.Ed25519PrivateKeyParameters;
import org.bouncycastle.crypto.params.Ed25519PublicKeyParameters;
import org.bouncycastle.crypto.signers.Ed25519Signer;

/**
 * An Ed25519 key of the C2SP signed-note format (https://c2sp.org/signed-note): its name, its 4-byte
 * key id = SHA-256(name || 0x0A || 0x01 || 32-byte public key)[:4], and its text forms
 * <ul>
 *   <li>verifier key: {@code <name>+<8 hex key id>+<base64(0x01 || public key)>}</li>
 *   <li>signer key: {@code PRIVATE+KEY+<name>+<8 hex key id>+<base64(0x01 || private seed)>}</li>
 * </ul>
 * Immutable and thread-safe (each signature uses a fresh signer). {@link #toString()} never shows
 * private key material.
 */
public final class NoteKey {
    /** The C2SP signature type byte of Ed25519. */
    public static final byte ALG_ED25519 = 0x01;
    /** The prefix of a signed note's signature line: em dash, space. */
    public static final String SIG_PREFIX = "\u2014 ";
    private static final HexFormat HEX = HexFormat.of();
    private static final int MAX_SIGNATURES = 16;

    private final String name;
    private final byte[] publicKey;
    private final int keyId;
    private final Ed25519PrivateKeyParameters privateKey; // null for a verifier-only key

    private NoteKey(String name, byte[] publicKey, Ed25519PrivateKeyParameters privateKey) {
        this.name = name;
        this.publicKey = publicKey.clone();
        this.privateKey = privateKey;
        this.keyId = keyId(name, publicKey);
    }

    /** A new random signing key called {@code name}. */
    public static NoteKey generate(String name, SecureRandom random) {
        requireValidName(name);
        Ed25519PrivateKeyParameters priv = new Ed25519PrivateKeyParameters(random);
        return new NoteKey(name, priv.generatePublicKey().getEncoded(), priv);
    }

    /** Parses a verifier key ({@code name+hexid+base64}). */
    public static NoteKey parseVerifier(String text) {
        // base64 may itself contain '+': only the first two '+' separate fields (as Go's note package does)
        String[] parts = text.strip().split("\\+", 3);
        if (parts.length != 3) {
            throw new IllegalArgumentException("a verifier key has the form <name>+<hex key id>+<base64 key>");
        }
        byte[] data = decodeKeyData(parts[2]);
        requireValidName(parts[0]);
        try {
            new Ed25519PublicKeyParameters(data, 0); // BC checks the encoding here, not at each verify
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("the key is not a valid Ed25519 public key");
        }
        NoteKey k = new NoteKey(parts[0], data, null);
        k.requireId(parts[1]);
        return k;
    }

    /** Parses a signer key ({@code PRIVATE+KEY+name+hexid+base64}). */
    public static NoteKey parseSigner(String text) {
        String[] parts = text.strip().split("\\+", 5);
        if (parts.length != 5 || !parts[0].equals("PRIVATE") || !parts[1].equals("KEY")) {
            throw new IllegalArgumentException("a signer key has the form PRIVATE+KEY+<name>+<hex key id>+<base64 key>");
        }
        requireValidName(parts[2]);
        byte[] seed = decodeKeyData(parts[4]);
        try {
            Ed25519PrivateKeyParameters priv = new Ed25519PrivateKeyParameters(seed, 0);
            NoteKey k = new NoteKey(parts[2], priv.generatePublicKey().getEncoded(), priv);
            k.requireId(parts[3]);
            return k;
        } finally {
            Arrays.fill(seed, (byte) 0);
        }
    }

    private static byte[] decodeKeyData(String b64) {
        byte[] data;
        try {
            data = Base64.getDecoder().decode(b64);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("the key is not valid base64");
        }
        if (data.length != 33 || data[0] != ALG_ED25519) {
            throw new IllegalArgumentException("the key is not an Ed25519 (type 0x01) key");
        }
        return Arrays.copyOfRange(data, 1, 33);
    }

    private void requireId(String hexId) {
        if (hexId.length() != 8 || !hexId.equals(HEX.toHexDigits(keyId))) {
            throw new IllegalArgumentException("the key id does not match the key's name and public key");
        }
    }

    /** Key names must be non-empty and contain no Unicode space and no '+'. */
    public static void requireValidName(String name) {
        if (name == null || name.isEmpty() || name.indexOf('+') >= 0
                || name.codePoints().anyMatch(c -> Character.isWhitespace(c) || Character.isSpaceChar(c) || c < 0x20)) {
            throw new IllegalArgumentException("a key name must be non-empty, without spaces or '+'");
        }
    }

    static int keyId(String name, byte[] publicKey) {
        MessageDigest d = CanonicalEncoding.sha256();
        d.update(name.getBytes(StandardCharsets.UTF_8));
        d.update((byte) 0x0A);
        d.update(ALG_ED25519);
        d.update(publicKey);
        byte[] h = d.digest();
        return ((h[0] & 0xFF) << 24) | ((h[1] & 0xFF) << 16) | ((h[2] & 0xFF) << 8) | (h[3] & 0xFF);
    }

    public String name() {
        return name;
    }

    public int keyId() {
        return keyId;
    }

    public byte[] publicKey() {
        return publicKey.clone();
    }

    public boolean canSign() {
        return privateKey != null;
    }

    /** The verifier key text. */
    public String verifierText() {
        return name + "+" + HEX.toHexDigits(keyId) + "+" + Base64.getEncoder().encodeToString(prefixed(publicKey));
    }

    /** The signer key text; secret: never log it. */
    public String signerText() {
        byte[] seed = privateKey.getEncoded();
        byte[] data = prefixed(seed);
        try {
            return "PRIVATE+KEY+" + name + "+" + HEX.toHexDigits(keyId) + "+" + Base64.getEncoder().encodeToString(data);
        } finally {
            Arrays.fill(seed, (byte) 0);
            Arrays.fill(data, (byte) 0);
        }
    }

    private static byte[] prefixed(byte[] key) {
        byte[] out = new byte[33];
        out[0] = ALG_ED25519;
        System.arraycopy(key, 0, out, 1, 32);
        return out;
    }

    /** A signed note: {@code text} (ending in a newline), a blank line, and this key's signature line. */
    public String signNote(String text) {
        if (!text.endsWith("\n")) {
            throw new IllegalArgumentException("note text must end in a newline");
        }
        byte[] msg = text.getBytes(StandardCharsets.UTF_8);
        Ed25519Signer s = new Ed25519Signer();
        s.init(true, privateKey);
        s.update(msg, 0, msg.length);
        byte[] sig = s.generateSignature();
        byte[] blob = new byte[4 + sig.length];
        blob[0] = (byte) (keyId >>> 24);
        blob[1] = (byte) (keyId >>> 16);
        blob[2] = (byte) (keyId >>> 8);
        blob[3] = (byte) keyId;
        System.arraycopy(sig, 0, blob, 4, sig.length);
        return text + "\n" + SIG_PREFIX + name + " " + Base64.getEncoder().encodeToString(blob) + "\n";
    }

    /**
     * The text of a signed note (everything up to and including the newline before the last blank
     * line), after checking the note's shape: it ends in a newline, has no control character but
     * newlines, and has at least one non-empty signature line after its last blank line.
     *
     * @throws IllegalArgumentException with the reason, if the note is malformed
     */
    public static String noteText(String note) {
        if (note == null || !note.endsWith("\n")) {
            throw new IllegalArgumentException("the note does not end in a newline");
        }
        for (int i = 0; i < note.length(); i++) {
            char c = note.charAt(i);
            if (c < 0x20 && c != '\n') {
                throw new IllegalArgumentException("the note has a control character");
            }
        }
        int split = note.lastIndexOf("\n\n");
        if (split < 0) {
            throw new IllegalArgumentException("the note has no blank line before its signatures");
        }
        if (split + 2 >= note.length()) {
            throw new IllegalArgumentException("the note has no signature line after its blank line");
        }
        if (split == 0) {
            throw new IllegalArgumentException("the note has no text before its blank line");
        }
        return note.substring(0, split + 1);
    }

    /**
     * Verifies a signed note against this key per C2SP signed-note: signatures of other keys are
     * ignored, a signature of this key (same name and id) that does not verify rejects the note, and
     * at least one signature of this key must verify.
     *
     * @return the note text (ending in a newline)
     * @throws IllegalArgumentException with the reason, if the note is malformed or not signed by this key
     */
    public String openNote(String note) {
        String text = noteText(note);
        String[] sigLines = note.substring(text.length() + 1, note.length() - 1).split("\n", -1);
        if (sigLines.length > MAX_SIGNATURES) {
            throw new IllegalArgumentException("the note has too many signatures");
        }
        // A Tabguard checkpoint has exactly one signer, the log's key: a second line (even from a key
        // the C2SP spec would tell a general verifier to ignore) is an edit of the log.
        if (sigLines.length != 1) {
            throw new IllegalArgumentException("the note must carry exactly one signature, of key " + name);
        }
        byte[] msg = text.getBytes(StandardCharsets.UTF_8);
        boolean verified = false;
        for (String line : sigLines) {
            if (!line.startsWith(SIG_PREFIX)) {
                throw new IllegalArgumentException("malformed signature line");
            }
            String rest = line.substring(SIG_PREFIX.length());
            int sp = rest.indexOf(' ');
            if (sp <= 0) {
                throw new IllegalArgumentException("malformed signature line");
            }
            String sigName = rest.substring(0, sp);
            byte[] blob;
            String encoded = rest.substring(sp + 1);
            try {
                blob = Base64.getDecoder().decode(encoded);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("signature is not valid base64");
            }
            // The decoder ignores the unused low bits of the last character: require the one canonical
            // encoding, so that no changed byte of the log verifies.
            if (!Base64.getEncoder().encodeToString(blob).equals(encoded)) {
                throw new IllegalArgumentException("signature is not canonical base64");
            }
            if (blob.length < 5) {
                throw new IllegalArgumentException("signature too short");
            }
            int id = ((blob[0] & 0xFF) << 24) | ((blob[1] & 0xFF) << 16) | ((blob[2] & 0xFF) << 8) | (blob[3] & 0xFF);
            if (!sigName.equals(name) || id != keyId) {
                continue; // an unknown key: ignored, as the spec requires
            }
            if (blob.length != 68 || !verify(msg, Arrays.copyOfRange(blob, 4, 68))) {
                throw new IllegalArgumentException("the signature of key " + name + " does not verify");
            }
            verified = true;
        }
        if (!verified) {
            throw new IllegalArgumentException("the note carries no signature of key " + name
                    + "+" + HEX.toHexDigits(keyId));
        }
        return text;
    }

    private boolean verify(byte[] msg, byte[] sig) {
        Ed25519Signer v = new Ed25519Signer();
        v.init(false, new Ed25519PublicKeyParameters(publicKey, 0));
        v.update(msg, 0, msg.length);
        return v.verifySignature(sig);
    }

    /** The verifier key text; never the private key. */
    @Override
    public String toString() {
        return verifierText();
    }
}
