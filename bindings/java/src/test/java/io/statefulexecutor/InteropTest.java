package io.statefulexecutor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Data written from Java is read through the C API (and so by the Rust core that every binding
 * shares), and the other way round, on one server. The C peer is target/interop/interop_peer,
 * built by make java-native.
 */
class InteropTest {
    private static final Path PEER = Path.of(System.getProperty("sf.interopPeer", "target/interop/interop_peer"));

    private static RedisServer server;
    private static StatefulExecutor executor;

    @BeforeAll
    static void start() {
        assertTrue(Files.isExecutable(PEER), PEER.toAbsolutePath() + " is missing: run make java-native");
        server = RedisServer.start();
        executor = StatefulExecutor.open(server.url());
    }

    @AfterAll
    static void stop() {
        executor.close();
        server.close();
    }

    /** Runs the C peer; returns its standard output (UTF-8) as lines. */
    private static List<String> peer(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(PEER.toString());
        command.add(server.url());
        command.addAll(List.of(args));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        byte[] out = process.getInputStream().readAllBytes();
        int code = process.waitFor();
        String text = new String(out, StandardCharsets.UTF_8);
        assertEquals(0, code, "interop_peer " + String.join(" ", args) + ": " + text);
        return text.isEmpty() ? List.of() : List.of(text.split("\n"));
    }

    @Test
    void linksWrittenInJavaAreReadInCAndBack() throws Exception {
        executor.setLinkedPod("interop", "玩家🚀1", "chat", 4, -1);
        executor.setLinkedPod("interop", "玩家🚀1", "game", 2, -1);
        assertEquals(List.of("4"), peer("get-link", "interop", "玩家🚀1", "chat"));
        assertEquals(List.of("chat 4", "game 2"), peer("get-links", "interop", "玩家🚀1"));

        assertEquals(List.of("-1"), peer("set-link", "interop", "用户-2", "chat", "9", "-1"));
        assertEquals(9, executor.getLinkedPodIfPersist("interop", "用户-2", "chat"));
        assertEquals(List.of("9"), peer("set-link", "interop", "用户-2", "chat", "3", "60"));
        assertEquals(3, executor.getLinkedPod("interop", "用户-2", "chat"));
        assertEquals(-1, executor.getLinkedPodIfPersist("interop", "用户-2", "chat"));
        assertEquals(Map.of(3, List.of("用户-2"), 4, List.of("玩家🚀1")),
                executor.batchGetLinkedPod("interop", List.of("玩家🚀1", "用户-2"), "chat"));
    }

    @Test
    void statesWrittenInJavaAreReadInCAndBack() throws Exception {
        executor.setServiceState("interop", "chat", 1, "🚀Up");
        executor.setServiceState("interop", "chat", 0, "运行中");
        assertEquals(List.of("0 运行中", "1 🚀Up"), peer("get-states", "interop", "chat"));
        peer("set-state", "interop", "chat", "7", "Ready ✅");
        assertEquals(Map.of(0, "运行中", 1, "🚀Up", 7, "Ready ✅"), executor.getServiceState("interop", "chat"));

        assertEquals(List.of(), peer("get-workload", "interop", "chat"));
        executor.setWorkloadState("interop", "chat", "可用🙂");
        assertEquals(List.of("可用🙂"), peer("get-workload", "interop", "chat"));
        peer("set-workload", "interop", "game", "READY 🎮");
        assertEquals("READY 🎮", executor.getWorkloadState("interop", "game"));
        assertNull(executor.getWorkloadState("interop", "none"));
    }
}
