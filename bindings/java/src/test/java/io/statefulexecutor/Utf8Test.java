package io.statefulexecutor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.Jedis;

/** Real UTF-8 both ways: what Redis holds is the standard encoding, never JNI's modified UTF-8. */
class Utf8Test {
    // 1-, 2-, 3- and 4-byte characters, and U+0080 / U+07FF / U+0800 / U+FFFF / U+10000 / U+10FFFF edges.
    static final String ROCKET_UP = "🚀Up";
    static final String CJK = "聊天室-玩家";
    static final String MIXED = "aé€🚀\u0080\u07FF\u0800\uFFFF\uD800\uDC00\uDBFF\uDFFF";

    private static RedisServer server;
    private static StatefulExecutor executor;
    private static Jedis raw;

    @BeforeAll
    static void start() {
        server = RedisServer.start();
        executor = StatefulExecutor.open(server.url());
        raw = server.jedis();
    }

    @AfterAll
    static void stop() {
        executor.close();
        raw.close();
        server.close();
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void podStatesRoundTripAsStandardUtf8() {
        executor.setServiceState("u8", "chat", 0, ROCKET_UP);
        executor.setServiceState("u8", "chat", 1, CJK);
        executor.setServiceState("u8", "chat", 2, MIXED);
        assertEquals(Map.of(0, ROCKET_UP, 1, CJK, 2, MIXED), executor.getServiceState("u8", "chat"));
        assertArrayEquals(utf8(ROCKET_UP), raw.hget(utf8("sf:{u8:state:chat}"), utf8("0")));
        assertArrayEquals(utf8(MIXED), raw.hget(utf8("sf:{u8:state:chat}"), utf8("2")));
        // The raw bytes of "🚀": F0 9F 9A 80 (modified UTF-8 would be 6 bytes of surrogates).
        assertEquals(4 + 2, raw.hget(utf8("sf:{u8:state:chat}"), utf8("0")).length);
    }

    @Test
    void stateWrittenByAnotherClientIsDecoded() {
        raw.hset(utf8("sf:{u8:state:game}"), utf8("5"), utf8(MIXED));
        raw.set(utf8("sf:{u8:workload:game}"), utf8(ROCKET_UP));
        assertEquals(Map.of(5, MIXED), executor.getServiceState("u8", "game"));
        assertEquals(ROCKET_UP, executor.getWorkloadState("u8", "game"));
    }

    @Test
    void workloadStatesRoundTrip() {
        executor.setWorkloadState("u8", "a", CJK);
        executor.setWorkloadState("u8", "b", ROCKET_UP);
        assertEquals(CJK, executor.getWorkloadState("u8", "a"));
        assertEquals(Map.of("a", CJK, "b", ROCKET_UP),
                executor.getWorkloadStateBatch("u8", List.of("a", "b", "c")));
        assertArrayEquals(utf8(CJK), raw.get(utf8("sf:{u8:workload:a}")));
    }

    @Test
    void emojiAndCjkUidsKeyTheSameBytesAsOtherClients() {
        String uid = "玩家🚀42";
        executor.setLinkedPod("u8", uid, "chat", 3, -1);
        byte[] hash = utf8("sf:{u8:lk:" + uid + "}");
        byte[] link = utf8("sf:{u8:lk:" + uid + "}chat");
        assertArrayEquals(utf8("3"), raw.get(link));
        assertArrayEquals(utf8("3"), raw.hget(hash, utf8("chat")));
        assertEquals(3, executor.getLinkedPod("u8", uid, "chat"));
        assertEquals(Map.of(3, List.of(uid, "用户")),
                withLink("用户", 3, () -> executor.batchGetLinkedPod("u8", List.of(uid, "用户", "🙂"), "chat")));
        assertEquals(Map.of("chat", 3), executor.getLinkService("u8", uid));
        assertEquals(true, executor.removeLinkedPod("u8", uid, "chat", 0));
        assertEquals(-1, executor.getLinkedPod("u8", uid, "chat"));
    }

    private static <T> T withLink(String uid, int pod, java.util.function.Supplier<T> then) {
        raw.set(utf8("sf:{u8:lk:" + uid + "}chat"), utf8(Integer.toString(pod)));
        return then.get();
    }

    @Test
    void namespacesAndServicesBeyondAscii() {
        // The 0.2 naming rules: any UTF-8 without braces or control characters (no ':' in a namespace).
        executor.setServiceState("prod/eu", "聊天", 0, ROCKET_UP);
        executor.setWorkloadState("prod/eu", "chat:v2", "可用");
        executor.setLinkedPod("prod/eu", "玩家", "game/room", 2, -1);
        assertEquals(Map.of(0, ROCKET_UP), executor.getServiceState("prod/eu", "聊天"));
        assertArrayEquals(utf8(ROCKET_UP), raw.hget(utf8("sf:{prod/eu:state:聊天}"), utf8("0")));
        assertEquals(Map.of("chat:v2", "可用"), executor.getWorkloadStateBatch("prod/eu", List.of("chat:v2", "聊天")));
        assertEquals(Map.of("game/room", 2), executor.getLinkService("prod/eu", "玩家"));
        assertArrayEquals(utf8("2"), raw.get(utf8("sf:{prod/eu:lk:玩家}game/room")));
    }

    @Test
    void longStatesCrossTheInlineBufferSize() {
        String big = "🚀".repeat(1000) + "é".repeat(24); // 4048 bytes, over the glue's 1 KiB stack buffer
        executor.setServiceState("u8", "big", 1, big);
        assertEquals(big, executor.getServiceState("u8", "big").get(1));
        StatefulExecutorException tooLong = assertThrows(StatefulExecutorException.class,
                () -> executor.setServiceState("u8", "big", 1, "🚀".repeat(1025)));
        assertEquals(Status.INVALID_ARGUMENT, tooLong.status());
    }

    @Test
    void encoderMatchesTheJdkForValidStrings() {
        for (String s : List.of("", "plain", ROCKET_UP, CJK, MIXED, "\u00ff\u0100")) {
            byte[] packed = Utf8.z("s", s);
            byte[] expected = utf8(s);
            assertEquals(expected.length + 1, packed.length);
            assertArrayEquals(expected, java.util.Arrays.copyOf(packed, expected.length));
            assertEquals(0, packed[expected.length]);
        }
    }
}
