package io.statefulexecutor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** How the JNI library is found in the jar, extracted and cleaned up (no Redis needed). */
class NativeLibraryTest {
    @Test
    void platformNamesFollowOsNameAndOsArch() {
        assertEquals("linux-x86_64", NativeLibrary.platform("Linux", "amd64"));
        assertEquals("linux-x86_64", NativeLibrary.platform("Linux", "x86_64"));
        assertEquals("linux-aarch64", NativeLibrary.platform("Linux", "aarch64"));
        assertEquals("macos-aarch64", NativeLibrary.platform("Mac OS X", "aarch64"));
        assertEquals("macos-x86_64", NativeLibrary.platform("Mac OS X", "x86_64"));
        assertEquals("windows-x86_64", NativeLibrary.platform("Windows 11", "amd64"));
        assertEquals("freebsd-riscv64", NativeLibrary.platform("FreeBSD", "riscv64"));
        assertEquals("sunos-sparcv9", NativeLibrary.platform("SunOS", "sparcv9"));
        assertEquals("native/linux-x86_64/libstateful_executor_jni.so", NativeLibrary.resource("linux-x86_64"));
        assertEquals("native/macos-aarch64/libstateful_executor_jni.dylib", NativeLibrary.resource("macos-aarch64"));
        assertEquals("native/windows-x86_64/stateful_executor_jni.dll", NativeLibrary.resource("windows-x86_64"));
    }

    /** The jar (here target/classes, packed the same way) carries the running platform's library. */
    @Test
    void theRunningPlatformsLibraryIsAResource() throws IOException {
        try (InputStream in = NativeLibrary.currentResource()) {
            assertNotNull(in, "no resource io/statefulexecutor/" + NativeLibrary.resource(NativeLibrary.platform(
                    System.getProperty("os.name"), System.getProperty("os.arch"))));
            byte[] head = in.readNBytes(4);
            assertEquals("\u007fELF", new String(head, StandardCharsets.ISO_8859_1), "not an ELF shared library");
        }
    }

    @Test
    void aMissingPlatformNamesItselfAndTheProperty() {
        UnsatisfiedLinkError e = NativeLibrary.missing("sunos-sparcv9");
        assertTrue(e.getMessage().contains("sunos-sparcv9"), e.getMessage());
        assertTrue(e.getMessage().contains("-Dstatefulexecutor.library.path=/path/to/libstateful_executor_jni.so"),
                e.getMessage());
    }

    @Test
    void eachExtractionIsAFreshPrivateFileRemovedAfterLoading(@TempDir Path dir) throws IOException {
        byte[] library = "not really a library".getBytes(StandardCharsets.US_ASCII);
        List<Path> seen = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            NativeLibrary.extractAndLoad(new ByteArrayInputStream(library), "linux-x86_64", dir, path -> {
                Path file = Path.of(path);
                seen.add(file);
                assertEquals(dir, file.getParent());
                assertTrue(file.getFileName().toString().startsWith("libstateful_executor_jni-"), path);
                assertTrue(file.getFileName().toString().endsWith(".so"), path);
                try {
                    assertArrayEquals(library, Files.readAllBytes(file));
                    assertEquals(EnumSet.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE),
                            Files.getPosixFilePermissions(file), "readable by others: " + path);
                } catch (IOException e) {
                    throw new AssertionError(e);
                }
            });
        }
        assertEquals(2, seen.size());
        assertNotEquals(seen.get(0), seen.get(1), "two extractions shared one file name");
        for (Path file : seen) {
            assertFalse(Files.exists(file), file + " was left behind");
        }
    }

    @Test
    void aLibraryThatDoesNotLoadIsRemovedAndTheErrorSaysWhatToDo(@TempDir Path dir) throws IOException {
        List<Path> seen = new ArrayList<>();
        UnsatisfiedLinkError e = assertThrows(UnsatisfiedLinkError.class, () -> NativeLibrary.extractAndLoad(
                new ByteArrayInputStream(new byte[0]), "linux-x86_64", dir, path -> {
                    seen.add(Path.of(path));
                    // What System.load throws for a file it cannot map (a real System.load of a
                    // broken file makes JDK 17 print a misleading execstack warning on stderr).
                    throw new UnsatisfiedLinkError(path + ": file too short");
                }));
        assertEquals(1, seen.size());
        assertFalse(Files.exists(seen.get(0)), seen.get(0) + " was left behind");
        assertTrue(e.getMessage().contains("linux-x86_64"), e.getMessage());
        assertTrue(e.getMessage().contains("statefulexecutor.library.path"), e.getMessage());
        assertTrue(e.getMessage().contains("java.io.tmpdir"), e.getMessage());
        assertNotNull(e.getCause());
    }
}
