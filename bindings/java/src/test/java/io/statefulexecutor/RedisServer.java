package io.statefulexecutor;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import redis.clients.jedis.Jedis;

/** A throwaway redis-server on a free loopback port in a temporary directory. */
final class RedisServer implements AutoCloseable {
    final int port;
    final Path dir;
    private final Process process;

    private RedisServer(int port, Path dir, Process process) {
        this.port = port;
        this.dir = dir;
        this.process = process;
    }

    static RedisServer start(String... extraArgs) {
        return startWith(port -> List.of(extraArgs));
    }

    /**
     * The server program: $REDIS_SERVER when set, else valkey-server when SF_TEST_SERVER=valkey
     * (the one switch for running the suite against Valkey), else redis-server.
     */
    static String serverBinary() {
        String binary = System.getenv("REDIS_SERVER");
        if (binary != null && !binary.isEmpty()) {
            return binary;
        }
        return "valkey".equals(System.getenv("SF_TEST_SERVER")) ? "valkey-server" : "redis-server";
    }

    /** A server with extra arguments that may depend on its port (given; e.g. a TLS port). */
    static RedisServer startWith(java.util.function.IntFunction<List<String>> extraArgs) {
        try {
            Path dir = Files.createTempDirectory("sf-java-redis-");
            int port = freePort();
            List<String> command = new ArrayList<>(List.of(
                    serverBinary(), "--port", Integer.toString(port), "--bind", "127.0.0.1",
                    "--save", "", "--appendonly", "no", "--dir", dir.toString(),
                    "--logfile", dir.resolve("redis.log").toString()));
            command.addAll(extraArgs.apply(port));
            Process process = new ProcessBuilder(command)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .redirectError(ProcessBuilder.Redirect.DISCARD)
                    .start();
            RedisServer server = new RedisServer(port, dir, process);
            server.awaitListening();
            return server;
        } catch (IOException e) {
            throw new IllegalStateException("cannot start redis-server", e);
        }
    }

    static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket()) {
            socket.bind(new InetSocketAddress("127.0.0.1", 0));
            return socket.getLocalPort();
        }
    }

    private void awaitListening() {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("redis-server exited: " + log());
            }
            try (Socket socket = new Socket()) {
                socket.connect(new InetSocketAddress("127.0.0.1", port), 200);
                return;
            } catch (IOException notYet) {
                sleep(20);
            }
        }
        throw new IllegalStateException("redis-server did not listen on " + port + ": " + log());
    }

    String url() {
        return "redis://127.0.0.1:" + port;
    }

    /** A raw client, to look at the keys behind the library's back. */
    Jedis jedis() {
        return new Jedis("127.0.0.1", port);
    }

    /** A numeric field of the server's INFO, e.g. {@code info(raw, "stats", "total_commands_processed")}. */
    static long info(Jedis raw, String section, String field) {
        for (String line : raw.info(section).split("\r\n")) {
            if (line.startsWith(field + ":")) {
                return Long.parseLong(line.substring(field.length() + 1).trim());
            }
        }
        throw new IllegalStateException("no " + field + " in INFO " + section);
    }

    String log() {
        try {
            return Files.readString(dir.resolve("redis.log"));
        } catch (IOException e) {
            return "(no log)";
        }
    }

    /**
     * Freezes the server (SIGSTOP): its connections stay open and accept bytes, but nothing is
     * answered until {@link #thaw()}.
     */
    void freeze() {
        signal("STOP");
    }

    void thaw() {
        signal("CONT");
    }

    private void signal(String name) {
        try {
            Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(process.pid())).inheritIO().start();
            if (kill.waitFor() != 0) {
                throw new IllegalStateException("kill -" + name + " failed");
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Stops the server (the directory stays until close). */
    void kill() {
        process.destroyForcibly();
        try {
            process.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        kill();
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // a leftover temp dir is harmless
        }
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
