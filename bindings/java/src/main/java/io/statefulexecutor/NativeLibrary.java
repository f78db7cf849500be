package io.statefulexecutor;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;
import java.util.function.Consumer;

/**
 * Finds and loads the JNI library (the glue and the Rust core in one self-contained shared
 * library). The jar carries one per platform, as the resource {@code
 * io/statefulexecutor/native/<os>-<arch>/<library>}, e.g. {@code
 * native/linux-x86_64/libstateful_executor_jni.so}; the one for the running JVM's {@code os.name}
 * and {@code os.arch} is copied to a fresh temporary file, loaded, and the file removed. The system
 * property {@value #PATH_PROPERTY} loads a library file instead (a platform the jar lacks, or a
 * library built locally).
 */
final class NativeLibrary {
    private NativeLibrary() {}

    /** Set to a file path to load that library instead of the one inside the jar. */
    static final String PATH_PROPERTY = "statefulexecutor.library.path";

    /** Loads the library once per class loader (called from {@link Native}'s initializer). */
    static void load() {
        String override = System.getProperty(PATH_PROPERTY);
        if (override != null && !override.isEmpty()) {
            Path file = Path.of(override).toAbsolutePath();
            if (!Files.isRegularFile(file)) {
                throw new UnsatisfiedLinkError(
                        "-D" + PATH_PROPERTY + "=" + override + " names no file (" + file + ")");
            }
            System.load(file.toString());
            return;
        }
        String platform = platform(System.getProperty("os.name", ""), System.getProperty("os.arch", ""));
        String resource = resource(platform);
        try (InputStream in = NativeLibrary.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw missing(platform);
            }
            extractAndLoad(in, platform, Path.of(System.getProperty("java.io.tmpdir")), NativeLibrary::systemLoad);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the stateful-executor native library " + resource, e);
        }
    }

    /** System.load from a named method, so that JDK messages about the call name this class. */
    private static void systemLoad(String path) {
        System.load(path);
    }

    /**
     * The platform's folder name: {@code linux}, {@code macos} or {@code windows} (else os.name in
     * lower case, letters and digits only), a dash, and {@code x86_64} or {@code aarch64} (else
     * os.arch in lower case).
     */
    static String platform(String osName, String osArch) {
        String os = osName.toLowerCase(Locale.ROOT);
        String osPart;
        if (os.startsWith("linux")) {
            osPart = "linux";
        } else if (os.startsWith("mac") || os.startsWith("darwin")) {
            osPart = "macos";
        } else if (os.startsWith("windows")) {
            osPart = "windows";
        } else {
            osPart = os.replaceAll("[^a-z0-9]", "");
        }
        String arch = osArch.toLowerCase(Locale.ROOT);
        String archPart =
                switch (arch) {
                    case "amd64", "x86_64", "x86-64" -> "x86_64";
                    case "aarch64", "arm64" -> "aarch64";
                    default -> arch.replaceAll("[^a-z0-9_]", "");
                };
        return osPart + "-" + archPart;
    }

    /** The library's file name on a platform (the JVM's System.mapLibraryName convention). */
    static String fileName(String platform) {
        if (platform.startsWith("windows-")) {
            return "stateful_executor_jni.dll";
        }
        if (platform.startsWith("macos-")) {
            return "libstateful_executor_jni.dylib";
        }
        return "libstateful_executor_jni.so";
    }

    /** The resource path, relative to this class's package. */
    static String resource(String platform) {
        return "native/" + platform + "/" + fileName(platform);
    }

    /** The error for a platform the jar has no library for: it names the platform and the way out. */
    static UnsatisfiedLinkError missing(String platform) {
        return new UnsatisfiedLinkError(
                "stateful-executor has no native library for " + platform + " in its jar (no resource "
                        + "io/statefulexecutor/" + resource(platform) + "). Build "
                        + fileName(platform) + " for " + platform
                        + " (make java-native in the source repository) and point the system property "
                        + PATH_PROPERTY + " at it: java -D" + PATH_PROPERTY + "=/path/to/"
                        + fileName(platform) + " ...");
    }

    /**
     * Copies the library to a new file in {@code dir} that only this user can read (a unique name
     * from {@link Files#createTempFile}, never an existing file another user could have planted),
     * hands its path to {@code loader}, then removes the file whatever happened: once loaded, the
     * process keeps its mapping, so the file is not needed. Where the file cannot be removed while
     * loaded (Windows), it is removed when the JVM exits.
     */
    static void extractAndLoad(InputStream in, String platform, Path dir, Consumer<String> loader)
            throws IOException {
        String name = fileName(platform);
        int dot = name.lastIndexOf('.');
        Path file = Files.createTempFile(dir, name.substring(0, dot) + "-", name.substring(dot));
        try {
            // Into the file just created, keeping its owner-only permissions (Files.copy with
            // REPLACE_EXISTING would delete it and create another with the umask's).
            try (OutputStream out = Files.newOutputStream(file, StandardOpenOption.WRITE)) {
                in.transferTo(out);
            }
            try {
                loader.accept(file.toString());
            } catch (UnsatisfiedLinkError e) {
                UnsatisfiedLinkError wrapped = new UnsatisfiedLinkError(
                        "cannot load the stateful-executor native library for " + platform + " copied to " + file
                                + ": " + e.getMessage() + " (is " + dir + " mounted noexec? Set java.io.tmpdir to "
                                + "another directory, or " + PATH_PROPERTY + " to a library file)");
                wrapped.initCause(e);
                throw wrapped;
            }
        } finally {
            try {
                Files.deleteIfExists(file);
            } catch (IOException e) {
                file.toFile().deleteOnExit();
            }
        }
    }

    /** For tests: what {@link #load} would extract for the running JVM, or null. */
    static InputStream currentResource() {
        return NativeLibrary.class.getResourceAsStream(
                resource(platform(System.getProperty("os.name", ""), System.getProperty("os.arch", ""))));
    }
}
