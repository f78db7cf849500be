package io.statefulexecutor;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Objects;

/**
 * Arguments for the native glue: real UTF-8 (never JNI's modified UTF-8), each string followed
 * by a NUL, several strings packed into one array so that a call crosses JNI with one array.
 * A NUL character or an unpaired surrogate cannot be encoded faithfully, so it is refused here,
 * before anything is sent.
 */
final class Utf8 {
    private Utf8() {}

    /** The UTF-8 length of {@code value}; refuses NUL characters and unpaired surrogates. */
    static int encodedLength(String name, String value) {
        return encodedLength(name, -1, value);
    }

    /** The same for element {@code item} of a list named {@code name} (-1: not a list). */
    static int encodedLength(String name, int item, String value) {
        if (value == null) {
            throw new NullPointerException(label(name, item));
        }
        int chars = value.length();
        int bytes = chars;
        for (int i = 0; i < chars; i++) {
            char c = value.charAt(i);
            if (c < 0x80) {
                if (c == 0) {
                    throw invalid(label(name, item), "a NUL character", i);
                }
            } else if (c < 0x800) {
                bytes += 1;
            } else if (!Character.isSurrogate(c)) {
                bytes += 2;
            } else if (Character.isHighSurrogate(c)
                    && i + 1 < chars
                    && Character.isLowSurrogate(value.charAt(i + 1))) {
                bytes += 2; // two chars, four bytes
                i++;
            } else {
                throw invalid(label(name, item), "an unpaired surrogate", i);
            }
        }
        return bytes;
    }

    /**
     * Writes {@code value} (already measured: {@code bytes} from {@link #encodedLength}) at
     * {@code pos}; returns the position after it.
     */
    @SuppressWarnings("deprecation") // String.getBytes(int, int, byte[], int): an intrinsic copy for ASCII
    static int write(String value, int bytes, byte[] dst, int pos) {
        int chars = value.length();
        if (bytes == chars) {
            value.getBytes(0, chars, dst, pos);
            return pos + chars;
        }
        for (int i = 0; i < chars; i++) {
            char c = value.charAt(i);
            if (c < 0x80) {
                dst[pos++] = (byte) c;
            } else if (c < 0x800) {
                dst[pos++] = (byte) (0xC0 | (c >> 6));
                dst[pos++] = (byte) (0x80 | (c & 0x3F));
            } else if (!Character.isSurrogate(c)) {
                dst[pos++] = (byte) (0xE0 | (c >> 12));
                dst[pos++] = (byte) (0x80 | ((c >> 6) & 0x3F));
                dst[pos++] = (byte) (0x80 | (c & 0x3F));
            } else {
                int cp = Character.toCodePoint(c, value.charAt(++i));
                dst[pos++] = (byte) (0xF0 | (cp >> 18));
                dst[pos++] = (byte) (0x80 | ((cp >> 12) & 0x3F));
                dst[pos++] = (byte) (0x80 | ((cp >> 6) & 0x3F));
                dst[pos++] = (byte) (0x80 | (cp & 0x3F));
            }
        }
        return pos;
    }

    /** One string, NUL-terminated. */
    static byte[] z(String name, String value) {
        int n = encodedLength(name, value);
        byte[] out = new byte[n + 1];
        write(value, n, out, 0);
        return out;
    }

    /** Two strings, each NUL-terminated, one after the other. */
    static byte[] pack(String name1, String value1, String name2, String value2) {
        int n1 = encodedLength(name1, value1);
        int n2 = encodedLength(name2, value2);
        byte[] out = new byte[n1 + n2 + 2];
        write(value2, n2, out, write(value1, n1, out, 0) + 1);
        return out;
    }

    /** Three strings, each NUL-terminated, one after the other. */
    static byte[] pack(
            String name1, String value1, String name2, String value2, String name3, String value3) {
        int n1 = encodedLength(name1, value1);
        int n2 = encodedLength(name2, value2);
        int n3 = encodedLength(name3, value3);
        byte[] out = new byte[n1 + n2 + n3 + 3];
        int pos = write(value1, n1, out, 0) + 1;
        pos = write(value2, n2, out, pos) + 1;
        write(value3, n3, out, pos);
        return out;
    }

    /**
     * The fixed leading strings ({@code head}, names and values alternating), then every string of
     * {@code items} (a snapshot the caller keeps using, so the count cannot change under it), each
     * NUL-terminated.
     */
    static byte[] packWithList(String listName, String[] items, String... head) {
        int count = items.length;
        int[] lengths = new int[head.length / 2 + count];
        int total = 0;
        int k = 0;
        for (int i = 0; i < head.length; i += 2) {
            total += (lengths[k++] = encodedLength(head[i], head[i + 1])) + 1;
        }
        for (int i = 0; i < count; i++) {
            total += (lengths[k++] = encodedLength(listName, i, items[i])) + 1;
        }
        byte[] out = new byte[total];
        int pos = 0;
        k = 0;
        for (int i = 0; i < head.length; i += 2) {
            pos = write(head[i + 1], lengths[k++], out, pos) + 1;
        }
        for (int i = 0; i < count; i++) {
            pos = write(items[i], lengths[k++], out, pos) + 1;
        }
        return out;
    }

    /** A snapshot of a list argument; NullPointerException named after it when it is null. */
    static String[] snapshot(String listName, List<String> items) {
        return Objects.requireNonNull(items, listName).toArray(new String[0]);
    }

    private static String label(String name, int item) {
        return item < 0 ? name : name + "[" + item + "]";
    }

    static String decode(byte[] bytes, int offset, int length) {
        return new String(bytes, offset, length, StandardCharsets.UTF_8);
    }

    static StatefulExecutorException invalid(String name, String what, int index) {
        return new StatefulExecutorException(
                Status.INVALID_ARGUMENT,
                name + " holds " + what + " at index " + index + ", which UTF-8 cannot carry");
    }
}
